import Decimal from 'decimal.js';
import { scenarios, total, type Scenarios } from '../../support/scenarios';
import { subscriptionWorkflowId } from '../../../workflows/messages';

/**
 * Pause and resume, cancellation (at period end, now, at a date, with and without proration),
 * reactivation, trials ended early or moved, the changes that are refused, a $0 plan, and the
 * subscription's own account of what comes next. Every expected invoice is worked out by hand in
 * the scenario; a month of 30 days on a $30.00 plan (or of 31 days on a $31.00 plan) is $1.00 a day.
 *
 * Plans: basic $30.00/month; monthly31 $31.00/month; metered $30.00/month + API calls at $0.10;
 * trial $30.00/month with a 14-day trial and API calls at $0.10; free $0.00/month.
 * The clock only moves forward: scenarios run in date order, each in its own months.
 */
describe('pause, cancel and trials', () => {
  let s: Scenarios;

  beforeAll(async () => {
    s = await scenarios('pause-cancel-trial');
    const metric = await s.post('/v1/metrics', { code: 'api_calls', name: 'API calls', aggregation: 'sum', field: 'calls' });
    if (metric.status !== 201) throw new Error(`metric: ${metric.status} ${JSON.stringify(metric.body)}`);
    const calls = [{ metric_code: 'api_calls', model: 'standard', properties: { unit_amount: '0.10' } }];
    await s.plan('basic', { amount: '30.00' });
    await s.plan('monthly31', { amount: '31.00' });
    await s.plan('metered', { amount: '30.00', charges: calls });
    await s.plan('trial', { amount: '30.00', trial_days: 14, charges: calls });
    await s.plan('free', { amount: '0.00' });
  });
  afterEach(async () => s.cleanUp());
  afterAll(async () => s?.stop());

  /** Sends one usage event of `calls` API calls, dated `timestamp`; the answer says whether it was taken. */
  const sendCalls = async (subscriptionId: string, transactionId: string, timestamp: string, calls: number) =>
    (await s.post('/v1/usage_events', { events: [{ transaction_id: transactionId, subscription_id: subscriptionId, code: 'api_calls', timestamp, properties: { calls } }] })).body;

  const state = async (id: string) => (await s.get(`/v1/subscriptions/${id}`)).body;

  /** The names of the updates the workflow accepted into its history (a refused one leaves none). */
  const acceptedUpdates = async (id: string): Promise<string[]> => {
    const history = await s.stack.env.client.workflow.getHandle(subscriptionWorkflowId(id)).fetchHistory();
    return (history.events ?? [])
      .filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)
      .map((e) => String(e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name));
  };

  const inTimeOrder = (events: Array<{ at: string }>) => events.every((e, i) => i === 0 || events[i - 1].at <= e.at);

  it('1. pause at a date across a renewal: the unused rest and the usage so far on one credit invoice, nothing while paused, then a resume billed in full and paid by the credit', async () => {
    // Given Metered ($30.00/month + $0.10 a call) from 1 April 2027 (April: 30 days), with 50 calls on 5 April
    const id = await s.subscribe({ plan_code: 'metered', start_at: '2027-04-01T00:00:00Z' });
    await s.at('2027-04-10T00:00:00Z');
    expect(await sendCalls(id, 'p1-apr-5', '2027-04-05T12:00:00Z', 50)).toMatchObject({ accepted: 1 });

    // When support pauses it on 21 April
    const paused = await s.post(`/v1/subscriptions/${id}/pause`, { at: '2027-04-21T00:00:00Z' });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ status: 'active', scheduled_changes: [expect.objectContaining({ type: 'pause', at: '2027-04-21T00:00:00.000Z', at_period_end: false })] });
    await s.at('2027-04-21T00:00:01Z');

    // Then it is paused, with no current period and nothing to bill next
    expect(await state(id)).toMatchObject({
      status: 'paused',
      paused_at: '2027-04-21T00:00:00.000Z',
      current_period_start: null,
      current_period_end: null,
      next_billing_at: null,
      scheduled_changes: [],
      upcoming: [],
    });
    // And the pause invoice credits 21 April..1 May, 10 of 30 days: 30.00 x 10/30 = 10.00 back,
    // and bills the calls up to the pause: 50 x 0.10 = 5.00. Total 5.00 - 10.00 = -5.00: credit.
    expect(await s.invoices(id)).toEqual([
      '30.00 = fee 30.00 2027-04-01..2027-05-01',
      '-5.00 = fee -10.00 2027-04-21..2027-05-01 + usage 5.00 2027-04-01..2027-04-21',
    ]);
    const pauseInvoice = (await s.invoiceBodies(id))[1];
    expect(pauseInvoice).toMatchObject({ status: 'paid', total: '-5.00', amount_due: '0.00' });
    // The served part and the credited part add up to the month's price.
    expect(total(['20.00', '10.00'])).toBe('30.00');

    // And usage while paused is refused, one by one
    const duringPause = await sendCalls(id, 'p1-apr-25', '2027-04-25T00:00:00Z', 7);
    expect(duringPause.accepted).toBe(0);
    expect(duringPause.rejected).toHaveLength(1);
    expect(['subscription_paused', 'subscription_ended']).toContain(duringPause.rejected[0].code);
    // And pausing a paused subscription is refused
    const again = await s.post(`/v1/subscriptions/${id}/pause`, { at: 'now' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('subscription_paused');

    // And the renewal that 1 May would have been does not happen
    await s.at('2027-05-10T00:00:00Z');
    expect(await s.invoices(id)).toHaveLength(2);
    expect((await sendCalls(id, 'p1-may-2', '2027-05-02T00:00:00Z', 3)).accepted).toBe(0);

    // When support resumes it on 16 May
    const resumed = await s.post(`/v1/subscriptions/${id}/resume`, { at: '2027-05-16T00:00:00Z' });
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ status: 'paused', scheduled_changes: [expect.objectContaining({ type: 'resume', at: '2027-05-16T00:00:00.000Z' })] });
    expect(resumed.body.upcoming).toEqual([expect.objectContaining({ event: 'resume', at: '2027-05-16T00:00:00.000Z' })]);
    await s.at('2027-05-16T00:00:01Z');

    // Then a new period starts at the resume, 16 May..16 June, billed at once in full (30.00),
    // paid first by the 5.00 of credit: 25.00 is due.
    expect(await state(id)).toMatchObject({
      status: 'active',
      paused_at: null,
      current_period_start: '2027-05-16T00:00:00.000Z',
      current_period_end: '2027-06-16T00:00:00.000Z',
      next_billing_at: '2027-06-16T00:00:00.000Z',
    });
    expect((await s.invoices(id))[2]).toBe('30.00 = fee 30.00 2027-05-16..2027-06-16');
    const resumeInvoice = (await s.invoiceBodies(id))[2];
    expect(resumeInvoice).toMatchObject({ status: 'open', total: '30.00', amount_due: '25.00', amount_paid: '0.00' });

    // And usage is taken again from the resume on, but not for the paused time
    expect(await sendCalls(id, 'p1-may-20', '2027-05-20T00:00:00Z', 20)).toMatchObject({ accepted: 1 });
    expect((await sendCalls(id, 'p1-may-15', '2027-05-15T00:00:00Z', 9)).accepted).toBe(0);

    // And the next renewal, 16 June, bills 16 June..16 July and the 20 calls since the resume:
    // 20 x 0.10 = 2.00; no credit is left, so all 32.00 is due.
    await s.at('2027-06-16T00:00:01Z');
    expect(await s.invoices(id)).toHaveLength(4);
    expect((await s.invoices(id))[3]).toBe('32.00 = fee 30.00 2027-06-16..2027-07-16 + usage 2.00 2027-05-16..2027-06-16');
    expect((await s.invoiceBodies(id))[3]).toMatchObject({ amount_due: '32.00' });

    // And the resume invoice says how much credit paid it (README, Credit: `credit_applied` on the invoice)
    expect(resumeInvoice.credit_applied).toBe('5.00');
  });

  it('2. pause and resume both scheduled ahead: listed in order, and happening at those instants', async () => {
    // Given Monthly31 ($31.00) from 1 July 2027 (July: 31 days)
    const id = await s.subscribe({ plan_code: 'monthly31', start_at: '2027-07-01T00:00:00Z' });
    await s.at('2027-07-05T00:00:00Z');

    // When support schedules a pause on 11 July and a resume on 26 July
    const pause = await s.post(`/v1/subscriptions/${id}/pause`, { at: '2027-07-11T00:00:00Z' });
    expect(pause.status).toBe(200);
    const resume = await s.post(`/v1/subscriptions/${id}/resume`, { at: '2027-07-26T00:00:00Z' });
    expect(resume.status).toBe(200);

    // Then both are listed, in time order, in scheduled_changes and in upcoming
    const before = await state(id);
    expect(before.status).toBe('active');
    expect(before.scheduled_changes).toEqual([
      expect.objectContaining({ type: 'pause', at: '2027-07-11T00:00:00.000Z', at_period_end: false }),
      expect.objectContaining({ type: 'resume', at: '2027-07-26T00:00:00.000Z', at_period_end: false }),
    ]);
    const [pauseChange, resumeChange] = before.scheduled_changes;
    expect(inTimeOrder(before.upcoming)).toBe(true);
    expect(before.upcoming.filter((e: any) => e.event !== 'renewal')).toEqual([
      { at: '2027-07-11T00:00:00.000Z', event: 'pause', changeId: pauseChange.id },
      { at: '2027-07-26T00:00:00.000Z', event: 'resume', changeId: resumeChange.id },
    ]);

    // When the pause comes
    await s.at('2027-07-11T00:00:01Z');
    // Then it is paused from exactly 11 July, with the resume still ahead
    expect(await state(id)).toMatchObject({
      status: 'paused',
      paused_at: '2027-07-11T00:00:00.000Z',
      scheduled_changes: [expect.objectContaining({ type: 'resume' })],
      upcoming: [{ at: '2027-07-26T00:00:00.000Z', event: 'resume', changeId: resumeChange.id }],
    });
    // 11 July..1 August is 21 of 31 days unused: 31.00 x 21/31 = 21.00 back
    expect(await s.invoices(id)).toEqual(['31.00 = fee 31.00 2027-07-01..2027-08-01', '-21.00 = fee -21.00 2027-07-11..2027-08-01']);

    // When the resume comes
    await s.at('2027-07-26T00:00:01Z');
    // Then a new period runs 26 July..26 August, billed in full, 21.00 of it paid by the credit: 10.00 due
    expect(await state(id)).toMatchObject({
      status: 'active',
      current_period_start: '2027-07-26T00:00:00.000Z',
      current_period_end: '2027-08-26T00:00:00.000Z',
      scheduled_changes: [],
      upcoming: [{ at: '2027-08-26T00:00:00.000Z', event: 'renewal' }],
    });
    expect((await s.invoices(id))[2]).toBe('31.00 = fee 31.00 2027-07-26..2027-08-26');
    const resumeInvoice = (await s.invoiceBodies(id))[2];
    expect(resumeInvoice).toMatchObject({ total: '31.00', amount_due: '10.00', status: 'open' });
    expect(new Decimal('31.00').minus('21.00').toFixed(2)).toBe(resumeInvoice.amount_due);
    expect(resumeInvoice.credit_applied).toBe('21.00');
  });

  it('3. cancel at period end, then reactivate before it happens: the renewal comes and billing goes on', async () => {
    // Given Monthly31 from 1 August 2027
    const id = await s.subscribe({ plan_code: 'monthly31', start_at: '2027-08-01T00:00:00Z' });
    await s.at('2027-08-10T00:00:00Z');

    // When support cancels it at period end
    const canceled = await s.post(`/v1/subscriptions/${id}/cancel`, { at: 'period_end' });
    // Then it is set to end on 1 September, and no renewal is announced
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({
      status: 'active',
      cancel_at_period_end: true,
      scheduled_changes: [expect.objectContaining({ type: 'cancel', at: '2027-09-01T00:00:00.000Z', at_period_end: true, prorate: false })],
    });
    expect(canceled.body.upcoming).toEqual([expect.objectContaining({ at: '2027-09-01T00:00:00.000Z', event: 'cancellation' })]);

    // When support reactivates it
    const reactivated = await s.post(`/v1/subscriptions/${id}/reactivate`, {});
    // Then the cancellation is gone and the renewal is back
    expect(reactivated.status).toBe(200);
    expect(reactivated.body).toMatchObject({ status: 'active', cancel_at_period_end: false, scheduled_changes: [], upcoming: [{ at: '2027-09-01T00:00:00.000Z', event: 'renewal' }] });

    // And on 1 September it renews (31.00 for September) and runs on to 1 October
    await s.at('2027-09-01T00:00:01Z');
    expect(await s.invoices(id)).toEqual(['31.00 = fee 31.00 2027-08-01..2027-09-01', '31.00 = fee 31.00 2027-09-01..2027-10-01']);
    expect(await state(id)).toMatchObject({
      status: 'active',
      canceled_at: null,
      cancel_at_period_end: false,
      current_period_start: '2027-09-01T00:00:00.000Z',
      current_period_end: '2027-10-01T00:00:00.000Z',
      upcoming: [{ at: '2027-10-01T00:00:00.000Z', event: 'renewal' }],
    });
  });

  it('4. cancel now with proration: the unused rest is credited, the subscription ends, nothing more is billed', async () => {
    // Given Basic ($30.00) from 2 September 2027; 2 September..2 October is 30 days
    const id = await s.subscribe({ plan_code: 'basic', start_at: '2027-09-02T00:00:00Z' });
    // When support cancels it now, with proration, on 22 September (a few ms after midnight:
    // 0.001 cent is 0.86 s of a $1.00 day, so the rounding absorbs them)
    await s.at('2027-09-22T00:00:00Z');
    const res = await s.post(`/v1/subscriptions/${id}/cancel`, { at: 'now', prorate: true });

    // Then it is canceled at once, with nothing ahead
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'canceled', next_billing_at: null, upcoming: [], scheduled_changes: [], latest_invoice: { total: '-10.00' } });
    expect(res.body.canceled_at).toMatch(/^2027-09-22T00:00:/);
    // And 22 September..2 October, 10 of 30 days, is credited: 30.00 x 10/30 = 10.00 back; the
    // credit invoice is paid and asks nothing
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2027-09-02..2027-10-02', '-10.00 = fee -10.00 2027-09-22..2027-10-02']);
    expect((await s.invoiceBodies(id))[1]).toMatchObject({ status: 'paid', amount_due: '0.00' });

    // And 2 October brings no renewal
    await s.at('2027-10-02T00:00:01Z');
    expect(await s.invoices(id)).toHaveLength(2);
    expect((await state(id)).status).toBe('canceled');
  });

  it('5. cancel at a future date with proration: ends exactly then, with the rest credited', async () => {
    // Given Basic from 1 November 2027 (30 days)
    const id = await s.subscribe({ plan_code: 'basic', start_at: '2027-11-01T00:00:00Z' });
    await s.at('2027-11-05T00:00:00Z');

    // When support cancels it at 21 November with proration
    const res = await s.post(`/v1/subscriptions/${id}/cancel`, { at: '2027-11-21T00:00:00Z', prorate: true });
    // Then the cancellation is scheduled (not at period end) and the subscription runs on until then
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'active',
      cancel_at_period_end: false,
      scheduled_changes: [expect.objectContaining({ type: 'cancel', at: '2027-11-21T00:00:00.000Z', at_period_end: false, prorate: true })],
    });
    expect(res.body.upcoming).toContainEqual(expect.objectContaining({ at: '2027-11-21T00:00:00.000Z', event: 'cancellation' }));
    expect(await s.invoices(id)).toHaveLength(1);

    // When 21 November comes
    await s.at('2027-11-21T00:00:01Z');
    // Then it is canceled exactly then, and 21 November..1 December, 10 of 30 days, is credited: 10.00
    expect(await state(id)).toMatchObject({ status: 'canceled', canceled_at: '2027-11-21T00:00:00.000Z', upcoming: [] });
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2027-11-01..2027-12-01', '-10.00 = fee -10.00 2027-11-21..2027-12-01']);
    // And 1 December brings nothing
    await s.at('2027-12-01T00:00:01Z');
    expect(await s.invoices(id)).toHaveLength(2);
  });

  it("6. cancel at period end with usage: the closing invoice bills only the last period's usage, no fee", async () => {
    // Given Metered from 2 December 2027, with 40 calls in December
    const id = await s.subscribe({ plan_code: 'metered', start_at: '2027-12-02T00:00:00Z' });
    await s.at('2027-12-10T00:00:00Z');
    expect(await sendCalls(id, 'p6-dec-15', '2027-12-15T00:00:00Z', 40)).toMatchObject({ accepted: 1 });
    // The renewal on 2 January bills the next month's fee and December's calls: 30.00 + 40 x 0.10 = 34.00
    await s.at('2028-01-02T00:00:01Z');
    expect((await s.invoices(id))[1]).toBe('34.00 = fee 30.00 2028-01-02..2028-02-02 + usage 4.00 2027-12-02..2028-01-02');
    // And 70 calls in January
    expect(await sendCalls(id, 'p6-jan-20', '2028-01-20T00:00:00Z', 70)).toMatchObject({ accepted: 1 });

    // When support cancels it at period end on 25 January
    await s.at('2028-01-25T00:00:00Z');
    const res = await s.post(`/v1/subscriptions/${id}/cancel`, { at: 'period_end' });
    expect(res.body).toMatchObject({ status: 'active', cancel_at_period_end: true });
    await s.at('2028-02-02T00:00:01Z');

    // Then it ends on 2 February, with a closing invoice for January's 70 calls only: 70 x 0.10 = 7.00
    expect(await state(id)).toMatchObject({ status: 'canceled', canceled_at: '2028-02-02T00:00:00.000Z', cancel_at_period_end: true, upcoming: [] });
    expect(await s.invoices(id)).toEqual([
      '30.00 = fee 30.00 2027-12-02..2028-01-02',
      '34.00 = fee 30.00 2028-01-02..2028-02-02 + usage 4.00 2027-12-02..2028-01-02',
      '7.00 = usage 7.00 2028-01-02..2028-02-02',
    ]);
    // And later usage is refused, as is a late event of the billed period
    const late = await s.post('/v1/usage_events', {
      events: [
        { transaction_id: 'p6-feb-5', subscription_id: id, code: 'api_calls', timestamp: '2028-02-05T00:00:00Z', properties: { calls: 1 } },
        { transaction_id: 'p6-jan-30', subscription_id: id, code: 'api_calls', timestamp: '2028-01-30T00:00:00Z', properties: { calls: 1 } },
      ],
    });
    expect(late.body.accepted).toBe(0);
    expect(late.body.rejected).toEqual([
      expect.objectContaining({ transaction_id: 'p6-feb-5', code: 'subscription_ended' }),
      expect.objectContaining({ transaction_id: 'p6-jan-30', code: 'period_already_invoiced' }),
    ]);
  });

  it('7. end_trial early: the first period starts then, with the anniversary from that instant, billed at once', async () => {
    // Given Trial ($30.00/month, 14 days) from 1 March 2028: the trial would end on 15 March
    const id = await s.subscribe({ plan_code: 'trial', start_at: '2028-03-01T00:00:00Z' });
    await s.at('2028-03-05T00:00:00Z');
    expect(await state(id)).toMatchObject({ status: 'trialing', trial_end: '2028-03-15T00:00:00.000Z' });
    expect(await s.invoices(id)).toEqual([]);

    // When support ends the trial on 5 March (now: a few ms after midnight)
    const res = await s.post(`/v1/subscriptions/${id}/end_trial`, {});

    // Then the subscription is billing from now on
    expect(res.status).toBe(200);
    expect(res.body.trial_end).toMatch(/^2028-03-05T00:00:/);
    await s.at('2028-03-05T00:01:00Z');
    const live = await state(id);
    expect(live).toMatchObject({ status: 'active' });
    // And the first period is 5 March..5 April (31 days) from the instant the trial ended, billed in full at once
    expect(live.current_period_start).toBe(live.trial_end);
    expect(Date.parse(live.current_period_end) - Date.parse(live.current_period_start)).toBe(31 * 86_400_000);
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2028-03-05..2028-04-05']);
    const first = (await s.invoiceBodies(id))[0];
    expect(first).toMatchObject({ period_start: live.current_period_start, period_end: live.current_period_end, amount_due: '30.00' });
    // And the end_trial answer was the subscription as it left it: active, its first period begun
    expect(res.body).toMatchObject({ status: 'active', current_period_start: live.current_period_start });

    // And usage counts from the new start (10 March, before the old trial end), not in the trial
    expect(await sendCalls(id, 'p7-mar-10', '2028-03-10T00:00:00Z', 30)).toMatchObject({ accepted: 1 });
    expect((await sendCalls(id, 'p7-mar-3', '2028-03-03T00:00:00Z', 5)).rejected).toEqual([expect.objectContaining({ code: 'timestamp_before_billing_start' })]);

    // And the renewal comes a month after the trial's end: 30.00 + 30 x 0.10 = 33.00
    await s.at('2028-04-05T00:01:00Z');
    expect((await s.invoices(id))[1]).toBe('33.00 = fee 30.00 2028-04-05..2028-05-05 + usage 3.00 2028-03-05..2028-04-05');
  });

  it('8. extend_trial: nothing at the old trial end, the first invoice at the new one', async () => {
    // Given Trial from 1 May 2028: the trial would end on 15 May
    const id = await s.subscribe({ plan_code: 'trial', start_at: '2028-05-01T00:00:00Z' });
    await s.at('2028-05-10T00:00:00Z');

    // When support extends the trial to 25 May
    const res = await s.post(`/v1/subscriptions/${id}/extend_trial`, { trial_end: '2028-05-25T00:00:00Z' });
    // Then the trial ends on 25 May, and that is what comes next
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'trialing',
      trial_end: '2028-05-25T00:00:00.000Z',
      next_billing_at: '2028-05-25T00:00:00.000Z',
      upcoming: [{ at: '2028-05-25T00:00:00.000Z', event: 'trial_end' }],
    });

    // And on 15 May nothing is billed
    await s.at('2028-05-15T00:00:01Z');
    expect(await s.invoices(id)).toEqual([]);
    expect((await state(id)).status).toBe('trialing');
    // (usage dated in the extended trial is sent now and judged at the end of the scenario)
    const inExtendedTrial = await sendCalls(id, 'p8-may-20', '2028-05-20T00:00:00Z', 10);

    // When 25 May comes
    await s.at('2028-05-25T00:00:01Z');
    // Then the first period 25 May..25 June is billed in full
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2028-05-25..2028-06-25']);
    expect(await state(id)).toMatchObject({ status: 'active', current_period_start: '2028-05-25T00:00:00.000Z', current_period_end: '2028-06-25T00:00:00.000Z' });

    // And the event dated in the (extended) trial was refused: "Usage in a trial is not billed
    // (events dated in it are refused)". Accepted, it would be counted as taken yet never billed.
    expect(inExtendedTrial.rejected).toEqual([expect.objectContaining({ transaction_id: 'p8-may-20', code: 'timestamp_before_billing_start' })]);
  });

  it('9. changes that make no sense are refused with a code, and leave the subscription and its history untouched', async () => {
    // Given three subscriptions from 1 June 2028: one to be canceled, one in its trial, one active
    const canceled = await s.subscribe({ plan_code: 'basic', start_at: '2028-06-01T00:00:00Z' });
    const trialing = await s.subscribe({ plan_code: 'trial', start_at: '2028-06-01T00:00:00Z' });
    const active = await s.subscribe({ plan_code: 'basic', start_at: '2028-06-01T00:00:00Z' });
    await s.at('2028-06-05T00:00:00Z');
    expect((await s.post(`/v1/subscriptions/${canceled}/cancel`, { at: 'now' })).status).toBe(200);

    const refused = async (id: string, path: string, body: unknown, status: number, code: string) => {
      const res = await s.post(`/v1/subscriptions/${id}/${path}`, body);
      expect({ path, status: res.status, code: res.body?.error?.code }).toEqual({ path, status, code });
    };

    // When support pauses, resumes or cancels the canceled one
    const canceledState = await state(canceled);
    await refused(canceled, 'pause', { at: 'now' }, 409, 'subscription_canceled');
    await refused(canceled, 'resume', { at: 'now' }, 409, 'subscription_canceled');
    await refused(canceled, 'cancel', { at: 'now' }, 409, 'subscription_canceled');
    // Then nothing changed: the only update it ever accepted is the cancel
    expect(await state(canceled)).toEqual(canceledState);
    expect(await acceptedUpdates(canceled)).toEqual(['cancel']);

    // When support pauses the one in its trial (now, or at a date inside the trial) or resumes it
    const trialState = await state(trialing);
    expect(trialState.status).toBe('trialing');
    await refused(trialing, 'pause', { at: 'now' }, 409, 'subscription_not_active');
    await refused(trialing, 'pause', { at: '2028-06-10T00:00:00Z' }, 409, 'subscription_not_active');
    await refused(trialing, 'resume', { at: 'now' }, 409, 'subscription_not_paused');
    // Then nothing changed
    expect(await state(trialing)).toEqual(trialState);
    expect(await acceptedUpdates(trialing)).toEqual([]);

    // When support pauses the active one at a past date, resumes it (not paused), ends or extends
    // a trial it does not have, or reactivates it with no cancellation scheduled
    const activeState = await state(active);
    await refused(active, 'pause', { at: '2028-06-02T00:00:00Z' }, 400, 'date_in_past');
    await refused(active, 'resume', { at: 'now' }, 409, 'subscription_not_paused');
    await refused(active, 'resume', { at: '2028-06-20T00:00:00Z' }, 409, 'subscription_not_paused');
    await refused(active, 'extend_trial', { trial_end: '2028-06-20T00:00:00Z' }, 409, 'subscription_not_trialing');
    await refused(active, 'end_trial', {}, 409, 'subscription_not_trialing');
    await refused(active, 'reactivate', {}, 409, 'cancellation_not_scheduled');
    await refused(active, 'cancel', { at: '2028-06-01T00:00:00Z' }, 400, 'date_in_past');
    // Then nothing changed
    expect(await state(active)).toEqual(activeState);
    expect(await acceptedUpdates(active)).toEqual([]);

    // When it is canceled at period end, then canceled at period end (or at a date) again
    expect((await s.post(`/v1/subscriptions/${active}/cancel`, { at: 'period_end' })).status).toBe(200);
    const scheduledState = await state(active);
    await refused(active, 'cancel', { at: 'period_end' }, 409, 'cancellation_already_scheduled');
    await refused(active, 'cancel', { at: '2028-06-20T00:00:00Z' }, 409, 'cancellation_already_scheduled');
    // Then only the first cancellation is there
    expect(await state(active)).toEqual(scheduledState);
    expect(scheduledState.scheduled_changes).toEqual([expect.objectContaining({ type: 'cancel', at: '2028-07-01T00:00:00.000Z', at_period_end: true })]);
    expect(await acceptedUpdates(active)).toEqual(['cancel']);
    // And no invoice was issued by any of it
    expect(await s.invoices(active)).toEqual(['30.00 = fee 30.00 2028-06-01..2028-07-01']);
    expect(await s.invoices(trialing)).toEqual([]);
  });

  it('10. a $0 plan issues $0 invoices, marked paid, and posts nothing to the ledger', async () => {
    // Given the ledger as it stands, and Free ($0.00/month) from 1 July 2028
    const ledgerBefore = (await s.get('/v1/ledger/balances')).body.data;
    const id = await s.subscribe({ plan_code: 'free', start_at: '2028-07-01T00:00:00Z' });
    // When two periods start
    await s.at('2028-08-01T00:00:01Z');
    // Then each has its $0 invoice, paid, asking nothing
    expect(await s.invoices(id)).toEqual(['0.00 = fee 0.00 2028-07-01..2028-08-01', '0.00 = fee 0.00 2028-08-01..2028-09-01']);
    for (const invoice of await s.invoiceBodies(id)) {
      expect(invoice).toMatchObject({ status: 'paid', total: '0.00', amount_due: '0.00', amount_paid: '0.00' });
      expect(invoice.paid_at).toBe(invoice.issued_at);
    }
    // And the ledger did not move
    expect((await s.get('/v1/ledger/balances')).body.data).toEqual(ledgerBefore);
  });

  it('11. the subscription shows its scheduled changes and what comes next, in time order, throughout', async () => {
    // Given Trial (14 days) starting on 10 August 2028, created on 1 August
    const id = await s.subscribe({ plan_code: 'trial', start_at: '2028-08-10T00:00:00Z' });
    // Then before it starts: the start, then the trial's end
    expect(await state(id)).toMatchObject({
      status: 'scheduled',
      next_billing_at: '2028-08-24T00:00:00.000Z',
      upcoming: [
        { at: '2028-08-10T00:00:00.000Z', event: 'start' },
        { at: '2028-08-24T00:00:00.000Z', event: 'trial_end' },
      ],
    });
    // And in the trial: its end
    await s.at('2028-08-12T00:00:00Z');
    expect(await state(id)).toMatchObject({ status: 'trialing', upcoming: [{ at: '2028-08-24T00:00:00.000Z', event: 'trial_end' }] });
    // And once billing: the renewal, 24 September
    await s.at('2028-08-24T00:00:01Z');
    expect(await state(id)).toMatchObject({
      status: 'active',
      current_period_start: '2028-08-24T00:00:00.000Z',
      current_period_end: '2028-09-24T00:00:00.000Z',
      upcoming: [{ at: '2028-09-24T00:00:00.000Z', event: 'renewal' }],
    });

    // When support schedules, out of order, a cancellation on 15 October, a resume on 10 September and a pause on 1 September
    await s.at('2028-08-26T00:00:00Z');
    expect((await s.post(`/v1/subscriptions/${id}/cancel`, { at: '2028-10-15T00:00:00Z' })).status).toBe(200);
    expect((await s.post(`/v1/subscriptions/${id}/pause`, { at: '2028-09-01T00:00:00Z' })).status).toBe(200);
    expect((await s.post(`/v1/subscriptions/${id}/resume`, { at: '2028-09-10T00:00:00Z' })).status).toBe(200);

    // Then scheduled_changes and upcoming list them in time order, each event naming its change
    const planned = await state(id);
    expect(planned.scheduled_changes.map((c: any) => [c.type, c.at])).toEqual([
      ['pause', '2028-09-01T00:00:00.000Z'],
      ['resume', '2028-09-10T00:00:00.000Z'],
      ['cancel', '2028-10-15T00:00:00.000Z'],
    ]);
    const ids = planned.scheduled_changes.map((c: any) => c.id);
    expect(inTimeOrder(planned.upcoming)).toBe(true);
    expect(planned.upcoming.filter((e: any) => e.event !== 'renewal')).toEqual([
      { at: '2028-09-01T00:00:00.000Z', event: 'pause', changeId: ids[0] },
      { at: '2028-09-10T00:00:00.000Z', event: 'resume', changeId: ids[1] },
      { at: '2028-10-15T00:00:00.000Z', event: 'cancellation', changeId: ids[2] },
    ]);

    // When the pause comes: paused, with the resume and the cancellation ahead
    await s.at('2028-09-01T00:00:01Z');
    expect(await state(id)).toMatchObject({
      status: 'paused',
      next_billing_at: null,
      upcoming: [
        { at: '2028-09-10T00:00:00.000Z', event: 'resume', changeId: ids[1] },
        { at: '2028-10-15T00:00:00.000Z', event: 'cancellation', changeId: ids[2] },
      ],
    });
    // When the resume comes: a new period 10 September..10 October, then the cancellation
    await s.at('2028-09-10T00:00:01Z');
    expect(await state(id)).toMatchObject({
      status: 'active',
      current_period_start: '2028-09-10T00:00:00.000Z',
      current_period_end: '2028-10-10T00:00:00.000Z',
      upcoming: [
        { at: '2028-10-10T00:00:00.000Z', event: 'renewal' },
        { at: '2028-10-15T00:00:00.000Z', event: 'cancellation', changeId: ids[2] },
      ],
    });
    // When the renewal comes: the cancellation is next
    await s.at('2028-10-10T00:00:01Z');
    const renewed = await state(id);
    expect(inTimeOrder(renewed.upcoming)).toBe(true);
    expect(renewed.upcoming[0]).toEqual({ at: '2028-10-15T00:00:00.000Z', event: 'cancellation', changeId: ids[2] });
    // When the cancellation comes: nothing is ahead
    await s.at('2028-10-15T00:00:01Z');
    expect(await state(id)).toMatchObject({ status: 'canceled', canceled_at: '2028-10-15T00:00:00.000Z', scheduled_changes: [], upcoming: [], next_billing_at: null });

    // And the invoices: the first period 24 August..24 September (31 days) in full; the pause on
    // 1 September has served 8 of 31 days: 30.00 x 8/31 = 7.7419… = 7.74, so 30.00 - 7.74 = 22.26
    // back; the resume bills a full period (22.26 of it paid by the credit: 7.74 due); the renewal
    // on 10 October. Trial has an API-calls charge and no call was made, so each usage window
    // closed (at the pause, the renewal, and the cancellation's closing invoice) has its line of 0.00.
    expect(await s.invoices(id)).toEqual([
      '30.00 = fee 30.00 2028-08-24..2028-09-24',
      '-22.26 = fee -22.26 2028-09-01..2028-09-24 + usage 0.00 2028-08-24..2028-09-01',
      '30.00 = fee 30.00 2028-09-10..2028-10-10',
      '30.00 = fee 30.00 2028-10-10..2028-11-10 + usage 0.00 2028-09-10..2028-10-10',
      '0.00 = usage 0.00 2028-10-10..2028-10-15',
    ]);
    expect((await s.invoiceBodies(id))[2]).toMatchObject({ amount_due: '7.74' });
    expect(total(['7.74', '22.26'])).toBe('30.00');
  });

  it('12. upcoming announces no renewal that a scheduled cancellation will have prevented', async () => {
    // Given Basic from 1 November 2028
    const id = await s.subscribe({ plan_code: 'basic', start_at: '2028-11-01T00:00:00Z' });
    await s.at('2028-11-05T00:00:00Z');
    // When support cancels it on 20 November
    const res = await s.post(`/v1/subscriptions/${id}/cancel`, { at: '2028-11-20T00:00:00Z' });
    expect(res.status).toBe(200);
    // Then what comes next is the cancellation, and nothing after it: the subscription will not
    // renew on 1 December
    const { upcoming } = await state(id);
    expect(upcoming).toEqual([{ at: '2028-11-20T00:00:00.000Z', event: 'cancellation', changeId: res.body.scheduled_changes[0].id }]);
  });

  it('13. pause now and resume now: the credit to the day, a new period from the resume', async () => {
    // Given Monthly31 from 1 December 2028 (31 days)
    const id = await s.subscribe({ plan_code: 'monthly31', start_at: '2028-12-01T00:00:00Z' });
    // When support pauses it now on 11 December (a few ms after midnight, absorbed by the rounding)
    await s.at('2028-12-11T00:00:00Z');
    const paused = await s.post(`/v1/subscriptions/${id}/pause`, { at: 'now' });
    // Then it is paused at once, and 11 December..1 January, 21 of 31 days, is credited: 21.00
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({ status: 'paused', latest_invoice: { total: '-21.00' } });
    expect(paused.body.paused_at).toMatch(/^2028-12-11T00:00:/);
    expect(await s.invoices(id)).toEqual(['31.00 = fee 31.00 2028-12-01..2029-01-01', '-21.00 = fee -21.00 2028-12-11..2029-01-01']);

    // When support resumes it now on 20 December
    await s.at('2028-12-20T00:00:00Z');
    const resumed = await s.post(`/v1/subscriptions/${id}/resume`, { at: 'now' });
    // Then a new period starts at the resume and runs a month (20 December..20 January, 31 days)
    expect(resumed.status).toBe(200);
    expect(resumed.body.status).toBe('active');
    expect(resumed.body.current_period_start).toMatch(/^2028-12-20T00:00:/);
    expect(Date.parse(resumed.body.current_period_end) - Date.parse(resumed.body.current_period_start)).toBe(31 * 86_400_000);
    // And it is billed in full, 31.00, 21.00 of it paid by the credit: 10.00 due
    await s.at('2028-12-20T00:01:00Z');
    expect((await s.invoices(id))[2]).toBe('31.00 = fee 31.00 2028-12-20..2029-01-20');
    expect((await s.invoiceBodies(id))[2]).toMatchObject({ amount_due: '10.00' });
    // And the old anniversary, 1 January, brings nothing
    await s.at('2029-01-01T00:00:01Z');
    expect(await s.invoices(id)).toHaveLength(3);
  });

  it('14. cancel at period end during a trial ends the subscription when the trial ends, with nothing billed', async () => {
    // Given Trial from 2 January 2029: the trial ends on 16 January
    const id = await s.subscribe({ plan_code: 'trial', start_at: '2029-01-02T00:00:00Z' });
    await s.at('2029-01-05T00:00:00Z');
    // When support cancels it at period end
    const res = await s.post(`/v1/subscriptions/${id}/cancel`, { at: 'period_end' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: 'trialing',
      cancel_at_period_end: true,
      scheduled_changes: [expect.objectContaining({ type: 'cancel', at: '2029-01-16T00:00:00.000Z', at_period_end: true })],
    });
    // Then at the trial's end it ends ("Cancel period_end bills nothing more and ends the
    // subscription when the current period (or trial) ends"), and nothing was ever billed
    await s.at('2029-01-16T00:00:01Z');
    expect(await s.invoices(id)).toEqual([]);
    expect(await state(id)).toMatchObject({ status: 'canceled', canceled_at: '2029-01-16T00:00:00.000Z' });
  });

  it('15. extend_trial to an earlier end shortens the trial: the first period starts then', async () => {
    // Given Trial from 1 February 2029: the trial would end on 15 February
    const id = await s.subscribe({ plan_code: 'trial', start_at: '2029-02-01T00:00:00Z' });
    await s.at('2029-02-05T00:00:00Z');
    // When support moves the trial's end to 10 February
    const res = await s.post(`/v1/subscriptions/${id}/extend_trial`, { trial_end: '2029-02-10T00:00:00Z' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'trialing', trial_end: '2029-02-10T00:00:00.000Z', upcoming: [{ at: '2029-02-10T00:00:00.000Z', event: 'trial_end' }] });
    // And a trial end in the past is refused
    const past = await s.post(`/v1/subscriptions/${id}/extend_trial`, { trial_end: '2029-02-04T00:00:00Z' });
    expect([past.status, past.body.error.code]).toEqual([400, 'date_in_past']);
    // Then the first period, 10 February..10 March, is billed on 10 February
    await s.at('2029-02-10T00:00:01Z');
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2029-02-10..2029-03-10']);
    expect(await state(id)).toMatchObject({ status: 'active', current_period_start: '2029-02-10T00:00:00.000Z', current_period_end: '2029-03-10T00:00:00.000Z' });
  });

  it('16. reactivate takes back a dated cancellation; a second pause, and a resume before the pause, are refused', async () => {
    // Given Monthly31 from 1 March 2029, set to be canceled on 20 March
    const id = await s.subscribe({ plan_code: 'monthly31', start_at: '2029-03-01T00:00:00Z' });
    await s.at('2029-03-05T00:00:00Z');
    expect((await s.post(`/v1/subscriptions/${id}/cancel`, { at: '2029-03-20T00:00:00Z', prorate: true })).status).toBe(200);
    // When support reactivates it
    const reactivated = await s.post(`/v1/subscriptions/${id}/reactivate`, {});
    // Then the cancellation is gone
    expect(reactivated.status).toBe(200);
    expect(reactivated.body).toMatchObject({ status: 'active', scheduled_changes: [], upcoming: [{ at: '2029-04-01T00:00:00.000Z', event: 'renewal' }] });

    // When support schedules a pause on 10 March, then another pause, then a resume before the first pause
    expect((await s.post(`/v1/subscriptions/${id}/pause`, { at: '2029-03-10T00:00:00Z' })).status).toBe(200);
    const stateBefore = await state(id);
    const second = await s.post(`/v1/subscriptions/${id}/pause`, { at: '2029-03-12T00:00:00Z' });
    const early = await s.post(`/v1/subscriptions/${id}/resume`, { at: '2029-03-08T00:00:00Z' });
    // Then both are refused and only the first pause is scheduled
    expect([second.status, second.body.error.code]).toEqual([409, 'pause_already_scheduled']);
    expect([early.status, early.body.error.code]).toEqual([409, 'subscription_not_paused']);
    expect(await state(id)).toEqual(stateBefore);
    expect(await acceptedUpdates(id)).toEqual(['cancel', 'unschedule', 'pause']);

    // And on 20 March nothing ends it: it was paused on 10 March, 22 of 31 days unused, 22.00 back
    await s.at('2029-03-20T00:00:01Z');
    expect(await state(id)).toMatchObject({ status: 'paused', canceled_at: null, paused_at: '2029-03-10T00:00:00.000Z' });
    expect(await s.invoices(id)).toEqual(['31.00 = fee 31.00 2029-03-01..2029-04-01', '-22.00 = fee -22.00 2029-03-10..2029-04-01']);
  });

  it('17. a pause scheduled past the renewal: the renewal is billed, then the rest of the new period is credited', async () => {
    // Given Monthly31 from 1 April 2029, with a pause scheduled for 11 May
    const id = await s.subscribe({ plan_code: 'monthly31', start_at: '2029-04-01T00:00:00Z' });
    await s.at('2029-04-10T00:00:00Z');
    expect((await s.post(`/v1/subscriptions/${id}/pause`, { at: '2029-05-11T00:00:00Z' })).status).toBe(200);
    // When 1 May and then 11 May come
    await s.at('2029-05-11T00:00:01Z');
    // Then May was renewed in full, and 11 May..1 June, 21 of May's 31 days, is credited: 21.00
    expect(await s.invoices(id)).toEqual([
      '31.00 = fee 31.00 2029-04-01..2029-05-01',
      '31.00 = fee 31.00 2029-05-01..2029-06-01',
      '-21.00 = fee -21.00 2029-05-11..2029-06-01',
    ]);
    expect(await state(id)).toMatchObject({ status: 'paused', paused_at: '2029-05-11T00:00:00.000Z' });
    // And 1 June brings nothing
    await s.at('2029-06-01T00:00:01Z');
    expect(await s.invoices(id)).toHaveLength(3);
  });

  it('18. cancel now while paused: it ends at once, bills nothing more, and the scheduled resume is dropped', async () => {
    // Given Basic from 2 June 2029 (2 June..2 July: 30 days), paused on 12 June, with a resume scheduled for 25 June
    const id = await s.subscribe({ plan_code: 'basic', start_at: '2029-06-02T00:00:00Z' });
    await s.at('2029-06-05T00:00:00Z');
    expect((await s.post(`/v1/subscriptions/${id}/pause`, { at: '2029-06-12T00:00:00Z' })).status).toBe(200);
    await s.at('2029-06-12T00:00:01Z');
    expect((await s.post(`/v1/subscriptions/${id}/resume`, { at: '2029-06-25T00:00:00Z' })).status).toBe(200);
    // When support cancels it now, on 20 June
    await s.at('2029-06-20T00:00:00Z');
    const res = await s.post(`/v1/subscriptions/${id}/cancel`, { at: 'now', prorate: true });
    // Then it is canceled with nothing ahead
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'canceled', scheduled_changes: [], upcoming: [] });
    // And the only credit is the pause's: 12 June..2 July, 20 of 30 days, 20.00; the 25th brings nothing
    await s.at('2029-06-25T00:00:01Z');
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2029-06-02..2029-07-02', '-20.00 = fee -20.00 2029-06-12..2029-07-02']);
    expect((await state(id)).status).toBe('canceled');
  });
});
