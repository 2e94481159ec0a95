import type Stripe from 'stripe';
import { StripeGateway, stripeClient as gatewayClient } from '../../payments/stripe-gateway';
import { startStripeEmulator } from '../../scripts/stripe-emulator';
import { freePort } from '../../scripts/wait-for-port';
import { registerEmulatorWebhook, stripeClient } from './stripe';
import { timeSkippingStack, type TimeSkippingStack } from './time-skipping-stack';

export interface CardStack {
  stack: TimeSkippingStack;
  /** The emulator as a customer's browser or a test reaches it: cards, charges. */
  stripe: Stripe;
  stop(): Promise<void>;
}

/**
 * A time-skipping stack that collects by card: its worker and API use a Stripe emulator of their own,
 * whose webhooks reach the API signed as Stripe signs them.
 */
export async function cardTimeSkippingStack(label: string): Promise<CardStack> {
  const secret = `whsec_${label}_suite`;
  const emulator = await startStripeEmulator({ port: await freePort(), quiet: true });
  const gateway = new StripeGateway(gatewayClient({ secretKey: `sk_test_${label}`, webhookSecret: secret, apiBase: emulator.apiBase }));
  const stack = await timeSkippingStack(label, { stripe: { gateway, webhookSecret: secret } });
  await registerEmulatorWebhook(emulator.apiBase, 'perennial', { url: `${stack.baseUrl}/webhooks/stripe`, secret });
  return {
    stack,
    stripe: stripeClient(emulator.apiBase),
    async stop() {
      await stack.stop();
      await emulator.stop();
    },
  };
}
