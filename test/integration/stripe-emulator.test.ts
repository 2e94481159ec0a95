import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import { startStripeEmulator, startStripeFront, type StripeEmulator, type StripeFront } from '../../scripts/stripe-emulator';
import { freePort } from '../../scripts/wait-for-port';
import { authenticatePaymentIntent, registerEmulatorWebhook, stripeClient } from '../support/stripe';

/**
 * What the Stripe emulator (localstripe behind the front of scripts/stripe-emulator.ts) reproduces,
 * through the official SDK, of the Stripe behaviour the collection code relies on. Where it departs
 * from Stripe, the test pins the departure (named "quirk") so an upgrade that changes it is noticed.
 * `stripe` goes through the front, as every client does; `bare` reaches localstripe alone.
 */

const WEBHOOK_SECRET = 'whsec_perennial_probe';

interface Delivery {
  rawBody: string;
  signature: string;
}

let emulator: StripeEmulator;
let stripe: Stripe;
let bare: Stripe;
let hookServer: Server;
const deliveries: Delivery[] = [];

beforeAll(async () => {
  const logDir = await mkdtemp(join(tmpdir(), 'perennial-localstripe-'));
  emulator = await startStripeEmulator({ port: await freePort(), logFile: join(logDir, 'localstripe.log') });
  stripe = stripeClient(emulator.apiBase);
  bare = stripeClient(emulator.upstreamBase);

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

afterEach(() => {
  emulator.front.rules.splice(0);
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

function offSessionCharge(customer: string, paymentMethod: string, amount: number, idempotencyKey?: string, client: Stripe = stripe): Promise<Stripe.Response<Stripe.PaymentIntent>> {
  return client.paymentIntents.create(
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

  it('quirk: localstripe alone ignores Idempotency-Key, so the same key charges again (the front replays)', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const first = await offSessionCharge(customer.id, paymentMethod.id, 500, 'same-key', bare);
    const again = await offSessionCharge(customer.id, paymentMethod.id, 500, 'same-key', bare);
    const other = await offSessionCharge(customer.id, paymentMethod.id, 500, 'other-key', bare);
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

  it('finds a PaymentIntent by id, and lists a customer\'s through the front (localstripe alone takes no list filter; search is not supported)', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const other = await customerWithCard();
    const first = await offSessionCharge(customer.id, paymentMethod.id, 700);
    const second = await offSessionCharge(customer.id, paymentMethod.id, 800);
    await offSessionCharge(other.customer.id, other.paymentMethod.id, 900);
    expect((await stripe.paymentIntents.retrieve(first.id)).status).toBe('succeeded');
    const listByCustomer = await rejectionOf(bare.paymentIntents.list({ customer: customer.id }));
    expect(listByCustomer).toMatchObject({ type: 'StripeInvalidRequestError', statusCode: 400, message: 'Unexpected customer' });
    const listed: string[] = [];
    for await (const intent of stripe.paymentIntents.list({ customer: customer.id, limit: 1 })) listed.push(intent.id);
    expect(listed.sort()).toEqual([first.id, second.id].sort());
    const search = await rejectionOf(stripe.paymentIntents.search({ query: "metadata['invoice']:'in_probe'" }));
    expect(search).toMatchObject({ statusCode: 404 });
  });
});

describe('idempotency, as Stripe keeps it (the front)', () => {
  /** A rule for this test's charges only: they carry `marker` in their metadata. */
  const marked = (marker: string) => (method: string, path: string, body: string) => method === 'POST' && path === '/v1/payment_intents' && body.includes(marker);

  function markedCharge(client: Stripe, customer: string, paymentMethod: string, marker: string, amount: number, idempotencyKey: string) {
    return client.paymentIntents.create(
      { amount, currency: 'usd', customer, payment_method: paymentMethod, off_session: true, confirm: true, metadata: { marker } },
      { idempotencyKey },
    );
  }

  it('the same key with the same parameters runs once: the SDK gets the same PaymentIntent, marked Idempotent-Replayed', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const first = await offSessionCharge(customer.id, paymentMethod.id, 500, 'idem-same');
    const again = await offSessionCharge(customer.id, paymentMethod.id, 500, 'idem-same');
    expect(again.id).toBe(first.id);
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(again.lastResponse.requestId).toMatch(/^req_/);
    expect(again.lastResponse.headers['original-request']).toBe(first.lastResponse.requestId);
    expect(emulator.front.replayed).toContain('idem-same');
    expect((await stripe.charges.list({ customer: customer.id })).data).toHaveLength(1);
  });

  it('the same key with other parameters, or on another endpoint, is a 400 idempotency_error: StripeIdempotencyError', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    await offSessionCharge(customer.id, paymentMethod.id, 500, 'idem-other');
    const other = await rejectionOf(offSessionCharge(customer.id, paymentMethod.id, 501, 'idem-other'));
    expect(other).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(other).toMatchObject({ statusCode: 400, rawType: 'idempotency_error' });
    expect(other.message).toBe(
      "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than 'idem-other' if you meant to execute a different request.",
    );
    const elsewhere = await rejectionOf(stripe.customers.create({ email: 'probe@example.com' }, { idempotencyKey: 'idem-other' }));
    expect(elsewhere).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(elsewhere.message).toMatch(/^Keys for idempotent requests can only be used for the same endpoint they were first used for \('\/v1\/payment_intents' vs '\/v1\/customers'\)/);
    expect((await stripe.charges.list({ customer: customer.id })).data).toHaveLength(1);
  });

  it('a decline (402) is replayed; an answer refused before Stripe acted (400) is not saved, so the key stays free', async () => {
    const { customer, paymentMethod } = await customerWithCard('4000000000000341');
    const declined = await rejectionOf(offSessionCharge(customer.id, paymentMethod.id, 900, 'idem-decline'));
    const replayed = await rejectionOf(offSessionCharge(customer.id, paymentMethod.id, 900, 'idem-decline'));
    expect(replayed).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(replayed.charge).toBe(declined.charge);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect((await stripe.charges.list({ customer: customer.id })).data).toHaveLength(1);

    const good = await customerWithCard();
    const params = { amount: 900, currency: 'usd', customer: good.customer.id, payment_method: good.paymentMethod.id, off_session: true, confirm: true };
    const refused = await rejectionOf(stripe.paymentIntents.create({ ...params, description: 'not modelled' }, { idempotencyKey: 'idem-refused' }));
    expect(refused).toMatchObject({ statusCode: 400, rawType: 'invalid_request_error' });
    expect((await stripe.paymentIntents.create(params, { idempotencyKey: 'idem-refused' })).status).toBe('succeeded');
  });

  it('a 500 from the endpoint is replayed, and marked not to be retried; an injected 500 (before Stripe) is not saved', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const intent = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: customer.id });
    const first = await rejectionOf(stripe.paymentIntents.confirm(intent.id, { payment_method: paymentMethod.id }, { idempotencyKey: 'idem-500' }));
    const again = await rejectionOf(stripe.paymentIntents.confirm(intent.id, { payment_method: paymentMethod.id }, { idempotencyKey: 'idem-500' }));
    expect(first).toMatchObject({ statusCode: 500, message: 'Not implemented' });
    expect(first.headers['stripe-should-retry']).toBe('false');
    expect(again).toMatchObject({ statusCode: 500, message: 'Not implemented' });
    expect(again.headers['idempotent-replayed']).toBe('true');

    const rule = { matches: marked('idem-injected'), failTimes: 1 };
    emulator.front.rules.push(rule);
    const forwardedBefore = emulator.front.forwarded.length;
    const injected = await rejectionOf(markedCharge(stripe, customer.id, paymentMethod.id, 'idem-injected', 700, 'idem-injected'));
    expect(injected).toMatchObject({ statusCode: 500, message: 'injected fault' });
    expect(injected.headers['stripe-should-retry']).toBeUndefined();
    const retried = await markedCharge(stripe, customer.id, paymentMethod.id, 'idem-injected', 700, 'idem-injected');
    expect(retried.status).toBe('succeeded');
    expect(retried.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(rule.failTimes).toBe(0);
    expect(emulator.front.forwarded.length - forwardedBefore).toBe(1);
  });

  it('a request while the first with its key is still running is a 409 idempotency_key_in_use; the SDK retries 409s and gets the first answer', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    emulator.front.rules.push({ matches: marked('idem-concurrent'), delayMs: 1500 });
    const first = markedCharge(stripe, customer.id, paymentMethod.id, 'idem-concurrent', 800, 'idem-concurrent');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const conflict = await rejectionOf(markedCharge(stripe, customer.id, paymentMethod.id, 'idem-concurrent', 800, 'idem-concurrent'));
    // A 409 is no 400: the SDK makes it a StripeAPIError, with Stripe's type and code.
    expect(conflict).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(conflict).toMatchObject({ statusCode: 409, rawType: 'idempotency_error', code: 'idempotency_key_in_use' });
    expect(conflict.message).toMatch(/^There is currently another in-progress request using this Idempotent Key/);

    const patient = stripeClient(emulator.apiBase, { maxNetworkRetries: 5 });
    const waited = await markedCharge(patient, customer.id, paymentMethod.id, 'idem-concurrent', 800, 'idem-concurrent');
    const original = await first;
    expect(waited.id).toBe(original.id);
    expect(waited.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect((await stripe.charges.list({ customer: customer.id })).data).toHaveLength(1);
  });

  it('a timeout after Stripe acted: the SDK retries with the same key (409 while Stripe works, then the replay), one PaymentIntent', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    emulator.front.rules.push({ matches: marked('idem-timeout'), delayMs: 1000 });
    const impatient = stripeClient(emulator.apiBase, { maxNetworkRetries: 4, timeoutMs: 300 });
    const intent = await markedCharge(impatient, customer.id, paymentMethod.id, 'idem-timeout', 600, 'idem-timeout');
    expect(intent.status).toBe('succeeded');
    expect(intent.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect((await stripe.charges.list({ customer: customer.id })).data).toHaveLength(1);
  });

  it('an answer lost on the way back (the connection cut after Stripe acted) is replayed by the SDK’s own retry', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    let cut = 0;
    emulator.front.rules.push({ matches: marked('idem-drop'), beforeReply: async () => (cut++ === 0 ? 'drop' : undefined) });
    // No key of ours: the SDK keys every POST, and retries a reset connection once even with retries off.
    const intent = await stripe.paymentIntents.create({
      amount: 650,
      currency: 'usd',
      customer: customer.id,
      payment_method: paymentMethod.id,
      off_session: true,
      confirm: true,
      metadata: { marker: 'idem-drop' },
    });
    expect(cut).toBe(1);
    expect(intent.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect((await stripe.charges.list({ customer: customer.id })).data).toHaveLength(1);
  });

  it('keys belong to one API key: the same key under another secret key is another request', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const mine = await offSessionCharge(customer.id, paymentMethod.id, 400, 'idem-scoped');
    const theirs = await offSessionCharge(customer.id, paymentMethod.id, 400, 'idem-scoped', stripeClient(emulator.apiBase, { apiKey: 'sk_test_someone_else' }));
    expect(theirs.id).not.toBe(mine.id);
  });

  describe('expiry', () => {
    let shortLived: StripeFront;
    beforeAll(async () => {
      shortLived = await startStripeFront({ upstreamBase: emulator.upstreamBase, idempotencyTtlMs: 1000 });
    });
    afterAll(async () => {
      await shortLived?.close();
    });

    it('forgets a key once it is older than the configured time (Stripe: 24 hours): the same key then charges again', async () => {
      expect(emulator.front.keys.ttlMs).toBe(24 * 60 * 60 * 1000);
      const client = stripeClient(shortLived.apiBase);
      const { customer, paymentMethod } = await customerWithCard();
      const first = await offSessionCharge(customer.id, paymentMethod.id, 300, 'idem-expiring', client);
      expect((await offSessionCharge(customer.id, paymentMethod.id, 300, 'idem-expiring', client)).id).toBe(first.id);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const later = await offSessionCharge(customer.id, paymentMethod.id, 300, 'idem-expiring', client);
      expect(later.id).not.toBe(first.id);
      expect(later.lastResponse.headers['idempotent-replayed']).toBeUndefined();
      expect((await stripe.charges.list({ customer: customer.id })).data).toHaveLength(2);
      // Other parameters after expiry are a new request too, not an idempotency error.
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await offSessionCharge(customer.id, paymentMethod.id, 301, 'idem-expiring', client)).amount).toBe(301);
    });
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
    ['incorrect number', '4242424242424241'],
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

  it('quirk: 4100000000000019 (Stripe: blocked as fraudulent) attaches and is charged like any card', async () => {
    const { customer, paymentMethod } = await customerWithCard('4100000000000019');
    const intent = await offSessionCharge(customer.id, paymentMethod.id, 1000);
    expect(intent.status).toBe('succeeded');
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
    // A key of each case's own: the front, as Stripe, refuses a key reused with other parameters.
    const error = await rejectionOf(offSessionCharge(customer.id, paymentMethod.id, 2500, `inv_probe_decline_${card}:attempt_1`));
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
  it.each(['4000002760003184', '4000002500003155', '4000000000003220', '4000000000003063'])(
    'off session, %s leaves the PaymentIntent requires_action (no error)',
    async (number) => {
      const { customer, paymentMethod } = await customerWithCard(number);
      const intent = await offSessionCharge(customer.id, paymentMethod.id, 1200);
      expect(intent.status).toBe('requires_action');
      expect(intent.next_action).toMatchObject({ type: 'use_stripe_sdk' });
      expect(intent.latest_charge).toBeNull();
      expect(intent.last_payment_error).toBeNull();
    },
  );

  it('completing the authentication through localstripe’s /_authenticate route charges the card, and payment_intent.succeeded is delivered', async () => {
    const { customer, paymentMethod } = await customerWithCard('4000002760003184');
    const intent = await offSessionCharge(customer.id, paymentMethod.id, 1200);
    expect(intent.status).toBe('requires_action');
    const passed = await authenticatePaymentIntent(emulator.apiBase, intent, true);
    expect(passed.status).toBe(200);
    expect(passed.body).toMatchObject({ id: intent.id, status: 'succeeded', next_action: null });
    const charge = await chargeOf(await stripe.paymentIntents.retrieve(intent.id));
    expect(charge).toMatchObject({ status: 'succeeded', amount: 1200, payment_intent: intent.id });
    const event = await eventually('payment_intent.succeeded after authentication', () => deliveredEvent('payment_intent.succeeded', intent.id));
    expect(event.data.object).toMatchObject({ id: intent.id, status: 'succeeded' });
    // A second completion is refused: the intent no longer waits for one.
    expect((await authenticatePaymentIntent(emulator.apiBase, intent, true)).status).toBe(400);
    // The client secret is the credential of this route.
    expect((await authenticatePaymentIntent(emulator.apiBase, { id: intent.id, client_secret: 'wrong' }, true)).status).toBe(401);
  });

  it('quirk: a failed authentication leaves requires_payment_method, drops the payment method, and sends no event', async () => {
    const { customer, paymentMethod } = await customerWithCard('4000002500003155');
    const intent = await offSessionCharge(customer.id, paymentMethod.id, 1200);
    const failed = await authenticatePaymentIntent(emulator.apiBase, intent, false);
    expect(failed.status).toBe(200);
    expect(failed.body).toMatchObject({ status: 'requires_payment_method', payment_method: null, latest_charge: null });
    expect(failed.body.last_payment_error).toMatchObject({ code: 'payment_intent_authentication_failure' });
    const failures = await stripe.events.list({ type: 'payment_intent.payment_failed', limit: 100 }).autoPagingToArray({ limit: 10_000 });
    expect(failures.filter((e) => (e.data.object as { id?: string }).id === intent.id)).toEqual([]);
  });

  it('4000008260003178 asks for authentication and then declines the charge: a 402 from /_authenticate, payment_intent.payment_failed', async () => {
    const { customer, paymentMethod } = await customerWithCard('4000008260003178');
    const intent = await offSessionCharge(customer.id, paymentMethod.id, 1200);
    expect(intent.status).toBe('requires_action');
    const declined = await authenticatePaymentIntent(emulator.apiBase, intent, true);
    expect(declined.status).toBe(402);
    expect(declined.body.error).toMatchObject({ code: 'card_declined', charge: expect.stringMatching(/^ch_/) });
    expect(declined.body.error.decline_code).toBeUndefined();
    expect((await stripe.paymentIntents.retrieve(intent.id)).status).toBe('requires_payment_method');
    await eventually('payment_intent.payment_failed after authentication', () => deliveredEvent('payment_intent.payment_failed', intent.id));
  });
});

describe('PaymentIntent states', () => {
  it('capture_method manual: requires_capture until captured, then succeeded; a partial capture refunds the rest', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const intent = await stripe.paymentIntents.create({ amount: 1000, currency: 'usd', customer: customer.id, payment_method: paymentMethod.id, confirm: true, capture_method: 'manual' });
    expect(intent.status).toBe('requires_capture');
    const captured = await stripe.paymentIntents.capture(intent.id, { amount_to_capture: 600 });
    expect(captured.status).toBe('succeeded');
    expect(await chargeOf(captured)).toMatchObject({ captured: true, amount: 1000, amount_refunded: 400 });
    await eventually('payment_intent.succeeded after capture', () => deliveredEvent('payment_intent.succeeded', intent.id));
  });

  it('cancels an intent waiting for authentication (no parameters accepted), and not a succeeded one', async () => {
    const { customer, paymentMethod } = await customerWithCard('4000002760003184');
    const waiting = await offSessionCharge(customer.id, paymentMethod.id, 800);
    const reason = await rejectionOf(stripe.paymentIntents.cancel(waiting.id, { cancellation_reason: 'abandoned' }));
    expect(reason).toMatchObject({ statusCode: 400, message: 'Unexpected cancellation_reason' });
    const canceled = await stripe.paymentIntents.cancel(waiting.id);
    expect(canceled).toMatchObject({ status: 'canceled', next_action: null });

    const paid = await customerWithCard();
    const succeeded = await offSessionCharge(paid.customer.id, paid.paymentMethod.id, 800);
    expect(await rejectionOf(stripe.paymentIntents.cancel(succeeded.id))).toMatchObject({ statusCode: 400, message: 'Bad request' });
  });

  it('quirk: refunding an intent without a charge (requires_action) crashes localstripe (a plain-text 500, made JSON by the front)', async () => {
    const { customer, paymentMethod } = await customerWithCard('4000002760003184');
    const waiting = await offSessionCharge(customer.id, paymentMethod.id, 800);
    const crash = await rejectionOf(bare.refunds.create({ payment_intent: waiting.id, amount: 100 }));
    expect(crash).toMatchObject({ type: 'StripeAPIError', message: 'Invalid JSON received from the Stripe API' });
    const error = await rejectionOf(stripe.refunds.create({ payment_intent: waiting.id, amount: 100 }));
    expect(error).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(error).toMatchObject({ statusCode: 500, rawType: 'api_error' });
    expect(error.message).toMatch(/^localstripe answered 500: /);
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

  it('replays a refund for the same key through the front; localstripe alone refunds again', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const intent = await offSessionCharge(customer.id, paymentMethod.id, 1000);
    const first = await stripe.refunds.create({ payment_intent: intent.id, amount: 300 }, { idempotencyKey: 'refund-probe-same' });
    const replayed = await stripe.refunds.create({ payment_intent: intent.id, amount: 300 }, { idempotencyKey: 'refund-probe-same' });
    expect(replayed.id).toBe(first.id);
    expect(replayed.lastResponse.headers['idempotent-replayed']).toBe('true');
    const again = await bare.refunds.create({ payment_intent: intent.id, amount: 300 }, { idempotencyKey: 'refund-probe-same' });
    expect(again.id).not.toBe(first.id);
    expect(await stripe.charges.retrieve(first.charge as string)).toMatchObject({ amount_refunded: 600 });
  });

  it('quirk: no refund limit: refunds past the charged amount succeed', async () => {
    const { customer, paymentMethod } = await customerWithCard();
    const intent = await offSessionCharge(customer.id, paymentMethod.id, 1000);
    await stripe.refunds.create({ payment_intent: intent.id, amount: 800 });
    await stripe.refunds.create({ payment_intent: intent.id, amount: 800 });
    expect(await stripe.charges.retrieve((await chargeOf(intent)).id)).toMatchObject({ amount_refunded: 1600, refunded: true });
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
