import Stripe from 'stripe';

/**
 * A Stripe SDK client for the emulator at `apiBase` (scripts/stripe-emulator.ts). The SDK's own
 * retries are off unless asked for, so a test sees each answer the emulator (or a fault-injecting
 * proxy in front of it) gives; localstripe accepts any key starting with `sk_`.
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

/** Forgets every object localstripe holds (customers, payments, events); webhooks stay registered. */
export async function flushEmulator(apiBase: string): Promise<void> {
  const response = await fetch(`${apiBase}/_config/data`, { method: 'DELETE' });
  if (!response.ok) throw new Error(`localstripe refused to flush its data: HTTP ${response.status}`);
}
