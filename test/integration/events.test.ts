import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { issueCreditNote, writeOffInvoice } from '../../db/adjustment-store';
import { finishAttempt, recordCardPayment } from '../../db/collection-store';
import { forkEm } from '../../db/orm';
import { recordManualPayment } from '../../db/payment-store';
import { recordSubscriptionState } from '../../db/subscription-store';
import { voidInvoice } from '../../db/void-invoice-store';
import { EVENT_TYPES, type EventType } from '../../domain/events';
import { createCustomer } from '../../services/customers';
import { createActivities } from '../../activities';
import { cardTimeSkippingStack, type CardStack } from '../support/card-stack';
import { eventually } from '../support/eventually';
import type { TimeSkippingStack } from '../support/time-skipping-stack';

interface Event {
  id: string;
  object: 'event';
  type: EventType;
  created_at: string;
  data: { object: any };
}

/**
 * The events Perennial reports, each written in the transaction of its fact: a scripted run of
 * customers, subscriptions charged by card through the Stripe emulator on the time-skipping
 * server, invoices paid, declined, refunded, credited, voided and written off, and subscriptions
 * paused, resumed and canceled. Every type appears exactly once per fact with the object as the API
 * shows it; reporting a fact again adds nothing; a fact that rolls back leaves no event. Plan:
 * 10.00 USD a month.
 */
describe('events written where facts happen', () => {
  let cards: CardStack;
  let stack: TimeSkippingStack;
  const running: string[] = [];
  const em = (): EntityManager => forkEm(stack.db.orm)();
  /** Every event that should exist by now, as [type, object id]; the last test checks the outbox holds exactly these. */
  const expected: Array<[EventType, string]> = [];

  beforeAll(async () => {
    cards = await cardTimeSkippingStack('events');
    stack = cards.stack;
    expect((await stack.api.post('/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', amount: '10.00' })).status).toBe(201);
  });

  afterEach(() => cards.endScenario(running.splice(0)));

  afterAll(async () => {
    await cards?.stop();
  });

  /** Every event matching `query`, newest first, read page by page as a client would. */
  async function events(query = ''): Promise<Event[]> {
    const all: Event[] = [];
    for (let after: string | null = null; ; ) {
      const res = await stack.api.get(`/v1/events?limit=100${query ? `&${query}` : ''}${after ? `&starting_after=${after}` : ''}`);
      expect(res.status).toBe(200);
      all.push(...(res.body.data as Event[]));
      if (!res.body.has_more) return all;
      after = all.at(-1)!.id;
    }
  }

  /** The types reported about `objectId`, oldest first. */
  const typesOf = async (objectId: string): Promise<string[]> => (await events(`object_id=${objectId}`)).map((e) => e.type).reverse();
  const count = async (): Promise<number> => (await em().execute<Array<{ n: number }>>('select count(*)::int as n from events'))[0].n;
  /** The one event of `type` about `objectId`; waits for it, since a workflow's query answers a moment before its activity writes. */
  const one = async (type: EventType, objectId: string): Promise<Event> => {
    const found = await eventually(`${type} of ${objectId}`, () => events(`object_id=${objectId}&type=${type}`), (list) => list.length > 0);
    expect(found).toHaveLength(1);
    return found[0];
  };

  async function subscribe(customerId: string, startAt: string): Promise<string> {
    const res = await stack.api.post('/v1/subscriptions', { customer_id: customerId, plan_code: 'basic', start_at: startAt });
    expect(res.status).toBe(201);
    running.push(res.body.workflow_id);
    expected.push(['subscription.created', res.body.id]);
    return res.body.id;
  }

  async function customer(fields: Record<string, unknown> = {}): Promise<string> {
    const res = await stack.api.post('/v1/customers', { name: 'Manual payer', email: 'manual@example.test', currency: 'USD', ...fields });
    expect(res.status).toBe(201);
    expected.push(['customer.created', res.body.id]);
    return res.body.id;
  }

  async function oneOffInvoice(customerId: string, amount: string): Promise<any> {
    const res = await stack.api.post('/v1/invoices', { customer_id: customerId, currency: 'USD', lines: [{ description: 'Consulting', unit_amount: amount }] });
    expect(res.status).toBe(201);
    expected.push(['invoice.created', res.body.id], ['invoice.finalized', res.body.id]);
    return res.body;
  }

  const invoicesOf = async (subscriptionId: string): Promise<any[]> => ((await stack.api.get(`/v1/invoices?subscription_id=${subscriptionId}`)).body.data as any[]).reverse();
  const status = async (subscriptionId: string): Promise<string> => (await stack.api.get(`/v1/subscriptions/${subscriptionId}`)).body.status;

  it('reports a customer created and updated, and a subscription paid by card: created, finalised and paid invoice, succeeded payment', async () => {
    // Given a customer with a good card
    const customerId = await cards.customerWithCard('4242424242424242');
    expected.push(['customer.created', customerId]);
    const created = await one('customer.created', customerId);
    expect(created).toMatchObject({ object: 'event', type: 'customer.created', data: { object: { id: customerId, object: 'customer', name: expect.any(String), currency: 'USD' } } });
    expect((await stack.api.get(`/v1/events/${created.id}`)).body).toEqual(created);

    // When it is renamed, then renamed to the same name again (a retried update)
    expect((await stack.api.post(`/v1/customers/${customerId}`, { name: 'Renamed Payer' })).status).toBe(200);
    expect((await stack.api.post(`/v1/customers/${customerId}`, { name: 'Renamed Payer' })).status).toBe(200);
    expected.push(['customer.updated', customerId]);
    // Then one update is reported, with the new name
    expect((await one('customer.updated', customerId)).data.object).toMatchObject({ id: customerId, name: 'Renamed Payer' });

    // When it subscribes from 1 January 2027 and the first invoice is charged
    const sub = await subscribe(customerId, '2027-01-01T00:00:00Z');
    expect((await one('subscription.created', sub)).data.object).toMatchObject({ id: sub, object: 'subscription', customer_id: customerId, plan_code: 'basic' });
    await stack.skipTo('2027-01-01T00:05:00Z');
    const [invoice] = await eventually('the first invoice is paid', () => invoicesOf(sub), (list) => list[0]?.status === 'paid');

    // Then the invoice is reported created (a draft), finalised (open, numbered), paid; and its payment succeeded
    expect(await typesOf(invoice.id)).toEqual(['invoice.created', 'invoice.finalized', 'invoice.paid']);
    expect((await one('invoice.created', invoice.id)).data.object).toMatchObject({ id: invoice.id, object: 'invoice', status: 'draft', number: null, total: '10.00' });
    expect((await one('invoice.finalized', invoice.id)).data.object).toMatchObject({ id: invoice.id, status: 'open', number: invoice.number, amount_due: '10.00' });
    expect((await one('invoice.paid', invoice.id)).data.object).toMatchObject({ id: invoice.id, status: 'paid', amount_paid: '10.00', amount_due: '0.00' });
    const [payment] = (await events(`customer=${customerId}&type=payment.succeeded`)).map((e) => e.data.object);
    expect(payment).toMatchObject({ object: 'payment', invoice_id: invoice.id, amount: '10.00', method: 'card' });
    expected.push(['invoice.created', invoice.id], ['invoice.finalized', invoice.id], ['invoice.paid', invoice.id], ['payment.succeeded', payment.id]);

    // And the customer's events are theirs alone, newest first
    const mine = await events(`customer=${customerId}`);
    expect(mine.every((e) => e.data.object.customer_id === customerId || e.data.object.id === customerId || e.data.object.invoice_id === invoice.id)).toBe(true);
    expect(mine.map((e) => e.created_at)).toEqual([...mine.map((e) => e.created_at)].sort().reverse());

    // When the subscription is paused, resumed, then canceled now
    expect((await stack.api.post(`/v1/subscriptions/${sub}/pause`, { at: 'now' })).status).toBe(200);
    await eventually('paused', () => status(sub), (s) => s === 'paused');
    expect((await stack.api.post(`/v1/subscriptions/${sub}/resume`, { at: 'now' })).status).toBe(200);
    await eventually('resumed', () => status(sub), (s) => s === 'active');
    expect((await stack.api.post(`/v1/subscriptions/${sub}/cancel`, { at: 'now' })).status).toBe(200);
    await eventually('canceled', () => status(sub), (s) => s === 'canceled');
    expected.push(['subscription.paused', sub], ['subscription.resumed', sub], ['subscription.canceled', sub]);

    // Then each move is reported once, with the subscription as it stood after it
    expect((await one('subscription.paused', sub)).data.object).toMatchObject({ id: sub, status: 'paused' });
    expect((await one('subscription.resumed', sub)).data.object).toMatchObject({ id: sub, status: 'active' });
    expect((await one('subscription.canceled', sub)).data.object).toMatchObject({ id: sub, status: 'canceled', canceled_at: expect.any(String) });
    expect(await typesOf(sub)).toEqual(expect.arrayContaining(['subscription.created', 'subscription.paused', 'subscription.resumed', 'subscription.canceled']));
    // Whatever else changed (the start of billing, the period) is an update, never a second pause or cancel.
    expect((await typesOf(sub)).filter((t) => !['subscription.created', 'subscription.paused', 'subscription.resumed', 'subscription.canceled'].includes(t)).every((t) => t === 'subscription.updated')).toBe(true);
  });

  it('reports a declined card: a failed payment and a failed invoice payment for the attempt, and the subscription past due', async () => {
    // Given a customer whose card is declined, subscribed from 1 March 2027
    const customerId = await cards.customerWithCard('4000000000000341');
    expected.push(['customer.created', customerId]);
    const sub = await subscribe(customerId, '2027-03-01T00:00:00Z');
    // When the first charge is declined
    await stack.skipTo('2027-03-01T00:05:00Z');
    await eventually('past due', () => status(sub), (s) => s === 'past_due');
    const [invoice] = await invoicesOf(sub);

    // Then the failed attempt is reported, its invoice's failed payment, and the subscription past due
    const failed = await one('payment.failed', (await events(`customer=${customerId}&type=payment.failed`))[0].data.object.id);
    expect(failed.data.object).toMatchObject({ object: 'payment_attempt', invoice_id: invoice.id, attempt: 1, status: 'failed', amount: '10.00', customer_id: customerId });
    expect(failed.data.object.failure_code ?? failed.data.object.decline_code).toEqual(expect.any(String));
    expect((await one('invoice.payment_failed', invoice.id)).data.object).toMatchObject({ id: invoice.id, status: 'open', amount_due: '10.00' });
    expect((await one('subscription.past_due', sub)).data.object).toMatchObject({ id: sub, status: 'past_due' });
    // (invoice.payment_failed is once per declined attempt, counted below.)
    expected.push(['payment.failed', failed.data.object.id], ['subscription.past_due', sub]);
    expected.push(['invoice.created', invoice.id], ['invoice.finalized', invoice.id]);

    // When the same decline is recorded again (the charge activity retried after a crash)
    const before = await count();
    await finishAttempt(em(), invoice.id, 1, { status: 'failed', paymentIntentId: failed.data.object.payment_intent_id, failureCode: 'card_declined', declineCode: 'generic_decline', message: 'declined', hardDecline: false });
    // Then nothing more is reported
    expect(await count()).toBe(before);

    // When every retry of the dunning schedule (1, 3, 5 and 7 days) is declined too
    await stack.skipTo('2027-03-08T01:00:00Z');
    await eventually('suspended', () => status(sub), (s) => s === 'suspended');
    // Then each declined attempt is reported once, as a failed payment and a failed invoice payment
    const [{ n: declined }] = await em().execute<Array<{ n: number }>>(`select count(*)::int as n from payment_attempts where invoice_id = ? and status = 'failed'`, [invoice.id]);
    expect(declined).toBe(5);
    expect((await events(`customer=${customerId}&type=payment.failed`)).map((e) => e.data.object.attempt).sort()).toEqual([1, 2, 3, 4, 5]);
    expect(await events(`object_id=${invoice.id}&type=invoice.payment_failed`)).toHaveLength(5);
    // And the suspension is reported once, for the customer's service to act on (the workflow's status moves a moment before)
    await eventually('suspension reported', () => events(`object_id=${sub}&type=subscription.suspended`), (list) => list.length > 0);
    expect((await one('subscription.suspended', sub)).data.object).toMatchObject({ id: sub, status: 'suspended' });
    expected.push(['subscription.suspended', sub]);
    // A retry of the workflow's activity (same key) reports nothing more
    const suspendedCount = await count();
    await createActivities({ orm: stack.db.orm }).notifyProvisioning({ key: `suspend:${invoice.id}`, subscriptionId: sub, invoiceId: invoice.id, type: 'subscription.suspended', at: '2027-03-08T00:00:00Z' });
    expect(await count()).toBe(suspendedCount);

    // When the invoice is paid by hand (a wire), with an Idempotency-Key, and the request is retried
    const key = { 'idempotency-key': `wire-${invoice.id}` };
    const paid = await stack.api.post(`/v1/invoices/${invoice.id}/payments`, { amount: '10.00', reference: 'wire' }, key);
    expect(paid.status).toBe(201);
    const replay = await stack.api.post(`/v1/invoices/${invoice.id}/payments`, { amount: '10.00', reference: 'wire' }, key);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    // Then one payment and one paid invoice are reported
    expect((await one('payment.succeeded', paid.body.id)).data.object).toMatchObject({ id: paid.body.id, method: 'manual', amount: '10.00' });
    expect((await one('invoice.paid', invoice.id)).data.object).toMatchObject({ status: 'paid' });
    expected.push(['payment.succeeded', paid.body.id], ['invoice.paid', invoice.id]);
    await eventually('active again', () => status(sub), (s) => s === 'active');
    // Then the service is told to resume it, once
    await eventually('resumption reported', () => events(`object_id=${sub}&type=subscription.resumed`), (list) => list.length > 0);
    expect((await one('subscription.resumed', sub)).data.object).toMatchObject({ id: sub, status: 'active' });
    expected.push(['subscription.resumed', sub]);
  });

  it("reports a trial's coming end three days before it", async () => {
    expect((await stack.api.post('/v1/plans', { code: 'trial', name: 'Trial', currency: 'USD', interval: 'month', amount: '10.00', trial_days: 14 })).status).toBe(201);
    const customerId = await cards.customerWithCard('4242424242424242');
    expected.push(['customer.created', customerId]);
    // Given a 14-day trial from 1 May 2027 (it ends on 15 May)
    const res = await stack.api.post('/v1/subscriptions', { customer_id: customerId, plan_code: 'trial', start_at: '2027-05-01T00:00:00Z' });
    expect(res.status).toBe(201);
    const sub = res.body.id;
    running.push(res.body.workflow_id);
    expected.push(['subscription.created', sub]);
    await stack.skipTo('2027-05-01T00:05:00Z');
    await eventually('trialing', () => status(sub), (s) => s === 'trialing');
    // When 11 days pass: nothing yet
    await stack.skipTo('2027-05-11T23:00:00Z');
    expect(await events(`object_id=${sub}&type=subscription.trial_will_end`)).toEqual([]);
    // Then on 12 May, three days before the end, the trial's end is reported once, with the trial's end
    await stack.skipTo('2027-05-12T00:05:00Z');
    const warned = await eventually('the trial will end', () => events(`object_id=${sub}&type=subscription.trial_will_end`), (list) => list.length > 0);
    expect(warned).toHaveLength(1);
    expect(warned[0].data.object).toMatchObject({ id: sub, status: 'trialing', trial_end: '2027-05-15T00:00:00.000Z' });
    expected.push(['subscription.trial_will_end', sub]);
    // A retry of its activity reports nothing more
    const warnedCount = await count();
    await createActivities({ orm: stack.db.orm }).reportTrialWillEnd({ subscriptionId: sub, trialEnd: '2027-05-15T00:00:00.000Z' });
    expect(await count()).toBe(warnedCount);
    // And the trial ending and the first invoice report nothing more of it
    await stack.skipTo('2027-05-15T00:05:00Z');
    await eventually('active', () => status(sub), (s) => s === 'active');
    expect(await events(`object_id=${sub}&type=subscription.trial_will_end`)).toHaveLength(1);
  });

  it('reports refunds, credit notes, voids and write-offs of invoices made by hand', async () => {
    const customerId = await customer();
    // A paid invoice, refunded in part, then credited in part
    const paidInvoice = await oneOffInvoice(customerId, '30.00');
    const payment = await stack.api.post(`/v1/invoices/${paidInvoice.id}/payments`, { amount: '30.00' });
    expect(payment.status).toBe(201);
    expected.push(['payment.succeeded', payment.body.id], ['invoice.paid', paidInvoice.id]);
    const refund = await stack.api.post(`/v1/invoices/${paidInvoice.id}/refunds`, { amount: '5.00', reason: 'goodwill' });
    expect(refund.status).toBe(201);
    const [refunded] = refund.body.refunds;
    expect((await one('refund.created', refunded.id)).data.object).toEqual(refunded);
    expected.push(['refund.created', refunded.id]);
    const note = await stack.api.post(`/v1/invoices/${paidInvoice.id}/credit_notes`, { amount: '7.00', reason: 'service credit' });
    expect(note.status).toBe(201);
    expect((await one('credit_note.created', note.body.id)).data.object).toMatchObject({ id: note.body.id, object: 'credit_note', amount: '7.00', kind: 'customer_balance' });
    expected.push(['credit_note.created', note.body.id]);

    // An open invoice voided
    const voided = await oneOffInvoice(customerId, '12.00');
    expect((await stack.api.post(`/v1/invoices/${voided.id}/void`, {})).status).toBe(200);
    expect((await one('invoice.voided', voided.id)).data.object).toMatchObject({ id: voided.id, status: 'void', voided_at: expect.any(String) });
    expected.push(['invoice.voided', voided.id]);

    // An open invoice written off, twice (the second changes nothing)
    const writtenOff = await oneOffInvoice(customerId, '8.00');
    expect((await stack.api.post(`/v1/invoices/${writtenOff.id}/mark_uncollectible`, {})).status).toBe(200);
    expect((await stack.api.post(`/v1/invoices/${writtenOff.id}/mark_uncollectible`, {})).status).toBe(200);
    expect((await one('invoice.marked_uncollectible', writtenOff.id)).data.object).toMatchObject({ id: writtenOff.id, status: 'uncollectible' });
    expected.push(['invoice.marked_uncollectible', writtenOff.id]);

    // A credit note that settles an open invoice whole voids it: reported as the note and as the void
    const credited = await oneOffInvoice(customerId, '4.00');
    const settling = await stack.api.post(`/v1/invoices/${credited.id}/credit_notes`, { amount: '4.00' });
    expect(settling.status).toBe(201);
    expect((await one('invoice.voided', credited.id)).data.object).toMatchObject({ status: 'void', amount_credited: '4.00' });
    expected.push(['credit_note.created', settling.body.id], ['invoice.voided', credited.id]);

    // Reporting the same facts again adds nothing: the same credit note key, the same card payment
    const before = await count();
    const [{ idempotency_key: noteKey }] = await em().execute<Array<{ idempotency_key: string }>>('select idempotency_key from credit_notes where id = ?', [note.body.id]);
    await issueCreditNote(em(), { invoiceId: paidInvoice.id, amount: new Decimal('7.00'), idempotencyKey: noteKey });
    await writeOffInvoice(em(), { invoiceId: writtenOff.id, at: new Date() });
    expect(await count()).toBe(before);
  });

  it('reports nothing for a fact whose transaction rolls back', async () => {
    const customerId = await customer();
    const invoice = await oneOffInvoice(customerId, '20.00');
    const before = await count();
    const refuse = async () => {
      throw new Error('the request failed after the fact was written');
    };
    await expect(createCustomer(em(), { name: 'Never', email: 'never@example.test', currency: 'USD' }, refuse)).rejects.toThrow('the request failed');
    await expect(recordManualPayment(em(), { invoiceId: invoice.id, amount: new Decimal('20.00'), reference: null, receivedAt: new Date() }, refuse)).rejects.toThrow('the request failed');
    await expect(issueCreditNote(em(), { invoiceId: invoice.id, amount: new Decimal('1.00'), idempotencyKey: 'rolled-back-note' }, refuse)).rejects.toThrow('the request failed');
    await expect(writeOffInvoice(em(), { invoiceId: invoice.id, at: new Date() }, refuse)).rejects.toThrow('the request failed');
    await expect(voidInvoice(em(), invoice.id, new Date(), refuse)).rejects.toThrow('the request failed');
    // Then the outbox holds nothing of them, and the invoice is as it was
    expect(await count()).toBe(before);
    expect((await stack.api.get(`/v1/invoices/${invoice.id}`)).body).toMatchObject({ status: 'open', amount_due: '20.00', amount_paid: '0.00' });
    const [{ n: customers }] = await em().execute<Array<{ n: number }>>(`select count(*)::int as n from customers where email = 'never@example.test'`);
    expect(customers).toBe(0);
    // A card payment that arrives in another currency is refused whole: no payment, no event.
    await expect(recordCardPayment(em(), { invoiceId: invoice.id, paymentIntentId: 'pi_wrong_currency', amount: new Decimal('20.00'), currency: 'eur', fee: null, receivedAt: new Date() })).rejects.toThrow('not recorded');
    expect(await count()).toBe(before);
    // A late, older state of a subscription changes nothing and reports nothing.
    const [{ id: sub, customer_id }] = await em().execute<Array<{ id: string; customer_id: string }>>(`select id, customer_id from subscriptions order by created_at limit 1`);
    await recordSubscriptionState(em(), {
      subscriptionId: sub,
      customerId: customer_id,
      planCode: 'basic',
      status: 'active',
      startAt: new Date().toISOString(),
      trialEnd: null,
      currentPeriod: null,
      cancelAtPeriodEnd: false,
      canceledAt: null,
      nextBillingAt: null,
      upcoming: [],
      stateVersion: 1,
    });
    expect(await count()).toBe(before);
  });

  it('lists events by type, object and customer, pages through them, and answers an unknown one with 404', async () => {
    const all = await events();
    // Every fact of the scenarios above is reported exactly once
    const reported = all.map((e) => `${e.type} ${e.data.object.id}`).sort();
    const wanted = expected.map(([type, id]) => `${type} ${id}`).sort();
    for (const fact of wanted) expect(reported.filter((r) => r === fact)).toHaveLength(1);
    // and no fact is reported twice
    const twice = reported.filter((r, i) => r === reported[i - 1] && !r.startsWith('subscription.updated') && !r.startsWith('invoice.payment_failed'));
    expect(twice).toEqual([]);
    // Each type the scenarios cover is there
    const covered = new Set(all.map((e) => e.type));
    expect(EVENT_TYPES.filter((t) => !covered.has(t))).toEqual([]);

    const invoiceEvents = await events('type=invoice.paid');
    expect(invoiceEvents.length).toBeGreaterThan(0);
    expect(invoiceEvents.every((e) => e.type === 'invoice.paid' && e.data.object.object === 'invoice')).toBe(true);

    const first = await stack.api.get('/v1/events?limit=2');
    expect(first.body).toMatchObject({ object: 'list', url: '/v1/events', has_more: true });
    const second = await stack.api.get(`/v1/events?limit=2&starting_after=${first.body.data[1].id}`);
    expect(second.body.data.map((e: Event) => e.id)).toEqual(all.slice(2, 4).map((e) => e.id));
    const back = await stack.api.get(`/v1/events?limit=2&ending_before=${second.body.data[0].id}`);
    expect(back.body.data.map((e: Event) => e.id)).toEqual(all.slice(0, 2).map((e) => e.id));
    const since = await stack.api.get(`/v1/events?limit=100&created[gte]=${encodeURIComponent(all[1].created_at)}`);
    expect(since.body.data.map((e: Event) => e.id)).toEqual(expect.arrayContaining(all.slice(0, 2).map((e) => e.id)));
    const until = await stack.api.get(`/v1/events?limit=100&created[lt]=${encodeURIComponent(all.at(-1)!.created_at)}`);
    expect(until.body.data).toEqual([]);

    const missing = await stack.api.get('/v1/events/evt_missing');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ type: 'not_found_error', code: 'resource_missing' });
    const badCursor = await stack.api.get('/v1/events?starting_after=evt_missing');
    expect(badCursor.status).toBe(400);
    expect(badCursor.body.error).toMatchObject({ code: 'resource_missing', param: 'starting_after' });
    const badType = await stack.api.get('/v1/events?type=invoice.exploded');
    expect(badType.status).toBe(400);
  });
});
