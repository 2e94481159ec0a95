// HMAC is a pure function of its inputs; node:crypto is used for nothing else here.
// eslint-disable-next-line no-restricted-imports
import { createHmac } from 'node:crypto';

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): each secret signs
 * `<webhook-id>.<webhook-timestamp>.<body>` with HMAC-SHA256, and the `webhook-signature` header lists
 * every signature, space-separated, as `v1,<base64>`. A receiver accepts the message when any one
 * matches, which is how a rotated secret and its predecessor both verify for a while.
 */
export function signatures(secrets: readonly string[], id: string, timestamp: number, body: string): string {
  return secrets.map((secret) => `v1,${createHmac('sha256', signingKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64')}`).join(' ');
}

/**
 * The key a secret stands for. `whsec_<base64>` is the form Perennial makes (and the reference
 * libraries expect: `new Webhook(secret)`); any other string (a PROVISIONING_WEBHOOK_SECRET chosen
 * by hand) is used as its own bytes, as the libraries' raw format takes it: `new Webhook(secret, { format: 'raw' })`.
 */
export function signingKey(secret: string): Buffer {
  return secret.startsWith(WEBHOOK_SECRET_PREFIX) ? Buffer.from(secret.slice(WEBHOOK_SECRET_PREFIX.length), 'base64') : Buffer.from(secret, 'utf8');
}

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
