import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Stripe from 'stripe';
import { startStripeEmulator, type StripeEmulator } from '../../scripts/stripe-emulator';
import { freePort } from '../../scripts/wait-for-port';
import type { PerennialClient, Schemas } from '../../client';
import { typedClient } from '../support/http';
import { errorLines, eventually, freeStackPorts, leftoverProcesses, portIsOpen, startNpmStart, stopNpmStart, type RunningStack, type StackPorts } from '../support/npm-start';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp';
import { registerEmulatorWebhook, stripeClient } from '../support/stripe';

/**
 * Card collection on the stack exactly as `npm start` runs it, with STRIPE_* pointing at the Stripe
 * emulator (localstripe behind its idempotency front) and SMTP at a real sink, driven over HTTP only:
 * the API, and the Stripe SDK against the emulator for what a customer's browser does (creating a
 * PaymentMethod). What Stripe holds is read from the emulator; what Perennial did, from its API.
 */
const DAY = 86_400_000;
const SECRET_KEY = `sk_test_e2e_${randomBytes(8).toString('hex')}`;
const WEBHOOK_SECRET = `whsec_${randomBytes(16).toString('hex')}`;

interface Delivery {
  body: string;
  signature: string;
  event: { id: string; type: string; data: { object: { id: string; metadata?: Record<string, string> } } };
}

/**
 * A second webhook endpoint on the emulator, registered after the API's. localstripe delivers an
 * event to its endpoints one after the other, each after the previous one answered, so an event
 * seen here has already been answered by the API; and, signed with the same secret, a copy the API
 * can be sent again to show whether it recorded the event.
 */
async function startWitness(): Promise<{ url: string; deliveries: Delivery[]; close(): Promise<void> }> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      deliveries.push({ body, signature: String(req.headers['stripe-signature'] ?? ''), event: JSON.parse(body) });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/stripe-events`,
    deliveries,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

describe('npm start with Stripe: card collection end to end', () => {
  let workDir: string;
  let emulator: StripeEmulator | undefined;
  let smtp: TestSmtpServer | undefined;
  let witness: Awaited<ReturnType<typeof startWitness>> | undefined;
  let ports: StackPorts;
  let stack: RunningStack | undefined;
  let api: PerennialClient;
  let stripe: Stripe;

  /** The renewal scenario's results, which the refund scenario builds on. */
  let renewal: { stripeCustomer: string; invoices: Array<Schemas['Invoice']> } | undefined;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'perennial-e2e-stripe-'));
    emulator = await startStripeEmulator({ port: await freePort(), logFile: join(workDir, 'localstripe.log') });
    smtp = await startSmtpServer();
    witness = await startWitness();
    ports = await freeStackPorts();
    // Registered before the stack starts: the API's endpoint is known from its port.
    await registerEmulatorWebhook(emulator.apiBase, 'perennial-api', { url: `http://127.0.0.1:${ports.api}/webhooks/stripe`, secret: WEBHOOK_SECRET });
    await registerEmulatorWebhook(emulator.apiBase, 'witness', { url: witness.url, secret: WEBHOOK_SECRET });
    stack = await startNpmStart({
      dataDir: join(workDir, 'data'),
      ports,
      env: {
        STRIPE_SECRET_KEY: SECRET_KEY,
        STRIPE_API_BASE: emulator.apiBase,
        STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
        SMTP_URL: smtp.url,
        EMAIL_FROM: 'billing@perennial.test',
      },
    });
    api = typedClient(stack.apiBase, stack.adminKey);
    stripe = stripeClient(emulator.apiBase, { apiKey: SECRET_KEY });
    // A cold start bundles the workflows: well under a minute on an idle machine, more on a loaded one.
  }, 240_000);

  afterAll(async () => {
    if (stack && !stack.hasExited()) {
      const stopped = await stopNpmStart(stack);
      if (stopped.code !== 0) console.error(`npm start ended with ${stopped.code}:\n${stack.output()}`);
    }
    await witness?.close();
    await smtp?.close();
    await emulator?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  /** A card as the customer's browser creates it with Stripe.js, and attaches it through the API. */
  async function attachCard(customerId: string, number: string): Promise<{ paymentMethod: string; stripeCustomer: string }> {
    const card = await stripe.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });
    const attached = await api.POST('/v1/customers/{id}/payment_methods', { params: { path: { id: customerId } }, body: { payment_method: card.id } });
    expect(attached.response.status).toBe(201);
    expect(attached.data!.default_payment_method).toBe(card.id);
    const stripeCustomer = (await stripe.paymentMethods.retrieve(card.id)).customer;
    if (typeof stripeCustomer !== 'string') throw new Error(`payment method ${card.id} was not attached to a Stripe customer`);
    return { paymentMethod: card.id, stripeCustomer };
  }

  /** The emulator's charges of a Stripe customer, by the invoice their PaymentIntent names. */
  async function chargesByInvoice(stripeCustomer: string): Promise<Map<string, Stripe.Charge[]>> {
    const byInvoice = new Map<string, Stripe.Charge[]>();
    for (const charge of (await stripe.charges.list({ customer: stripeCustomer, limit: 100 })).data) {
      const intentId = typeof charge.payment_intent === 'string' ? charge.payment_intent : charge.payment_intent?.id;
      const invoiceId = intentId ? ((await stripe.paymentIntents.retrieve(intentId)).metadata.invoice_id ?? 'none') : 'none';
      byInvoice.set(invoiceId, [...(byInvoice.get(invoiceId) ?? []), charge]);
    }
    return byInvoice;
  }

  const deliveriesOf = (type: string, invoiceId: string): Delivery[] =>
    witness!.deliveries.filter((d) => d.event.type === type && d.event.data.object.metadata?.invoice_id === invoiceId);

  /** Sends an event the emulator delivered to the API once more, byte for byte with its signature. */
  async function redeliver(delivery: Delivery): Promise<{ status: number; body: any }> {
    const response = await fetch(`${stack!.apiBase}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': delivery.signature },
      body: delivery.body,
    });
    return { status: response.status, body: await response.json() };
  }

  const mailTo = (address: string, subject: RegExp) => smtp!.received.filter((m) => m.rcptTo.includes(address) && subject.test(m.headers.subject ?? ''));

  async function balance(account: string, currency: string): Promise<{ debits: string; credits: string; balance: string } | undefined> {
    const balances = await api.GET('/v1/ledger/balances');
    expect(balances.response.status).toBe(200);
    return balances.data!.data.find((b) => b.account === account && b.currency === currency);
  }

  it('takes Stripe webhooks: without a signature a 400, not the 404 of an API that was not given Stripe', async () => {
    const unsigned = await fetch(`${stack!.apiBase}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"id":"evt_unsigned"}' });
    expect(unsigned.status).toBe(400);
    expect(((await unsigned.json()) as any).error.code).toBe('signature_missing');
    const forged = await fetch(`${stack!.apiBase}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': `t=${Math.floor(Date.now() / 1000)},v1=${'0'.repeat(64)}` },
      body: '{"id":"evt_forged"}',
    });
    expect(forged.status).toBe(400);
    expect(((await forged.json()) as any).error.code).toBe('signature_invalid');
  });

  it('charges the card at the start and again on renewal, once per invoice, and records each webhook once', async () => {
    const email = 'ap@renewal.test';
    const customer = await api.POST('/v1/customers', { body: { name: 'Renewal Inc', email, currency: 'USD' } });
    expect(customer.response.status).toBe(201);
    const { stripeCustomer } = await attachCard(customer.data!.id, '4242424242424242');
    expect((await api.POST('/v1/plans', { body: { code: 'daily-usd', name: 'Daily', currency: 'USD', interval: 'day', amount: '12.00' } })).response.status).toBe(201);

    // A day is the shortest interval: started a day ago less 15 s, the first period is billed at once
    // and the second 15 s from now, by the workflow's own timer.
    const startAt = new Date(Math.floor((Date.now() - DAY + 15_000) / 1000) * 1000);
    const subscription = await api.POST('/v1/subscriptions', { body: { customer_id: customer.data!.id, plan_code: 'daily-usd', start_at: startAt.toISOString() } });
    expect(subscription.response.status).toBe(201);
    const id = subscription.data!.id;

    const invoices = await eventually(
      'the first and the renewal invoice, both paid',
      async () => {
        const list = await api.GET('/v1/invoices', { params: { query: { subscription_id: id, limit: 100 } } });
        const data = [...list.data!.data].reverse();
        return data.length === 2 && data.every((i) => i.status === 'paid') ? data : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    expect(invoices.map((i) => Date.parse(i.period_start!))).toEqual([startAt.getTime(), startAt.getTime() + DAY]);
    for (const invoice of invoices) expect(invoice).toMatchObject({ total: '12.00', amount_paid: '12.00', amount_due: '0.00', amount_refunded: '0.00' });

    // Stripe took the money once per invoice, and nothing else.
    const charges = await chargesByInvoice(stripeCustomer);
    expect([...charges.keys()].sort()).toEqual(invoices.map((i) => i.id).sort());
    for (const invoice of invoices) {
      expect(charges.get(invoice.id)!.map((c) => ({ status: c.status, amount: c.amount, currency: c.currency }))).toEqual([{ status: 'succeeded', amount: 1200, currency: 'usd' }]);
    }

    // Each payment_intent.succeeded reached the API (the witness, served after it, saw it too), and
    // the API had recorded it: the same event sent again is known and changes nothing.
    for (const invoice of invoices) {
      const [delivery, ...more] = await eventually(`payment_intent.succeeded for ${invoice.number}`, async () => {
        const found = deliveriesOf('payment_intent.succeeded', invoice.id);
        return found.length > 0 ? found : undefined;
      });
      expect(more).toEqual([]);
      const again = await redeliver(delivery);
      expect(again.status).toBe(200);
      expect(again.body).toEqual({ received: true, duplicate: true, outcome: 'already_recorded' });
      const after = await api.GET('/v1/invoices/{id}', { params: { path: { id: invoice.id } } });
      expect(after.data).toMatchObject({ status: 'paid', amount_paid: '12.00', amount_due: '0.00' });
    }
    // Two payments in Stripe's clearing account, each posted once whoever recorded it first.
    expect(await balance('stripe_clearing', 'USD')).toMatchObject({ debits: '24.00', credits: '0.00', balance: '24.00' });
    expect(await balance('accounts_receivable', 'USD')).toMatchObject({ balance: '0.00' });

    const live = await api.GET('/v1/subscriptions/{id}', { params: { path: { id } } });
    expect(live.data).toMatchObject({ status: 'active', state_source: 'workflow' });
    // The worker was given SMTP: a receipt for each payment went out.
    for (const invoice of invoices) {
      await eventually(`the receipt for ${invoice.number}`, async () => (mailTo(email, new RegExp(`Receipt for invoice ${invoice.number}\\b`)).length > 0 ? true : undefined));
    }
    renewal = { stripeCustomer, invoices };
  });

  it('refunds part of the renewal through Stripe', async () => {
    if (!renewal) throw new Error('the renewal scenario did not complete');
    const invoice = renewal.invoices[1];
    const refundRequest = {
      params: { path: { id: invoice.id }, header: { 'Idempotency-Key': `refund-${invoice.id}` } },
      body: { amount: '5.00', reason: 'goodwill' },
    };
    const refunded = await api.POST('/v1/invoices/{id}/refunds', refundRequest);
    expect(refunded.response.status).toBe(201);
    expect(refunded.data).toMatchObject({ amount: '5.00', currency: 'USD', invoice: { id: invoice.id, amount_refunded: '5.00' } });
    expect(refunded.data!.refunds).toHaveLength(1);
    const [refund] = refunded.data!.refunds;
    expect(refund).toMatchObject({ method: 'card', amount: '5.00' });

    // The emulator holds the refund, on the renewal's one charge.
    const [charge] = (await chargesByInvoice(renewal.stripeCustomer)).get(invoice.id)!;
    const inStripe = await stripe.refunds.retrieve(refund.stripe_refund_id!);
    expect(inStripe).toMatchObject({ amount: 500, currency: 'usd', charge: charge.id, status: 'succeeded' });
    expect((await stripe.charges.retrieve(charge.id)).amount_refunded).toBe(500);
    // The first invoice's charge is untouched.
    const [first] = (await chargesByInvoice(renewal.stripeCustomer)).get(renewal.invoices[0].id)!;
    expect(first.amount_refunded).toBe(0);

    // The same request again is the same refund, not a second one.
    const retried = await api.POST('/v1/invoices/{id}/refunds', refundRequest);
    expect(retried.response.status).toBe(201);
    expect(retried.data!.refunds.map((r) => r.stripe_refund_id)).toEqual([refund.stripe_refund_id]);
    expect((await stripe.charges.retrieve(charge.id)).amount_refunded).toBe(500);

    const after = await api.GET('/v1/invoices/{id}', { params: { path: { id: invoice.id } } });
    expect(after.data).toMatchObject({ amount_paid: '12.00', amount_refunded: '5.00' });
    const listed = await api.GET('/v1/invoices/{id}/refunds', { params: { path: { id: invoice.id } } });
    expect(listed.data!.data.map((r) => r.stripe_refund_id)).toEqual([refund.stripe_refund_id]);
    expect(await balance('stripe_clearing', 'USD')).toMatchObject({ debits: '24.00', credits: '5.00', balance: '19.00' });
    expect(await balance('refunds', 'USD')).toMatchObject({ debits: '5.00' });
  });

  it('makes the subscription past_due when the card declines, and active again once a new card pays', async () => {
    const email = 'ap@declined.test';
    const customer = await api.POST('/v1/customers', { body: { name: 'Declined GmbH', email, currency: 'EUR' } });
    expect(customer.response.status).toBe(201);
    // localstripe attaches this card and declines its charges (4000000000000002 is refused at attach).
    const declining = await attachCard(customer.data!.id, '4000000000000341');
    expect((await api.POST('/v1/plans', { body: { code: 'daily-eur', name: 'Daily', currency: 'EUR', interval: 'day', amount: '7.50' } })).response.status).toBe(201);
    const subscription = await api.POST('/v1/subscriptions', { body: { customer_id: customer.data!.id, plan_code: 'daily-eur' } });
    expect(subscription.response.status).toBe(201);
    const id = subscription.data!.id;

    const pastDue = await eventually(
      'the subscription past_due',
      async () => {
        const live = await api.GET('/v1/subscriptions/{id}', { params: { path: { id } } });
        return live.data!.status === 'past_due' ? live.data : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    expect(pastDue.state_source).toBe('workflow');
    const list = await api.GET('/v1/invoices', { params: { query: { subscription_id: id, limit: 100 } } });
    expect(list.data!.data).toHaveLength(1);
    const [invoice] = list.data!.data;
    expect(invoice).toMatchObject({ status: 'open', total: '7.50', amount_due: '7.50', amount_paid: '0.00' });
    const declined = (await chargesByInvoice(declining.stripeCustomer)).get(invoice.id) ?? [];
    expect(declined.map((c) => ({ status: c.status, failure_code: c.failure_code }))).toEqual([{ status: 'failed', failure_code: 'card_declined' }]);
    await eventually('the e-mail saying the payment failed', async () => (mailTo(email, new RegExp(`Payment of .* for invoice ${invoice.number} failed`)).length > 0 ? true : undefined));

    // The customer adds a card that works: the open invoice is charged at once.
    const working = await attachCard(customer.data!.id, '4242424242424242');
    expect(working.stripeCustomer).toBe(declining.stripeCustomer);
    const paid = await eventually(
      'the invoice paid with the new card',
      async () => {
        const current = await api.GET('/v1/invoices/{id}', { params: { path: { id: invoice.id } } });
        return current.data!.status === 'paid' ? current.data : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    expect(paid).toMatchObject({ amount_paid: '7.50', amount_due: '0.00' });
    const active = await eventually(
      'the subscription active again',
      async () => {
        const live = await api.GET('/v1/subscriptions/{id}', { params: { path: { id } } });
        return live.data!.status === 'active' ? live.data : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    expect(active.state_source).toBe('workflow');

    const charges = (await chargesByInvoice(declining.stripeCustomer)).get(invoice.id) ?? [];
    expect(charges.filter((c) => c.status === 'succeeded').map((c) => ({ amount: c.amount, currency: c.currency, payment_method: c.payment_method }))).toEqual([
      { amount: 750, currency: 'eur', payment_method: working.paymentMethod },
    ]);
    expect(charges.filter((c) => c.status === 'failed').map((c) => c.payment_method)).toEqual([declining.paymentMethod]);
    const [succeeded, ...more] = await eventually(`payment_intent.succeeded for ${invoice.number}`, async () => {
      const found = deliveriesOf('payment_intent.succeeded', invoice.id);
      return found.length > 0 ? found : undefined;
    });
    expect(more).toEqual([]);
    expect((await redeliver(succeeded)).body).toEqual({ received: true, duplicate: true, outcome: 'already_recorded' });
    const [failed, ...moreFailed] = await eventually(`payment_intent.payment_failed for ${invoice.number}`, async () => {
      const found = deliveriesOf('payment_intent.payment_failed', invoice.id);
      return found.length > 0 ? found : undefined;
    });
    expect(moreFailed).toEqual([]);
    expect((await redeliver(failed)).body).toEqual({ received: true, duplicate: true, outcome: 'noted' });
    expect(await balance('stripe_clearing', 'EUR')).toMatchObject({ debits: '7.50', balance: '7.50' });
  });

  it('stops on Ctrl-C without an error from the API, leaving nothing running', async () => {
    const stopped = await stopNpmStart(stack!);
    expect({ code: stopped.code, apiErrors: errorLines(stopped.outputAfterCtrlC, 'api') }).toEqual({ code: 0, apiErrors: [] });
    expect(stopped.leftovers).toEqual([]);
    expect(await leftoverProcesses(stack!)).toEqual([]);
    for (const port of Object.values(ports)) expect(await portIsOpen(port)).toBe(false);
  });
});
