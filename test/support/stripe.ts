import Stripe from 'stripe';

/**
 * A Stripe SDK client for the emulator at `apiBase` (scripts/stripe-emulator.ts). The SDK's own
 * retries are off unless asked for, so a test sees each answer the emulator (or a fault-injecting
 * proxy in front of it) gives; localstripe accepts any key starting with `sk_`, and the emulator keeps
 * idempotency keys apart per API key, as Stripe keeps them per account.
 */
export function stripeClient(apiBase: string, options: { apiKey?: string; maxNetworkRetries?: number; timeoutMs?: number } = {}): Stripe {
  const url = new URL(apiBase);
  return new Stripe(options.apiKey ?? 'sk_test_perennial', {
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
    protocol: url.protocol === 'https:' ? 'https' : 'http',
    maxNetworkRetries: options.maxNetworkRetries ?? 0,
    timeout: options.timeoutMs ?? 20_000,
    telemetry: false,
  });
}

/**
 * Registers (or replaces) a webhook endpoint with localstripe's own `/_config` route: it then POSTs
 * every event of `events` (all when omitted) to `url`, signed with `secret`, once, about a second
 * after the event happened, and never retries.
 */
export async function registerEmulatorWebhook(apiBase: string, id: string, endpoint: { url: string; secret: string; events?: string[] }): Promise<void> {
  const response = await fetch(`${apiBase}/_config/webhooks/${encodeURIComponent(id)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(endpoint),
  });
  if (!response.ok) throw new Error(`localstripe refused the webhook ${id}: HTTP ${response.status} ${await response.text()}`);
}

/**
 * Forgets every object localstripe holds (customers, payments, events) and the answers the front
 * saved under idempotency keys; webhooks stay registered.
 */
export async function flushEmulator(apiBase: string): Promise<void> {
  const response = await fetch(`${apiBase}/_config/data`, { method: 'DELETE' });
  if (!response.ok) throw new Error(`localstripe refused to flush its data: HTTP ${response.status}`);
}

/**
 * Completes (or fails) the 3-D Secure authentication a PaymentIntent in requires_action waits for,
 * through localstripe's own route, as the customer would on Stripe's page. Success charges the card
 * (payment_intent.succeeded follows); failure leaves requires_payment_method and sends no event. See
 * the notes in scripts/stripe-emulator.ts.
 */
export async function authenticatePaymentIntent(
  apiBase: string,
  intent: { id: string; client_secret: string | null },
  success: boolean,
  apiKey = 'sk_test_perennial',
): Promise<{ status: number; body: any }> {
  const response = await fetch(`${apiBase}/v1/payment_intents/${encodeURIComponent(intent.id)}/_authenticate`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${apiKey}` },
    body: new URLSearchParams({ client_secret: intent.client_secret ?? '', success: String(success) }).toString(),
  });
  return { status: response.status, body: await response.json() };
}
