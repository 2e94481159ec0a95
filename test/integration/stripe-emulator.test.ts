import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import { startStripeEmulator, type StripeEmulator } from '../../scripts/stripe-emulator';
import { freePort } from '../../scripts/wait-for-port';
import { registerEmulatorWebhook, stripeClient } from '../support/stripe';

/**
 * What the Stripe emulator (localstripe) reproduces, through the official SDK, of the Stripe
 * behaviour the collection code relies on. Where localstripe departs from Stripe, the test pins the
 * departure (named "quirk") so an upgrade that changes it is noticed.
 */

const WEBHOOK_SECRET = 'whsec_perennial_probe';

interface Delivery {
  rawBody: string;
  signature: string;
}

let emulator: StripeEmulator;
let stripe: Stripe;
let hookServer: Server;
const deliveries: Delivery[] = [];

beforeAll(async () => {
  const logDir = await mkdtemp(join(tmpdir(), 'perennial-localstripe-'));
  emulator = await startStripeEmulator({ port: await freePort(), logFile: join(logDir, 'localstripe.log') });
  stripe = stripeClient(emulator.apiBase);

  hookServer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      deliveries.push({ rawBody: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['stripe-signature'] ?? '') });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => hookServer.listen(0, '127.0.0.1', resolve));
  const { port } = hookServer.address() as AddressInfo;
  await registerEmulatorWebhook(emulator.apiBase, 'probe', { url: `http://127.0.0.1:${port}/stripe/webhooks`, secret: WEBHOOK_SECRET });
});

afterAll(async () => {
  await new Promise<void>((resolve) => (hookServer ? hookServer.close(() => resolve()) : resolve()));
  await emulator?.stop();
});

/** The rejection of `promise` (fails the test if it resolves). */
async function rejectionOf(promise: Promise<unknown>): Promise<any> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value).slice(0, 200)}`);
    },
    (error: unknown) => error,
  );
}

/** A customer whose default payment method is `card`: a card number, or a Stripe test id such as pm_card_visa. */
async function customerWithCard(card = 'pm_card_visa'): Promise<{ customer: Stripe.Customer; paymentMethod: Stripe.PaymentMethod }> {
  const customer = await stripe.customers.create({ email: 'probe@example.com', metadata: { perennial_customer: 'cus_probe' } });
  const source = /^\d{16}$/.test(card) ? (await cardPaymentMethod(card)).id : card;
  const paymentMethod = await stripe.paymentMethods.attach(source, { customer: customer.id });
  await stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: paymentMethod.id } });
  return { customer, paymentMethod };
}

function cardPaymentMethod(number: string): Promise<Stripe.PaymentMethod> {
  return stripe.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });
}

function offSessionCharge(customer: string, paymentMethod: string, amount: number, idempotencyKey?: string): Promise<Stripe.Response<Stripe.PaymentIntent>> {
  return stripe.paymentIntents.create(
    { amount, currency: 'usd', customer, payment_method: paymentMethod, off_session: true, confirm: true, metadata: { invoice: 'in_probe' } },
    idempotencyKey ? { idempotencyKey } : undefined,
  );
}

async function chargeOf(intent: Stripe.PaymentIntent): Promise<Stripe.Charge> {
  const latest = intent.latest_charge;
  if (latest === null) throw new Error(`${intent.id} has no charge`);
  return typeof latest === 'string' ? stripe.charges.retrieve(latest) : latest;
}

/** Polls `probe` until it returns a value (bounded: fails after `timeoutMs`). */
async function eventually<T>(what: string, probe: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function deliveredEvent(type: string, objectId: string): Stripe.Event | undefined {
  for (const delivery of deliveries) {
    const event = JSON.parse(delivery.rawBody) as Stripe.Event;
    if (event.type === type && (event.data.object as { id?: string }).id === objectId) return event;
  }
  return undefined;
}

describe('customers and payment methods', () => {
  it('attaches pm_card_visa as a new pm_ object and makes it the default payment method', async () => {
    const customer = await stripe.customers.create({ email: 'probe@example.com' });
    expect(customer.id).toMatch(/^cus_/);
    expect(customer.invoice_settings.default_payment_method).toBeNull();

    const attached = await stripe.paymentMethods.attach('pm_card_visa', { customer: customer.id });
    // Each use of the test id pm_card_visa creates a fresh PaymentMethod (4242 4242 4242 4242).
    expect(attached.id).toMatch(/^pm_/);
    expect(attached.id).not.toBe('pm_card_visa');
    expect(attached.customer).toBe(customer.id);
    expect(attached.card?.last4).toBe('4242');

    await stripe.customers.update(customer.id, { invoice_settings: { default_payment_method: attached.id } });
    const reread = await stripe.customers.retrieve(customer.id);
    expect((reread as Stripe.Customer).invoice_settings.default_payment_method).toBe(attached.id);

    // Listing needs `type: 'card'` (localstripe answers 400 without it).
    const listed = await stripe.paymentMethods.list({ customer: customer.id, type: 'card' });
    expect(listed.data.map((pm) => pm.id)).toEqual([attached.id]);
  });

  it('creates a PaymentMethod from the raw card number 4242424242424242', async () => {
    const { customer, paymentMethod } = await customerWithCard('4242424242424242');
    expect(paymentMethod.customer).toBe(customer.id);
    expect(paymentMethod.card?.last4).toBe('4242');
  });

  it('gives a SetupIntent for a customer a client_secret, and confirming it with a card succeeds', async () => {
    const customer = await stripe.customers.create({ email: 'probe@example.com' });
    const intent = await stripe.setupIntents.create({ customer: customer.id, usage: 'off_session' });
    expect(intent.id).toMatch(/^seti_/);
    expect(intent.client_secret).toMatch(new RegExp(`^${intent.id}_secret_`));
    expect(intent.status).toBe('requires_payment_method');

    const confirmed = await stripe.setupIntents.confirm(intent.id, { payment_method: 'pm_card_visa' });
    expect(confirmed.status).toBe('succeeded');
    expect(confirmed.payment_method).toMatch(/^pm_/);
  });
});

describe('off-session PaymentIntents', () => {
  it('charges the default card at once: succeeded, with its charge inline', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const intent = await offSessionCharge(customer.id, paymentMethod.id, 1999, 'inv_probe_1:attempt_1');
    expect(intent.id).toMatch(/^pi_/);
    expect(intent.status).toBe('succeeded');
    expect(intent.amount).toBe(1999);
    expect(intent.metadata).toEqual({ invoice: 'in_probe' });
    // Quirk: latest_charge comes expanded (a Charge object), where Stripe sends the id.
    expect(typeof intent.latest_charge).toBe('object');
    const charge = await chargeOf(intent);
    expect(charge.id).toMatch(/^ch_/);
    expect(charge).toMatchObject({ status: 'succeeded', paid: true, captured: true, amount: 1999, payment_intent: intent.id, customer: customer.id });
  });

  it('quirk: ignores Idempotency-Key, so the same key charges again (a proxy must replay)', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const first = await offSessionCharge(customer.id, paymentMethod.id, 500, 'same-key');
    const again = await offSessionCharge(customer.id, paymentMethod.id, 500, 'same-key');
    const other = await offSessionCharge(customer.id, paymentMethod.id, 500, 'other-key');
    expect(again.status).toBe('succeeded');
    expect(again.id).not.toBe(first.id);
    expect(other.id).not.toBe(first.id);
    const charges = await stripe.charges.list({ customer: customer.id });
    expect(charges.data).toHaveLength(3);
    // No Idempotent-Replayed or Request-Id header either.
    expect(again.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(again.lastResponse.requestId).toBeUndefined();
  });

  it.each([
    ['description', { description: 'Invoice INV-0001' }],
    ['statement_descriptor', { statement_descriptor: 'PERENNIAL' }],
    ['receipt_email', { receipt_email: 'probe@example.com' }],
    ['automatic_payment_methods', { automatic_payment_methods: { enabled: true, allow_redirects: 'never' as const } }],
    ['error_on_requires_action', { error_on_requires_action: true }],
  ])('quirk: refuses a PaymentIntent with %s (400 "Unexpected …"), a parameter it does not model', async (name, extra) => {
    const { customer, paymentMethod } = await customerWithCard();
    const error = await rejectionOf(
      stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: customer.id, payment_method: paymentMethod.id, off_session: true, confirm: true, ...extra }),
    );
    expect(error).toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 400, message: `Unexpected ${name}` });
  });

  it('finds a PaymentIntent by id (list filters and search are not supported)', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const intent = await offSessionCharge(customer.id, paymentMethod.id, 700);
    expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe('succeeded');
    const listByCustomer = await rejectionOf(stripe.paymentIntents.list({ customer: customer.id }));
    expect(listByCustomer).toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 400, message: 'Unexpected customer' });
    const search = await rejectionOf(stripe.paymentIntents.search({ query: "metadata['invoice']:'in_probe'" }));
    expect(search).toMatchObject({ statusCode: 404 });
  });
});

describe('declines', () => {
  // Stripe's decline test cards; localstripe declines them when they are attached (or confirmed on a
  // SetupIntent), always as card_declined, without a decline_code.
  it.each([
    ['generic decline', '4000000000000002'],
    ['insufficient funds', '4000000000009995'],
    ['lost card', '4000000000009987'],
    ['stolen card', '4000000000009979'],
    ['expired card', '4000000000000069'],
    ['incorrect CVC', '4000000000000127'],
    ['processing error', '4000000000000119'],
  ])('%s (%s) is declined on attach as card_declined, with no decline_code', async (_label, number) => {
    const customer = await stripe.customers.create({ email: 'probe@example.com' });
    const paymentMethod = await cardPaymentMethod(number);
    const error = await rejectionOf(stripe.paymentMethods.attach(paymentMethod.id, { customer: customer.id }));
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(error).toMatchObject({ type: 'StripeCardError', statusCode: 402, code: 'card_declined', message: 'Your card was declined.' });
    // No decline_code in the body; StripeCardError reports the absence as ''.
    expect(error.decline_code).toBe('');
    expect(error.raw.decline_code).toBeUndefined();
    // The body says invalid_request_error; the SDK classifies by the 402 status.
    expect(error.rawType).toBe('invalid_request_error');
  });

  it('declines a decline test card confirmed on a SetupIntent, which is then canceled', async () => {
    const customer = await stripe.customers.create({ email: 'probe@example.com' });
    const intent = await stripe.setupIntents.create({ customer: customer.id });
    const paymentMethod = await cardPaymentMethod('4000000000009995');
    const error = await rejectionOf(stripe.setupIntents.confirm(intent.id, { payment_method: paymentMethod.id }));
    expect(error).toMatchObject({ type: 'StripeCardError', code: 'card_declined' });
    expect((await stripe.setupIntents.retrieve(intent.id)).status).toBe('canceled');
  });

  it('quirk: charges a decline test card that was never attached', async () => {
    const customer = await stripe.customers.create({ email: 'probe@example.com' });
    const paymentMethod = await cardPaymentMethod('4000000000000002');
    const intent = await offSessionCharge(customer.id, paymentMethod.id, 1000);
    expect(intent.status).toBe('succeeded');
  });

  it.each([
    ['a raw card', '4000000000000341'],
    ['the test id', 'pm_card_chargeCustomerFail'],
  ])('4000000000000341 (%s) attaches, then its charge is declined: a 402 naming the charge, the PaymentIntent left requires_payment_method', async (_label, card) => {
    const { customer, paymentMethod } = await customerWithCard(card);
    const error = await rejectionOf(offSessionCharge(customer.id, paymentMethod.id, 2500, 'inv_probe_decline:attempt_1'));
    expect(error).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(error).toMatchObject({ statusCode: 402, code: 'card_declined', message: 'Your card was declined.' });
    expect(error.decline_code).toBe('');
    expect(error.charge).toMatch(/^ch_/);
    // Stripe puts the PaymentIntent in the error; localstripe does not: reach it through the charge.
    expect(error.payment_intent).toBeUndefined();
    const charge = await stripe.charges.retrieve(error.charge as string);
    expect(charge).toMatchObject({ status: 'failed', paid: false, failure_code: 'card_declined', failure_message: 'Your card was declined.' });
    expect(charge.payment_intent).toMatch(/^pi_/);
    const intent = await stripe.paymentIntents.retrieve(charge.payment_intent as string);
    expect(intent.status).toBe('requires_payment_method');
    expect(intent.last_payment_error).toEqual({ charge: charge.id, code: 'card_declined', message: 'Your card was declined.' });
  });
});

describe('3-D Secure', () => {
  it.each(['4000002760003184', '4000002500003155'])('off session, %s leaves the PaymentIntent requires_action (no error)', async (number) => {
    const { customer, paymentMethod } = await customerWithCard(number);
    const intent = await offSessionCharge(customer.id, paymentMethod.id, 1200);
    expect(intent.status).toBe('requires_action');
    expect(intent.next_action).toMatchObject({ type: 'use_stripe_sdk' });
    expect(intent.latest_charge).toBeNull();
    expect(intent.last_payment_error).toBeNull();
  });

  it('completes or fails the authentication through localstripe’s /_authenticate route', async () => {
    const { customer, paymentMethod } = await customerWithCard('4000002760003184');
    const authenticate = async (intent: Stripe.PaymentIntent, success: boolean): Promise<Stripe.PaymentIntent> => {
      const response = await fetch(`${emulator.apiBase}/v1/payment_intents/${intent.id}/_authenticate`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Bearer sk_test_perennial' },
        body: new URLSearchParams({ client_secret: intent.client_secret ?? '', success: String(success) }).toString(),
      });
      expect(response.status).toBe(200);
      return (await response.json()) as Stripe.PaymentIntent;
    };
    const passed = await authenticate(await offSessionCharge(customer.id, paymentMethod.id, 1200), true);
    expect(passed.status).toBe('succeeded');
    const failed = await authenticate(await offSessionCharge(customer.id, paymentMethod.id, 1200), false);
    expect(failed.status).toBe('requires_payment_method');
    expect(failed.last_payment_error).toMatchObject({ code: 'payment_intent_authentication_failure' });
  });
});

describe('refunds', () => {
  it('refunds part, then the rest, of a succeeded PaymentIntent', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const intent = await offSessionCharge(customer.id, paymentMethod.id, 1000);
    const partial = await stripe.refunds.create({ payment_intent: intent.id, amount: 300 }, { idempotencyKey: 'refund-probe-1' });
    expect(partial.id).toMatch(/^re_/);
    expect(partial).toMatchObject({ status: 'succeeded', amount: 300, currency: 'usd', payment_intent: intent.id, charge: (await chargeOf(intent)).id });
    let charge = await stripe.charges.retrieve(partial.charge as string);
    expect(charge).toMatchObject({ amount_refunded: 300, refunded: false });

    const rest = await stripe.refunds.create({ payment_intent: intent.id, amount: 700 }, { idempotencyKey: 'refund-probe-2' });
    expect(rest.amount).toBe(700);
    charge = await stripe.charges.retrieve(charge.id);
    expect(charge).toMatchObject({ amount_refunded: 1000, refunded: true });
    const listed = await stripe.refunds.list({ payment_intent: intent.id });
    expect(listed.data.map((r) => r.amount).sort((a, b) => a - b)).toEqual([300, 700]);
  });

  it('refunds in full without an amount', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const intent = await offSessionCharge(customer.id, paymentMethod.id, 4200);
    const refund = await stripe.refunds.create({ payment_intent: intent.id }, { idempotencyKey: 'refund-probe-full' });
    expect(refund).toMatchObject({ status: 'succeeded', amount: 4200 });
    expect(await stripe.charges.retrieve(refund.charge as string)).toMatchObject({ amount_refunded: 4200, refunded: true });
  });

  it('quirk: no refund limit and no idempotency: the same key refunds again, past the charged amount', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const intent = await offSessionCharge(customer.id, paymentMethod.id, 1000);
    const first = await stripe.refunds.create({ payment_intent: intent.id, amount: 800 }, { idempotencyKey: 'refund-probe-same' });
    const again = await stripe.refunds.create({ payment_intent: intent.id, amount: 800 }, { idempotencyKey: 'refund-probe-same' });
    expect(again.id).not.toBe(first.id);
    expect(await stripe.charges.retrieve(first.charge as string)).toMatchObject({ amount_refunded: 1600 });
  });

  it('refuses to refund a declined payment', async () => {
    const { customer, paymentMethod } = await customerWithCard('4000000000000341');
    const decline = await rejectionOf(offSessionCharge(customer.id, paymentMethod.id, 1000));
    const charge = await stripe.charges.retrieve(decline.charge as string);
    const error = await rejectionOf(stripe.refunds.create({ payment_intent: charge.payment_intent as string }));
    expect(error).toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 400, message: 'Cannot refund a failed payment.' });
  });
});

describe('balance transactions', () => {
  it('gives a charge and a refund a balance transaction, with no fee', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const intent = await offSessionCharge(customer.id, paymentMethod.id, 1000);
    const expanded = await stripe.paymentIntents.retrieve(intent.id, { expand: ['latest_charge.balance_transaction'] });
    const txn = (expanded.latest_charge as Stripe.Charge).balance_transaction as Stripe.BalanceTransaction;
    expect(txn.id).toMatch(/^txn_/);
    expect(txn).toMatchObject({ object: 'balance_transaction', type: 'charge', amount: 1000, fee: 0, net: 1000, currency: 'usd', fee_details: [] });
    expect(txn.source).toBe((await chargeOf(intent)).id);
    expect(await stripe.balanceTransactions.retrieve(txn.id)).toMatchObject({ id: txn.id, net: 1000 });

    const refund = await stripe.refunds.create({ payment_intent: intent.id, amount: 250 });
    const refundTxn = await stripe.balanceTransactions.retrieve(refund.balance_transaction as string);
    expect(refundTxn).toMatchObject({ type: 'refund', amount: -250, fee: 0, net: -250, source: refund.id });
  });
});

describe('server errors', () => {
  it('answers 500 only on unimplemented paths, e.g. confirming a PaymentIntent with a payment_method', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const intent = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: customer.id });
    const error = await rejectionOf(stripe.paymentIntents.confirm(intent.id, { payment_method: paymentMethod.id }));
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error).toMatchObject({ statusCode: 500, message: 'Not implemented' });
    expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_payment_method');
  });
});

describe('webhooks', () => {
  it('POSTs signed payment_intent events that constructEvent verifies', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const paid = await offSessionCharge(customer.id, paymentMethod.id, 1500);
    const declinedCard = await customerWithCard('4000000000000341');
    const decline = await rejectionOf(offSessionCharge(declinedCard.customer.id, declinedCard.paymentMethod.id, 1500));
    const declinedIntent = (await stripe.charges.retrieve(decline.charge as string)).payment_intent as string;

    const succeeded = await eventually('payment_intent.succeeded', () => deliveredEvent('payment_intent.succeeded', paid.id));
    const failed = await eventually('payment_intent.payment_failed', () => deliveredEvent('payment_intent.payment_failed', declinedIntent));
    await eventually('customer.created', () => deliveredEvent('customer.created', customer.id));

    for (const delivery of deliveries) {
      expect(delivery.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      const event = stripe.webhooks.constructEvent(delivery.rawBody, delivery.signature, WEBHOOK_SECRET);
      expect(event.id).toMatch(/^evt_/);
    }
    expect(succeeded).toMatchObject({ object: 'event', livemode: false, api_version: '2017-08-15' });
    expect(succeeded.data.object).toMatchObject({ id: paid.id, object: 'payment_intent', status: 'succeeded', amount: 1500, metadata: { invoice: 'in_probe' } });
    expect(failed.data.object).toMatchObject({ id: declinedIntent, status: 'requires_payment_method', last_payment_error: { code: 'card_declined' } });
    // The same events can be read back, as Stripe's /v1/events.
    expect((await stripe.events.retrieve(succeeded.id)).type).toBe('payment_intent.succeeded');

    const tampered = deliveries[0].rawBody.replace('"livemode": false', '"livemode": true');
    expect(() => stripe.webhooks.constructEvent(tampered, deliveries[0].signature, WEBHOOK_SECRET)).toThrow(Stripe.errors.StripeSignatureVerificationError);
    expect(() => stripe.webhooks.constructEvent(deliveries[0].rawBody, deliveries[0].signature, 'whsec_wrong')).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    );
  });

  it('lets a test redeliver an event itself: re-signed with generateTestHeaderString, it verifies', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const paid = await offSessionCharge(customer.id, paymentMethod.id, 900);
    // Stripe's events are stored as they happen, so a test can take one without waiting for delivery.
    const events = await stripe.events.list({ type: 'payment_intent.succeeded', limit: 100 }).autoPagingToArray({ limit: 10_000 });
    const event = events.find((e) => (e.data.object as { id?: string }).id === paid.id);
    expect(event).toBeDefined();
    const payload = JSON.stringify(event);
    const header = stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
    expect(stripe.webhooks.constructEvent(payload, header, WEBHOOK_SECRET).id).toBe(event?.id);
  });

  it('sends no charge.* or refund events (only customer, payment_intent, invoice, subscription ones)', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const paid = await offSessionCharge(customer.id, paymentMethod.id, 800);
    await stripe.refunds.create({ payment_intent: paid.id, amount: 800 });
    for (const type of ['charge.succeeded', 'charge.failed', 'charge.refunded', 'refund.created', 'payment_intent.created']) {
      expect((await stripe.events.list({ type, limit: 100 })).data).toEqual([]);
    }
    const events = await stripe.events.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 });
    const types = new Set(events.map((e) => e.type));
    expect([...types].sort()).toEqual(expect.arrayContaining(['customer.created', 'customer.updated', 'payment_intent.succeeded']));
  });
});
