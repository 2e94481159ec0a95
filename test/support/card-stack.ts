import type Stripe from 'stripe';
import { StripeGateway, stripeClient as gatewayClient } from '../../payments/stripe-gateway';
import { startStripeEmulator } from '../../scripts/stripe-emulator';
import { freePort } from '../../scripts/wait-for-port';
import { registerEmulatorWebhook, stripeClient } from './stripe';
import { timeSkippingStack, type TimeSkippingStack } from './time-skipping-stack';
import { invoiceWorkflowId } from '../../workflows/messages';

export interface CardStack {
  stack: TimeSkippingStack;
  /** The emulator as a customer's browser or a test reaches it: cards, charges. */
  stripe: Stripe;
  /** A customer (with these extra fields) whose default payment method is the card `number`. */
  customerWithCard(number: string, fields?: Record<string, unknown>): Promise<string>;
  /** Ends a scenario: `workflowIds` and every invoice's collection, each once idle. */
  endScenario(workflowIds: string[]): Promise<void>;
  stop(): Promise<void>;
}

let customers = 0;

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
  const stripe = stripeClient(emulator.apiBase);
  return {
    stack,
    stripe,
    async customerWithCard(number, fields = {}) {
      const n = ++customers;
      const customer = await stack.api.post('/v1/customers', { name: `Payer ${n}`, email: `payer${n}@example.test`, currency: 'USD', ...fields });
      if (customer.status !== 201) throw new Error(`customer not created: ${JSON.stringify(customer.body)}`);
      const method = await stripe.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });
      const attached = await stack.api.post(`/v1/customers/${customer.body.id}/payment_methods`, { payment_method: method.id });
      if (attached.status !== 201) throw new Error(`card not attached: ${JSON.stringify(attached.body)}`);
      return customer.body.id;
    },
    async endScenario(workflowIds) {
      const invoices = await stack.db.orm.em.fork().execute<Array<{ id: string }>>('select id from invoices');
      await stack.terminateWhenIdle([...workflowIds, ...invoices.map((i) => invoiceWorkflowId(i.id))], 'scenario finished');
    },
    async stop() {
      await stack.stop();
      await emulator.stop();
    },
  };
}
