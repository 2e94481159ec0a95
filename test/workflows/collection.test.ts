import { Context } from '@temporalio/activity';
import Decimal from 'decimal.js';
import type Stripe from 'stripe';
import { smtpTransport } from '../../mail/smtp';
import { StripeGateway, stripeClient as gatewayClient, type ChargeRequest, type IntentState } from '../../payments/stripe-gateway';
import { startStripeEmulator, type StripeEmulator } from '../../scripts/stripe-emulator';
import { freePort } from '../../scripts/wait-for-port';
import { faultProxy, provisioningReceiver, smtpSink } from '../support/collection-fixtures';
import { registerEmulatorWebhook, stripeClient } from '../support/stripe';
import { timeSkippingStack, type TimeSkippingStack } from '../support/time-skipping-stack';
import { eventually } from '../integration/harness';
import { invoiceWorkflowId } from '../../workflows/messages';

/**
 * Collecting invoices through Stripe (the localstripe emulator over HTTP, behind a proxy that can
 * inject faults), with e-mail to a real SMTP server and the suspension and resumption events the customer's service receives,
 * on the time-skipping server so that a week of dunning passes in seconds. Plan: $49.00 a month,
 * retries 1, 3, 5 and 7 days after the first failure.
 */
const WEBHOOK_SECRET = 'whsec_collection_suite';
const PROVISIONING_SECRET = 'provisioning_secret_for_tests';

describe('collecting invoices', () => {
  let emulator: StripeEmulator;
  let stripe: Stripe;
  let proxy: Awaited<ReturnType<typeof faultProxy>>;
  let smtp: Awaited<ReturnType<typeof smtpSink>>;
  let receiver: Awaited<ReturnType<typeof provisioningReceiver>>;
  let stack: TimeSkippingStack;
  /** Stripe customers whose next charge "kills the worker" after Stripe answered; the value runs first (e.g. a card change). */
  const crashAfterStripeAnswered = new Map<string, () => Promise<void>>();
  const running: string[] = [];
  /** Set to lose the next charge task: see the wrapper around chargeInvoice below. */
  let loseNextChargeTask = false;

  /**
   * The one hand-written fault in this suite: the worker runs in this process, so it cannot be
   * SIGKILLed (npm run chaos does that to a real worker process). The charge call returns, Stripe has
   * charged, and the activity dies before it records anything; Temporal runs it again.
   */
  class DyingAfterStripeAnswered extends StripeGateway {
    override async charge(request: ChargeRequest): Promise<IntentState> {
      const state = await super.charge(request);
      const beforeDeath = crashAfterStripeAnswered.get(request.stripeCustomerId);
      if (beforeDeath) {
        crashAfterStripeAnswered.delete(request.stripeCustomerId);
        await beforeDeath();
        throw new Error('simulated worker death after Stripe answered');
      }
      return state;
    }
  }

  beforeAll(async () => {
    emulator = await startStripeEmulator({ port: await freePort(), quiet: true });
    stripe = stripeClient(emulator.apiBase);
    proxy = await faultProxy(emulator.apiBase);
    smtp = await smtpSink();
    receiver = await provisioningReceiver(PROVISIONING_SECRET);
    const gateway = new DyingAfterStripeAnswered(gatewayClient({ secretKey: 'sk_test_collection', webhookSecret: WEBHOOK_SECRET, apiBase: proxy.apiBase }));
    stack = await timeSkippingStack('collection', {
      stripe: { gateway, webhookSecret: WEBHOOK_SECRET },
      mail: smtpTransport({ url: smtp.url, from: 'Billing <billing@perennial.test>' }),
      provisioning: { url: receiver.url, secret: PROVISIONING_SECRET },
      customerPaymentUrl: 'https://billing.example.test/pay/{invoice_id}?payment_intent={payment_intent}',
      // The second hand-written fault: a charge task the server handed out and no code ran (it is lost
      // on its way to the worker, so nothing is charged and nothing heartbeats). No real part loses a
      // task on demand; under a renewal storm it happens now and then. It ends when the worker stops.
      wrapActivities: (activities) => ({
        ...activities,
        async chargeInvoice(request: Parameters<typeof activities.chargeInvoice>[0]) {
          if (loseNextChargeTask && Context.current().info.attempt === 1) {
            loseNextChargeTask = false;
            await Context.current().cancelled;
          }
          return activities.chargeInvoice(request);
        },
      }),
    });
    await registerEmulatorWebhook(emulator.apiBase, 'perennial', { url: `${stack.baseUrl}/webhooks/stripe`, secret: WEBHOOK_SECRET });
    expect((await stack.api.post('/v1/plans', { code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', amount: '49.00' })).status).toBe(201);
  });

  // Each scenario's subscriptions and collections end with it, so later months renew nothing of theirs.
  afterEach(async () => {
    const invoices = await stack.db.orm.em.fork().execute<Array<{ id: string }>>('select id from invoices');
    const ids = [...running.splice(0), ...invoices.map((i) => invoiceWorkflowId(i.id))];
    await stack.terminateWhenIdle(ids, 'scenario finished');
    proxy.rules.splice(0);
  });

  afterAll(async () => {
    await stack?.stop();
    await Promise.all([emulator?.stop(), proxy?.close(), smtp?.close(), receiver?.close()]);
  });

  let n = 0;
  async function customerWithCard(card: string): Promise<string> {
    const customer = await stack.api.post('/v1/customers', { name: `Payer ${++n}`, email: `payer${n}@example.test`, currency: 'USD' });
    await attachCard(customer.body.id, card);
    return customer.body.id;
  }

  async function attachCard(customerId: string, card: string): Promise<void> {
    const method = await stripe.paymentMethods.create({ type: 'card', card: { number: card, exp_month: 12, exp_year: 2034, cvc: '123' } });
    const attached = await stack.api.post(`/v1/customers/${customerId}/payment_methods`, { payment_method: method.id });
    expect(attached.status).toBe(201);
  }

  async function subscribe(customerId: string, startAt: string): Promise<string> {
    const res = await stack.api.post('/v1/subscriptions', { customer_id: customerId, plan_code: 'pro', start_at: startAt });
    expect(res.status).toBe(201);
    running.push(res.body.workflow_id);
    return res.body.id;
  }

  const firstInvoice = async (subscriptionId: string) => (await stack.api.get(`/v1/invoices?subscription_id=${subscriptionId}`)).body.data.at(-1);
  const status = async (subscriptionId: string) => (await stack.api.get(`/v1/subscriptions/${subscriptionId}`)).body.status;
  /** What the customer's service is told of a subscription, oldest first: its suspension and resumption events, which webhook endpoints receive. */
  const told = async (subscriptionId: string): Promise<string[]> =>
    (await stack.api.get(`/v1/events?object_id=${subscriptionId}&limit=100`)).body.data
      .map((e: { type: string }) => e.type)
      .filter((type: string) => type === 'subscription.suspended' || type === 'subscription.resumed')
      .reverse();
  /** What the service behind PROVISIONING_WEBHOOK_URL received about a subscription (each event's object is the subscription). */
  const deliveredTo = (subscriptionId: string) => receiver.deliveries.filter((d) => d.body.data.object.id === subscriptionId);
  const attempts = (invoiceId: string) =>
    stack.db.orm.em.fork().execute(`select attempt, status, decline_code from payment_attempts where invoice_id = ? order by attempt`, [invoiceId]);
  const payments = (invoiceId: string) => stack.db.orm.em.fork().execute(`select method, amount::text from payments where invoice_id = ?`, [invoiceId]);
  const defaultPaymentMethod = async (customerId: string): Promise<string> =>
    (await stack.db.orm.em.fork().execute<Array<{ default_payment_method: string }>>('select default_payment_method from customers where id = ?', [customerId]))[0].default_payment_method;
  const mailsTo = (address: string) => smtp.messages.filter((m) => m.to.includes(address)).map((m) => m.subject);
  const stripeCustomerOf = async (customerId: string): Promise<string> =>
    (await stack.db.orm.em.fork().execute<Array<{ stripe_customer_id: string }>>('select stripe_customer_id from customers where id = ?', [customerId]))[0].stripe_customer_id;
  /** Successful charges Stripe made to a customer (each scenario bills one invoice per customer): at most one. */
  async function succeededCharges(customerId: string): Promise<number> {
    const charges = await stripe.charges.list({ customer: await stripeCustomerOf(customerId), limit: 100 });
    return charges.data.filter((c) => c.status === 'succeeded' && c.paid).length;
  }

  /**
   * localstripe declines a charge (card 4000 0000 0000 0341) with code card_declined but no decline
   * code; Stripe says why. The proxy adds the decline code Stripe would send for this customer's
   * charges: the one stand-in in this suite, for a detail the emulator cannot produce.
   */
  async function declineWith(customerId: string, declineCode: string): Promise<void> {
    const stripeCustomer = await stripeCustomerOf(customerId);
    proxy.rules.push({
      matches: (method, path, body) => method === 'POST' && path === '/v1/payment_intents' && body.includes(`customer=${stripeCustomer}`),
      rewrite: (status, body) => (status === 402 ? { status, body: { ...body, error: { ...body.error, decline_code: declineCode } } } : { status, body }),
    });
  }
  const at = (instant: string) => stack.skipTo(instant);

  function expectError(res: { status: number; body: any }, status: number, code: string): void {
    expect({ status: res.status, code: res.body.error?.code }).toEqual({ status, code });
  }

  async function expectBooksBalanced(): Promise<void> {
    const rows = (await stack.api.get('/v1/ledger/balances')).body.data as Array<{ debits: string; credits: string }>;
    const sum = (side: 'debits' | 'credits') => rows.reduce((t, r) => t.plus(r[side]), new Decimal(0));
    expect(sum('debits').equals(sum('credits'))).toBe(true);
  }

  it('charges the card when the invoice is issued, records the payment once, and sends a receipt', async () => {
    // Given a customer with a good card and a subscription starting on 1 February 2027
    const customer = await customerWithCard('4242424242424242');
    const id = await subscribe(customer, '2027-02-01T00:00:00Z');
    // When the subscription starts
    await at('2027-02-01T00:01:00Z');
    // Then its first invoice is paid by card, in one attempt, and the customer has a receipt
    const invoice = await firstInvoice(id);
    expect(invoice).toMatchObject({ status: 'paid', amount_due: '0.00', amount_paid: '49.00' });
    expect(await attempts(invoice.id)).toEqual([{ attempt: 1, status: 'succeeded', decline_code: null }]);
    expect(await payments(invoice.id)).toEqual([{ method: 'card', amount: '49.000000' }]);
    expect(await succeededCharges(customer)).toBe(1);
    expect(mailsTo(`payer${n}@example.test`).some((s) => /receipt/i.test(s))).toBe(true);
    expect(await status(id)).toBe('active');
    await expectBooksBalanced();
  });

  it('retries a soft decline on the schedule, suspends after the last retry, and resumes when a new card pays', async () => {
    // Given a card declined for insufficient funds, and a subscription starting on 1 March 2027
    const customer = await customerWithCard('4000000000000341');
    await declineWith(customer, 'insufficient_funds');
    const email = `payer${n}@example.test`;
    const id = await subscribe(customer, '2027-03-01T00:00:00Z');
    // When the first charge fails
    await at('2027-03-01T00:01:00Z');
    const invoice = await firstInvoice(id);
    expect(await attempts(invoice.id)).toEqual([{ attempt: 1, status: 'failed', decline_code: 'insufficient_funds' }]);
    // Then the subscription is past due and the customer is told
    expect(await status(id)).toBe('past_due');
    expect(mailsTo(email).filter((s) => /failed/i.test(s))).toHaveLength(1);
    expect(await told(id)).toEqual([]);

    // When the week of retries passes (days 1, 3, 5 and 7 after the first failure)
    await at('2027-03-08T01:00:00Z');
    // Then it was tried five times in all, reminded before the last retry, and suspended after it
    expect((await attempts(invoice.id)).map((a: any) => a.status)).toEqual(['failed', 'failed', 'failed', 'failed', 'failed']);
    expect(mailsTo(email).filter((s) => /remind|final/i.test(s)).length).toBe(1);
    expect(await status(id)).toBe('suspended');
    await eventually('the suspension is reported', () => told(id), (types) => types.length > 0);
    expect(await told(id)).toEqual(['subscription.suspended']);
    // ...and delivered to PROVISIONING_WEBHOOK_URL, signed by the Standard Webhooks scheme with its secret
    await eventually('the suspension reaches the provisioning endpoint', async () => deliveredTo(id), (list) => list.length > 0);
    expect(deliveredTo(id)).toEqual([expect.objectContaining({ type: 'subscription.suspended', signatureValid: true })]);
    expect(mailsTo(email).some((s) => /suspend/i.test(s))).toBe(true);

    // When the customer attaches a good card on 10 March
    await at('2027-03-10T00:00:00Z');
    await attachCard(customer, '4242424242424242');
    // Then it is charged at once (no timer involved: poll until the charge has run), paid, and resumed
    await eventually('the new card is charged', () => firstInvoice(id), (invoice) => invoice.status === 'paid');
    await eventually('the subscription resumes', () => status(id), (s) => s === 'active');
    expect(await succeededCharges(customer)).toBe(1);
    await eventually('the resumption is reported', () => told(id), (types) => types.includes('subscription.resumed'));
    expect(await told(id)).toEqual(['subscription.suspended', 'subscription.resumed']);
    await eventually('the resumption reaches the provisioning endpoint', async () => deliveredTo(id), (list) => list.some((d) => d.type === 'subscription.resumed'));
    expect(deliveredTo(id).map((d) => [d.type, d.signatureValid])).toEqual([
      ['subscription.suspended', true],
      ['subscription.resumed', true],
    ]);
    await expectBooksBalanced();
  });

  it('does not retry a hard decline: it asks for a new card, and suspends when the schedule runs out', async () => {
    // Given a card reported stolen
    const customer = await customerWithCard('4000000000000341');
    await declineWith(customer, 'stolen_card');
    const email = `payer${n}@example.test`;
    const id = await subscribe(customer, '2027-04-01T00:00:00Z');
    await at('2027-04-01T00:01:00Z');
    const invoice = await firstInvoice(id);
    // Then: one attempt, a request for a new payment method, no retries for a week, then suspension
    expect(await attempts(invoice.id)).toEqual([{ attempt: 1, status: 'failed', decline_code: 'stolen_card' }]);
    expect(mailsTo(email).some((s) => /payment method|new card/i.test(s))).toBe(true);
    await at('2027-04-08T01:00:00Z');
    expect(await attempts(invoice.id)).toHaveLength(1);
    expect(await status(id)).toBe('suspended');
  });

  it('suspends only the subscription whose own invoice is unpaid', async () => {
    // Given one customer with a declining card and two subscriptions
    const customer = await customerWithCard('4000000000000341');
    await declineWith(customer, 'insufficient_funds');
    const unpaid = await subscribe(customer, '2027-05-01T00:00:00Z');
    const settled = await subscribe(customer, '2027-05-01T00:00:00Z');
    await at('2027-05-01T00:01:00Z');
    // When one subscription's invoice is paid by bank transfer on 2 May
    await at('2027-05-02T12:00:00Z');
    const manual = await stack.api.post(`/v1/invoices/${(await firstInvoice(settled)).id}/payments`, { amount: '49.00', reference: 'wire 42' });
    expect(manual.status).toBe(201);
    await at('2027-05-09T00:00:00Z');
    // Then only the other one is suspended, and the paid one was never charged again
    expect(await status(unpaid)).toBe('suspended');
    expect(await status(settled)).toBe('active');
    // Charged on 1 May and retried on 2 May before the transfer came in: two declined attempts, none after.
    expect((await attempts((await firstInvoice(settled)).id)).map((a: any) => a.status)).toEqual(['failed', 'failed']);
    expect(await succeededCharges(customer)).toBe(0);
  });

  /** The customer's browser finishing (or failing) 3-D Secure, through the emulator's own authentication route. */
  async function authenticate(paymentIntentId: string, success: boolean): Promise<{ status: number; intentStatus?: string }> {
    const intent = await stripe.paymentIntents.retrieve(paymentIntentId);
    const response = await fetch(`${emulator.apiBase}/v1/payment_intents/${paymentIntentId}/_authenticate`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Bearer sk_test_collection' },
      body: new URLSearchParams({ client_secret: intent.client_secret ?? '', success: String(success) }).toString(),
    });
    const body = (await response.json()) as { status?: string };
    return { status: response.status, intentStatus: body.status };
  }

  const intentsOf = async (invoiceId: string): Promise<string[]> =>
    (await stack.db.orm.em.fork().execute<Array<{ payment_intent_id: string }>>('select payment_intent_id from payment_attempts where invoice_id = ? order by attempt', [invoiceId])).map(
      (r) => r.payment_intent_id,
    );

  it('leaves an invoice that needs 3-D Secure open and e-mails the customer a link; finishing the authentication pays it through the webhook', async () => {
    const customer = await customerWithCard('4000002760003184');
    const email = `payer${n}@example.test`;
    const id = await subscribe(customer, '2027-06-01T00:00:00Z');
    await at('2027-06-01T00:01:00Z');
    const invoice = await firstInvoice(id);
    expect(invoice.status).toBe('open');
    expect((await attempts(invoice.id)).map((a: any) => a.status)).toEqual(['requires_action']);
    const [intentId] = await intentsOf(invoice.id);
    const mail = smtp.messages.find((m) => m.to.includes(email) && /action|authenticat/i.test(m.subject));
    // The body is quoted-printable (lines folded with "=", "=" itself as "=3D").
    const body = (mail?.raw ?? '').replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    expect(body).toContain(`https://billing.example.test/pay/${invoice.id}?payment_intent=${intentId}`);

    // The customer authenticates on the bank's page; Stripe charges and sends payment_intent.succeeded.
    expect(await authenticate(intentId, true)).toEqual({ status: 200, intentStatus: 'succeeded' });
    await eventually('the webhook pays the invoice', () => firstInvoice(id), (i) => i.status === 'paid');
    await eventually('the subscription is active again', () => status(id), (s) => s === 'active');
    expect(await succeededCharges(customer)).toBe(1);
    expect(await payments(invoice.id)).toEqual([{ method: 'card', amount: '49.000000' }]);
    await expectBooksBalanced();
  });

  it('cancels a 3-D Secure payment left waiting before a new card is charged, so the old page can no longer take money', async () => {
    const customer = await customerWithCard('4000002760003184');
    const id = await subscribe(customer, '2027-06-15T00:00:00Z');
    await at('2027-06-15T00:01:00Z');
    const invoice = await firstInvoice(id);
    const [waiting] = await intentsOf(invoice.id);
    // The customer gives up on the bank's page and adds another card the next day.
    await at('2027-06-16T00:00:00Z');
    await attachCard(customer, '4242424242424242');
    await eventually('the new card pays the invoice', () => firstInvoice(id), (i) => i.status === 'paid');
    expect((await attempts(invoice.id)).map((a: any) => a.status)).toEqual(['canceled', 'succeeded']);
    expect((await stripe.paymentIntents.retrieve(waiting)).status).toBe('canceled');
    // Finishing the old authentication later is refused by Stripe: nothing is charged twice.
    expect((await authenticate(waiting, true)).status).toBe(400);
    expect(await succeededCharges(customer)).toBe(1);
    await expectBooksBalanced();
  });

  it('cancels a 3-D Secure payment left waiting when the invoice is paid by bank transfer', async () => {
    const customer = await customerWithCard('4000002760003184');
    const id = await subscribe(customer, '2027-06-20T00:00:00Z');
    await at('2027-06-20T00:01:00Z');
    const invoice = await firstInvoice(id);
    const [waiting] = await intentsOf(invoice.id);
    expect((await stack.api.post(`/v1/invoices/${invoice.id}/payments`, { amount: '49.00', reference: 'wire 7' })).status).toBe(201);
    await eventually('the waiting payment is canceled', () => stripe.paymentIntents.retrieve(waiting), (i) => i.status === 'canceled');
    expect((await attempts(invoice.id)).map((a: any) => a.status)).toEqual(['canceled']);
    expect((await authenticate(waiting, true)).status).toBe(400);
    expect(await succeededCharges(customer)).toBe(0);
    expect(await payments(invoice.id)).toEqual([{ method: 'manual', amount: '49.000000' }]);
  });

  async function postSignedEvent(type: string, object: Record<string, unknown>, options: { id?: string; secret?: string; timestamp?: number } = {}) {
    const payload = JSON.stringify({ id: options.id ?? `evt_test_${++n}`, object: 'event', type, created: Math.floor(Date.now() / 1000), data: { object } });
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret: options.secret ?? WEBHOOK_SECRET, timestamp: options.timestamp });
    const response = await fetch(`${stack.baseUrl}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': header }, body: payload });
    return { status: response.status, body: await response.json(), payload };
  }

  describe('faults: at most one successful charge per invoice, and balanced books', () => {
    it('the worker dies between Stripe charging and the recording: the retry finds that PaymentIntent by its attempt key and charges nothing more', async () => {
      const customer = await customerWithCard('4242424242424242');
      crashAfterStripeAnswered.set(await stripeCustomerOf(customer), async () => undefined);
      const id = await subscribe(customer, '2027-07-01T00:00:00Z');
      await at('2027-07-01T00:05:00Z');
      const invoice = await firstInvoice(id);
      expect(invoice.status).toBe('paid');
      expect(crashAfterStripeAnswered.size).toBe(0);
      expect(await attempts(invoice.id)).toEqual([{ attempt: 1, status: 'succeeded', decline_code: null }]);
      expect(await succeededCharges(customer)).toBe(1);
      expect(await payments(invoice.id)).toHaveLength(1);
      await expectBooksBalanced();
    });

    it('the card changes between that death and the retry: the retry keeps the attempt it began (no idempotency error), one charge', async () => {
      const customer = await customerWithCard('4242424242424242');
      const stripeCustomer = await stripeCustomerOf(customer);
      const firstCard = await defaultPaymentMethod(customer);
      crashAfterStripeAnswered.set(stripeCustomer, () => attachCard(customer, '5555555555554444'));
      const id = await subscribe(customer, '2027-07-15T00:00:00Z');
      await at('2027-07-15T00:05:00Z');
      const invoice = await firstInvoice(id);
      await eventually('the invoice is paid', () => firstInvoice(id), (i) => i.status === 'paid');
      expect(await defaultPaymentMethod(customer)).not.toBe(firstCard);
      const charged = await stack.db.orm.em.fork().execute<Array<{ payment_method: string; status: string }>>(
        'select payment_method, status from payment_attempts where invoice_id = ? order by attempt',
        [invoice.id],
      );
      expect(charged).toEqual([{ payment_method: firstCard, status: 'succeeded' }]);
      expect(await succeededCharges(customer)).toBe(1);
      expect(await payments(invoice.id)).toHaveLength(1);
    });

    it('Stripe answers 500 and then succeeds: one charge', async () => {
      const customer = await customerWithCard('4242424242424242');
      proxy.rules.push({ matches: (method, path) => method === 'POST' && path === '/v1/payment_intents', failTimes: 1 });
      const id = await subscribe(customer, '2027-08-01T00:00:00Z');
      await at('2027-08-01T00:05:00Z');
      const invoice = await firstInvoice(id);
      expect(invoice.status).toBe('paid');
      expect(proxy.rules.at(-1)?.failTimes).toBe(0);
      expect(await succeededCharges(customer)).toBe(1);
      expect(await payments(invoice.id)).toHaveLength(1);
      proxy.rules.pop();
    });

    it('the webhook arrives before the charge call returns, then twice more, late and out of order: recorded once', async () => {
      const customer = await customerWithCard('4242424242424242');
      const answers: Array<{ status: number; body: any; payload: string }> = [];
      proxy.rules.push({
        matches: (method, path) => method === 'POST' && path === '/v1/payment_intents',
        // Stripe has charged; before our call gets the answer, its webhook reaches the API.
        beforeReply: async (body) => {
          const intent = JSON.parse(body);
          if (intent.status === 'succeeded') answers.push(await postSignedEvent('payment_intent.succeeded', intent, { id: `evt_before_${intent.id}` }));
        },
      });
      const id = await subscribe(customer, '2027-09-01T00:00:00Z');
      await at('2027-09-01T00:05:00Z');
      proxy.rules.pop();
      const invoice = await firstInvoice(id);
      expect(answers).toEqual([expect.objectContaining({ status: 200, body: expect.objectContaining({ outcome: 'invoice_paid' }) })]);
      expect(invoice.status).toBe('paid');

      // The same event again (Stripe retries), then a late failure event for the same PaymentIntent.
      const again = await fetch(`${stack.baseUrl}/webhooks/stripe`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: answers[0].payload, secret: WEBHOOK_SECRET }) },
        body: answers[0].payload,
      });
      expect(await again.json()).toMatchObject({ duplicate: true });
      const intent = JSON.parse(answers[0].payload).data.object;
      expect((await postSignedEvent('payment_intent.payment_failed', { ...intent, status: 'requires_payment_method' })).body).toMatchObject({ outcome: 'noted' });

      expect((await firstInvoice(id)).status).toBe('paid');
      expect(await payments(invoice.id)).toHaveLength(1);
      expect(await succeededCharges(customer)).toBe(1);
      await expectBooksBalanced();
    });

    it('a bank transfer recorded while a card charge is in flight is refused (409) until the charge has finished', async () => {
      const customer = await customerWithCard('4242424242424242');
      const stripeCustomer = await stripeCustomerOf(customer);
      const during: Array<{ status: number; code?: string }> = [];
      proxy.rules.push({
        matches: (method, path, body) => method === 'POST' && path === '/v1/payment_intents' && body.includes(`customer=${stripeCustomer}`),
        // Stripe has charged; before the answer reaches the worker, support records a transfer.
        beforeReply: async (body) => {
          const invoiceId = JSON.parse(body).metadata.invoice_id as string;
          const res = await stack.api.post(`/v1/invoices/${invoiceId}/payments`, { amount: '49.00', reference: 'wire during charge' });
          during.push({ status: res.status, code: res.body.error?.code });
        },
      });
      const id = await subscribe(customer, '2027-10-01T00:00:00Z');
      await at('2027-10-01T00:05:00Z');
      proxy.rules.pop();
      expect(during).toEqual([{ status: 409, code: 'payment_in_progress' }]);
      const invoice = await firstInvoice(id);
      expect(invoice.status).toBe('paid');
      expect(await payments(invoice.id)).toEqual([{ method: 'card', amount: '49.000000' }]);
      expectError(await stack.api.post(`/v1/invoices/${invoice.id}/payments`, { amount: '49.00' }), 409, 'invoice_not_open');
      expect(await succeededCharges(customer)).toBe(1);
    });

    it('a charge task lost on its way to the worker is run again once its heartbeat is missed, and charges once', async () => {
      const customer = await customerWithCard('4242424242424242');
      loseNextChargeTask = true;
      const id = await subscribe(customer, '2027-11-01T00:00:00Z');
      await at('2027-11-01T00:05:00Z');
      const invoice = await firstInvoice(id);
      expect(loseNextChargeTask).toBe(false);
      expect(invoice.status).toBe('paid');
      const history = await stack.env.client.workflow.getHandle(invoiceWorkflowId(invoice.id)).fetchHistory();
      // The charge is scheduled with a heartbeat timeout, so the lost first attempt was given up on
      // then, not at the charge's two-minute limit; the second attempt charged.
      const events = history.events ?? [];
      const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'chargeInvoice');
      const started = events.find((e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId) === String(scheduled?.eventId));
      expect({ heartbeatTimeout: Number(scheduled?.activityTaskScheduledEventAttributes?.heartbeatTimeout?.seconds), attempt: started?.activityTaskStartedEventAttributes?.attempt }).toEqual({
        heartbeatTimeout: 30,
        attempt: 2,
      });
      expect(await attempts(invoice.id)).toEqual([{ attempt: 1, status: 'succeeded', decline_code: null }]);
      expect(await succeededCharges(customer)).toBe(1);
      expect(await payments(invoice.id)).toHaveLength(1);
      await expectBooksBalanced();
    });

    it('refuses a webhook with a missing, forged or stale signature, changing nothing', async () => {
      const payload = JSON.stringify({ id: 'evt_forged', object: 'event', type: 'payment_intent.succeeded', data: { object: { id: 'pi_forged', metadata: {} } } });
      const post = (headers: Record<string, string>) => fetch(`${stack.baseUrl}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: payload });
      expect((await post({})).status).toBe(400);
      expect((await post({ 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: 'whsec_wrong' }) })).status).toBe(400);
      const stale = Math.floor((Date.now() - 10 * 60_000) / 1000);
      expect((await post({ 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET, timestamp: stale }) })).status).toBe(400);
      expect(await stack.db.orm.em.fork().execute(`select count(*)::int as n from stripe_events where id = 'evt_forged'`)).toEqual([{ n: 0 }]);
    });
  });

  it('sent every e-mail once (one Message-ID each)', async () => {
    const ids = smtp.messages.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBeGreaterThan(5);
  });
});
