import Decimal from 'decimal.js';
import { scenarios, total, type Scenarios } from '../../support/scenarios';

/**
 * Billing periods on the calendar and on the customer's clock: month ends and leap days, daylight
 * saving time in New York, Tokyo's midnight, and calendar alignment (1st of the month, Mondays,
 * 1 January, every midnight) with its prorated first period. Every expected invoice is worked out
 * by hand in the scenario. The clock only moves forward: scenarios run in date order.
 *
 * New York: EST is UTC-5 (local midnight = 05:00Z), EDT is UTC-4 (local midnight = 04:00Z). DST
 * begins on 14 March 2027 and 11 March 2029, and ends on 7 November 2027 and 3 November 2030.
 * Tokyo is UTC+9 all year (local midnight = 15:00Z the day before).
 */
describe('calendars and time zones', () => {
  let s: Scenarios;

  beforeAll(async () => {
    s = await scenarios('calendars-and-zones');
    await s.plan('monthly', { amount: '30.00' });
    await s.plan('cal31', { amount: '31.00' });
    await s.plan('cal93', { amount: '93.00' });
    await s.plan('weekly', { amount: '7.00', interval: 'week' });
    await s.plan('daily', { amount: '24.00', interval: 'day' });
    await s.plan('yearly', { amount: '365.00', interval: 'year' });
    await s.plan('annual', { amount: '300.00', interval: 'year' });
    await s.plan('cal-trial', { amount: '31.00', trial_days: 10 });
    // $0.10 an hour in a 721-hour month, $0.10 and $0.20 an hour in a 743-hour month
    await s.plan('hourly', { amount: '72.10' });
    await s.plan('std', { amount: '74.30' });
    await s.plan('plus', { amount: '148.60' });
  });
  afterEach(async () => s.cleanUp());
  afterAll(async () => s?.stop());

  const HOUR = 3_600_000;
  const hours = (start: string, end: string): number => (Date.parse(end) - Date.parse(start)) / HOUR;
  const state = async (id: string) => (await s.get(`/v1/subscriptions/${id}`)).body;
  const newYork = () => s.customer({ timezone: 'America/New_York' });

  it('1. an invalid time zone is refused at customer creation; a valid one is kept', async () => {
    // Given nothing
    // When customers are created with a zone that does not exist, a UTC offset, and a zone of the wrong type
    const bad = await s.post('/v1/customers', { name: 'Mars Base', email: 'ap@mars.test', currency: 'USD', timezone: 'Mars/Olympus_Mons' });
    const offset = await s.post('/v1/customers', { name: 'Offset Ltd', email: 'ap@offset.test', currency: 'USD', timezone: '+05:30' });
    const numeric = await s.post('/v1/customers', { name: 'Numeric Ltd', email: 'ap@numeric.test', currency: 'USD', timezone: 5 });
    // Then each is refused with 400 naming the parameter
    for (const res of [bad, offset, numeric]) {
      expect(res.status).toBe(400);
      expect(res.body.error).toMatchObject({ type: 'invalid_request_error', param: 'timezone' });
    }
    expect(bad.body.error.code).toBe('parameter_invalid');

    // When a customer is created in New York, and one without a zone
    const ny = await s.post('/v1/customers', { name: 'Gotham Inc', email: 'ap@gotham.test', currency: 'USD', timezone: 'America/New_York' });
    const plain = await s.post('/v1/customers', { name: 'Plain Co', email: 'ap@plain.test', currency: 'USD' });
    // Then the zone is kept, and UTC is the default
    expect([ny.status, ny.body.timezone]).toEqual([201, 'America/New_York']);
    expect((await s.get(`/v1/customers/${ny.body.id}`)).body.timezone).toBe('America/New_York');
    expect(plain.body.timezone).toBe('UTC');
    // And an alignment that does not exist is refused at subscription
    const fiscal = await s.post('/v1/subscriptions', { customer_id: plain.body.id, plan_code: 'monthly', billing_alignment: 'fiscal' });
    expect([fiscal.status, fiscal.body.error.param]).toEqual([400, 'billing_alignment']);
  });

  it('2. calendar alignment from 17 January: a prorated first period to 1 February, then whole months', async () => {
    // Given Cal31 ($31.00/month) from 17 January 2027, aligned on the calendar (UTC)
    const id = await s.subscribe({ plan_code: 'cal31', start_at: '2027-01-17T00:00:00Z', billing_alignment: 'calendar' });
    // When it starts
    await s.at('2027-01-17T00:00:01Z');
    // Then the first period runs to 1 February, and its fee is January's share:
    // 17 January..1 February is 15 of January's 31 days: 31.00 x 15/31 = 15.00
    expect(await state(id)).toMatchObject({
      billing_alignment: 'calendar',
      timezone: 'UTC',
      current_period_start: '2027-01-17T00:00:00.000Z',
      current_period_end: '2027-02-01T00:00:00.000Z',
    });
    expect(await s.invoices(id)).toEqual(['15.00 = fee 15.00 2027-01-17..2027-02-01']);
    // When February and March begin
    await s.at('2027-03-01T00:00:01Z');
    // Then each is a whole calendar month at the full price, whatever its length (28 and 31 days)
    expect(await s.invoices(id)).toEqual([
      '15.00 = fee 15.00 2027-01-17..2027-02-01',
      '31.00 = fee 31.00 2027-02-01..2027-03-01',
      '31.00 = fee 31.00 2027-03-01..2027-04-01',
    ]);
  });

  it('3. New York, at local midnight on 1 March 2027: the March period is an hour short in UTC, and ends at 04:00Z', async () => {
    // Given a customer in New York and Monthly ($30.00) from local midnight on 1 March 2027 (EST: 05:00Z)
    const customerId = await newYork();
    const id = await s.subscribe({ customer_id: customerId, plan_code: 'monthly', start_at: '2027-03-01T05:00:00Z' });
    // When it starts
    await s.at('2027-03-01T05:00:01Z');
    // Then the period ends at local midnight on 1 April, which is EDT after 14 March: 04:00Z. It is
    // 31 x 24 - 1 = 743 hours long, and it is billed at the full price
    const [march] = await s.invoiceBodies(id);
    expect(march).toMatchObject({ period_start: '2027-03-01T05:00:00.000Z', period_end: '2027-04-01T04:00:00.000Z', total: '30.00' });
    expect(hours(march.period_start, march.period_end)).toBe(743);
    expect(await state(id)).toMatchObject({ timezone: 'America/New_York', current_period_end: '2027-04-01T04:00:00.000Z', next_billing_at: '2027-04-01T04:00:00.000Z' });

    // When local midnight on 1 April comes (04:00Z, an hour before 05:00Z)
    await s.at('2027-04-01T04:00:01Z');
    // Then April is billed, from 04:00Z to 04:00Z on 1 May: 30 x 24 = 720 hours
    const [, april] = await s.invoiceBodies(id);
    expect(april).toMatchObject({ period_start: '2027-04-01T04:00:00.000Z', period_end: '2027-05-01T04:00:00.000Z', total: '30.00' });
    expect(hours(april.period_start, april.period_end)).toBe(720);
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2027-03-01..2027-04-01', '30.00 = fee 30.00 2027-04-01..2027-05-01']);
  });

  it('4. calendar alignment in Tokyo: boundaries at local midnight on the 1st, 15:00Z on the last day of the month before', async () => {
    // Given a customer in Tokyo and Cal31 from local midnight on 11 May 2027 (15:00Z on 10 May), on the calendar
    const customerId = await s.customer({ timezone: 'Asia/Tokyo' });
    const id = await s.subscribe({ customer_id: customerId, plan_code: 'cal31', start_at: '2027-05-10T15:00:00Z', billing_alignment: 'calendar' });
    // When it starts
    await s.at('2027-05-10T15:00:01Z');
    // Then the first period ends at local midnight on 1 June (15:00Z on 31 May); May in Tokyo is
    // 30 April 15:00Z..31 May 15:00Z, 31 days, of which 21 are left: 31.00 x 21/31 = 21.00
    const [first] = await s.invoiceBodies(id);
    expect(first).toMatchObject({ period_start: '2027-05-10T15:00:00.000Z', period_end: '2027-05-31T15:00:00.000Z', total: '21.00' });
    // When June begins in Tokyo
    await s.at('2027-05-31T15:00:01Z');
    // Then June is billed whole, 31 May 15:00Z..30 June 15:00Z
    const [, june] = await s.invoiceBodies(id);
    expect(june).toMatchObject({ period_start: '2027-05-31T15:00:00.000Z', period_end: '2027-06-30T15:00:00.000Z', total: '31.00' });
    expect(await s.invoices(id)).toEqual(['21.00 = fee 21.00 2027-05-10..2027-05-31', '31.00 = fee 31.00 2027-05-31..2027-06-30']);
  });

  it('5. weekly calendar alignment: from a Wednesday to Monday, prorated, then Monday to Monday', async () => {
    // Given Weekly ($7.00/week) from Wednesday 16 June 2027, on the calendar (weeks start on Monday;
    // 14 June 2027 is a Monday)
    const id = await s.subscribe({ plan_code: 'weekly', start_at: '2027-06-16T00:00:00Z', billing_alignment: 'calendar' });
    // When two Mondays pass
    await s.at('2027-06-28T00:00:01Z');
    // Then the first period runs to Monday 21 June: 5 of the week's 7 days, 7.00 x 5/7 = 5.00; then whole weeks
    expect(await s.invoices(id)).toEqual([
      '5.00 = fee 5.00 2027-06-16..2027-06-21',
      '7.00 = fee 7.00 2027-06-21..2027-06-28',
      '7.00 = fee 7.00 2027-06-28..2027-07-05',
    ]);
  });

  it('6. New York across the November fall-back: the period is an hour longer, and proration uses its 721 hours', async () => {
    // Given a customer in New York and Hourly ($72.10/month) from local midnight on 1 November 2027 (EDT: 04:00Z)
    const customerId = await newYork();
    const id = await s.subscribe({ customer_id: customerId, plan_code: 'hourly', start_at: '2027-11-01T04:00:00Z' });
    await s.at('2027-11-01T04:00:01Z');
    // Then the period ends at local midnight on 1 December, EST: 05:00Z; 30 x 24 + 1 = 721 hours
    const [november] = await s.invoiceBodies(id);
    expect(november).toMatchObject({ period_start: '2027-11-01T04:00:00.000Z', period_end: '2027-12-01T05:00:00.000Z', total: '72.10' });
    expect(hours(november.period_start, november.period_end)).toBe(721);

    // When support cancels it, with proration, at local midnight on 21 November (05:00Z)
    await s.at('2027-11-10T00:00:00Z');
    expect((await s.post(`/v1/subscriptions/${id}/cancel`, { at: '2027-11-21T05:00:00Z', prorate: true })).status).toBe(200);
    await s.at('2027-11-21T05:00:01Z');
    // Then 21 November 05:00Z..1 December 05:00Z, 240 of 721 hours, is credited: 72.10 x 240/721 = 24.00
    // (on a 720-hour month it would have been 24.03)
    expect(await s.invoices(id)).toEqual(['72.10 = fee 72.10 2027-11-01..2027-12-01', '-24.00 = fee -24.00 2027-11-21..2027-12-01']);
    // served 481 h = 48.10, credited 24.00: together the month's price
    expect(total(['48.10', '24.00'])).toBe('72.10');
  });

  it('7. yearly calendar alignment: from 2 December to 1 January, prorated over the year, then whole years', async () => {
    // Given Yearly ($365.00/year) from 2 December 2027, on the calendar
    const id = await s.subscribe({ plan_code: 'yearly', start_at: '2027-12-02T00:00:00Z', billing_alignment: 'calendar' });
    await s.at('2027-12-02T00:00:01Z');
    // Then the first period runs to 1 January 2028: 30 of 2027's 365 days, 365.00 x 30/365 = 30.00
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2027-12-02..2028-01-01']);
    // When 2028 begins
    await s.at('2028-01-01T00:00:01Z');
    // Then the whole year 2028 (366 days) is billed at the full price
    expect(await s.invoices(id)).toEqual(['30.00 = fee 30.00 2027-12-02..2028-01-01', '365.00 = fee 365.00 2028-01-01..2029-01-01']);
    expect((await state(id)).next_billing_at).toBe('2029-01-01T00:00:00.000Z');
  });

  it('8. calendar alignment with a trial: the first period starts at the trial end and runs to the 1st, prorated', async () => {
    // Given Cal-trial ($31.00/month, 10-day trial) from 5 January 2028, on the calendar: the trial ends on 15 January
    const id = await s.subscribe({ plan_code: 'cal-trial', start_at: '2028-01-05T00:00:00Z', billing_alignment: 'calendar' });
    await s.at('2028-01-10T00:00:00Z');
    expect(await state(id)).toMatchObject({ status: 'trialing', trial_end: '2028-01-15T00:00:00.000Z' });
    expect(await s.invoices(id)).toEqual([]);
    // When the trial ends
    await s.at('2028-01-15T00:00:01Z');
    // Then the first period is 15 January..1 February: 17 of January's 31 days, 31.00 x 17/31 = 17.00
    expect(await state(id)).toMatchObject({ status: 'active', current_period_start: '2028-01-15T00:00:00.000Z', current_period_end: '2028-02-01T00:00:00.000Z' });
    expect(await s.invoices(id)).toEqual(['17.00 = fee 17.00 2028-01-15..2028-02-01']);
    // When February begins, it is billed whole
    await s.at('2028-02-01T00:00:01Z');
    expect((await s.invoices(id))[1]).toBe('31.00 = fee 31.00 2028-02-01..2028-03-01');
  });

  it('9. started on 29 February 2028: monthly on the 29th, yearly on 28 February in common years', async () => {
    // Given Monthly ($30.00) and Annual ($300.00/year), both from 29 February 2028
    const monthly = await s.subscribe({ plan_code: 'monthly', start_at: '2028-02-29T00:00:00Z' });
    const yearly = await s.subscribe({ plan_code: 'annual', start_at: '2028-02-29T00:00:00Z' });
    // When two months pass
    await s.at('2028-04-29T00:00:01Z');
    // Then the monthly one renews on 29 March and 29 April
    expect(await s.invoices(monthly)).toEqual([
      '30.00 = fee 30.00 2028-02-29..2028-03-29',
      '30.00 = fee 30.00 2028-03-29..2028-04-29',
      '30.00 = fee 30.00 2028-04-29..2028-05-29',
    ]);
    expect((await s.post(`/v1/subscriptions/${monthly}/cancel`, { at: 'now' })).status).toBe(200);
    // And the yearly one's year ends on 28 February 2029 (no 29th that year)
    expect(await s.invoices(yearly)).toEqual(['300.00 = fee 300.00 2028-02-29..2029-02-28']);
    expect((await state(yearly)).next_billing_at).toBe('2029-02-28T00:00:00.000Z');
    // When that day comes
    await s.at('2029-02-28T00:00:01Z');
    // Then it renews to 28 February 2030 (counted from the anchor, 29 February, clamped each year)
    expect(await s.invoices(yearly)).toEqual(['300.00 = fee 300.00 2028-02-29..2029-02-28', '300.00 = fee 300.00 2029-02-28..2030-02-28']);
  });

  it('10. a plan change with proration across the DST change: the March period is 743 hours, not 744', async () => {
    // Given a customer in New York on Std ($74.30/month, $0.10 an hour of a 743-hour month) from
    // local midnight on 1 March 2029 (05:00Z); the period ends at local midnight on 1 April (04:00Z)
    const customerId = await newYork();
    const id = await s.subscribe({ customer_id: customerId, plan_code: 'std', start_at: '2029-03-01T05:00:00Z' });
    await s.at('2029-03-01T05:00:01Z');
    const [march] = await s.invoiceBodies(id);
    expect(hours(march.period_start, march.period_end)).toBe(743);

    // When support upgrades to Plus ($148.60) at local midnight on 21 March (EDT: 04:00Z)
    await s.at('2029-03-15T00:00:00Z');
    const preview = await s.post(`/v1/subscriptions/${id}/change_plan/preview`, { plan_code: 'plus', at: '2029-03-21T04:00:00Z' });
    const change = await s.post(`/v1/subscriptions/${id}/change_plan`, { plan_code: 'plus', at: '2029-03-21T04:00:00Z' });
    expect(change.status).toBe(200);
    await s.at('2029-03-21T04:00:01Z');

    // Then the rest of the period, 21 March 04:00Z..1 April 04:00Z, is 264 of 743 hours:
    // Std: 74.30 x 264/743 = 26.40 back; Plus: 148.60 x 264/743 = 52.80; net 26.40.
    // (Over 744 hours it would be 26.36 and 52.73.)
    expect(hours('2029-03-21T04:00:00Z', '2029-04-01T04:00:00Z')).toBe(264);
    expect(await s.invoices(id)).toEqual(['74.30 = fee 74.30 2029-03-01..2029-04-01', '26.40 = fee -26.40 2029-03-21..2029-04-01 + fee 52.80 2029-03-21..2029-04-01']);
    // And the preview said the same
    expect(preview.status).toBe(200);
    expect(preview.body.invoice).toMatchObject({ total: '26.40', lines: [expect.objectContaining({ amount: '-26.40' }), expect.objectContaining({ amount: '52.80' })] });
    // served on Std 479 h = 47.90, credited 26.40: the month's 74.30
    expect(new Decimal('47.90').plus('26.40').toFixed(2)).toBe('74.30');

    // And April, local midnight to local midnight (04:00Z), is on Plus in full
    await s.at('2029-04-01T04:00:01Z');
    expect((await s.invoices(id))[2]).toBe('148.60 = fee 148.60 2029-04-01..2029-05-01');
  });

  it('11. an upgrade mid-period in a calendar-aligned New York subscription is prorated on the local month', async () => {
    // Given a customer in New York on Cal31 ($31.00) from local midnight on 17 April 2029 (04:00Z), on the calendar
    const customerId = await newYork();
    const id = await s.subscribe({ customer_id: customerId, plan_code: 'cal31', start_at: '2029-04-17T04:00:00Z', billing_alignment: 'calendar' });
    await s.at('2029-04-17T04:00:01Z');
    // Then the first period runs to local midnight on 1 May (04:00Z); April in New York is
    // 1 April 04:00Z..1 May 04:00Z, 30 days, 16 of them before the start:
    // served by 17 April: 31.00 x 16/30 = 16.5333… = 16.53, so the rest is 31.00 - 16.53 = 14.47
    expect(await s.invoices(id)).toEqual(['14.47 = fee 14.47 2029-04-17..2029-05-01']);
    expect((await s.invoiceBodies(id))[0]).toMatchObject({ period_end: '2029-05-01T04:00:00.000Z' });

    // When May begins in New York, and support upgrades to Cal93 ($93.00) at local midnight on 21 May (04:00Z)
    await s.at('2029-05-01T04:00:01Z');
    expect((await s.invoices(id))[1]).toBe('31.00 = fee 31.00 2029-05-01..2029-06-01');
    await s.at('2029-05-10T00:00:00Z');
    expect((await s.post(`/v1/subscriptions/${id}/change_plan`, { plan_code: 'cal93', at: '2029-05-21T04:00:00Z' })).status).toBe(200);
    await s.at('2029-05-21T04:00:01Z');
    // Then the local May, 1 May 04:00Z..1 June 04:00Z (31 days), has 11 days left:
    // Cal31: 31.00 x 11/31 = 11.00 back; Cal93: 93.00 x 11/31 = 33.00; net 22.00.
    // (On the UTC month the 11 days would be 4 hours short: 10.83 and 32.50.)
    expect((await s.invoices(id))[2]).toBe('22.00 = fee -11.00 2029-05-21..2029-06-01 + fee 33.00 2029-05-21..2029-06-01');
    // And June is on Cal93 in full, from local midnight
    await s.at('2029-06-01T04:00:01Z');
    const june = (await s.invoiceBodies(id))[3];
    expect(june).toMatchObject({ total: '93.00', period_start: '2029-06-01T04:00:00.000Z', period_end: '2029-07-01T04:00:00.000Z' });
  });

  it('12. started on 31 January (anniversary, UTC): renewals on 28 February, 31 March, 30 April', async () => {
    // Given Monthly ($30.00) from 31 January 2030
    const id = await s.subscribe({ plan_code: 'monthly', start_at: '2030-01-31T00:00:00Z' });
    // When three months pass
    await s.at('2030-04-30T00:00:01Z');
    // Then the periods are counted from 31 January, clamped to shorter months, never drifting to the 28th
    expect(await s.invoices(id)).toEqual([
      '30.00 = fee 30.00 2030-01-31..2030-02-28',
      '30.00 = fee 30.00 2030-02-28..2030-03-31',
      '30.00 = fee 30.00 2030-03-31..2030-04-30',
      '30.00 = fee 30.00 2030-04-30..2030-05-31',
    ]);
  });

  it('13. daily calendar alignment in New York: the first day runs to local midnight, prorated by the hour', async () => {
    // Given a customer in New York on Daily ($24.00/day, $1.00 an hour) from 10:00 local time on 10 May 2030 (14:00Z), on the calendar
    const customerId = await newYork();
    const id = await s.subscribe({ customer_id: customerId, plan_code: 'daily', start_at: '2030-05-10T14:00:00Z', billing_alignment: 'calendar' });
    // When two local midnights pass
    await s.at('2030-05-12T04:00:01Z');
    // Then the first period ends at local midnight (04:00Z): 14 of the day's 24 hours, 24.00 x 14/24 = 14.00; then whole days
    expect(await s.invoices(id)).toEqual([
      '14.00 = fee 14.00 2030-05-10..2030-05-11',
      '24.00 = fee 24.00 2030-05-11..2030-05-12',
      '24.00 = fee 24.00 2030-05-12..2030-05-13',
    ]);
    expect((await s.invoiceBodies(id)).map((i: any) => i.period_end)).toEqual(['2030-05-11T04:00:00.000Z', '2030-05-12T04:00:00.000Z', '2030-05-13T04:00:00.000Z']);
  });

  it('14. calendar alignment from exactly a boundary: the first period is whole and billed in full', async () => {
    // Given a customer in Tokyo and Cal31 from local midnight on 1 June 2030 (15:00Z on 31 May), on the calendar
    const customerId = await s.customer({ timezone: 'Asia/Tokyo' });
    const id = await s.subscribe({ customer_id: customerId, plan_code: 'cal31', start_at: '2030-05-31T15:00:00Z', billing_alignment: 'calendar' });
    await s.at('2030-05-31T15:00:01Z');
    // Then the first period is the whole local June, 31.00 with nothing prorated
    const [june] = await s.invoiceBodies(id);
    expect(june).toMatchObject({ total: '31.00', period_start: '2030-05-31T15:00:00.000Z', period_end: '2030-06-30T15:00:00.000Z' });
  });

  it('15. calendar alignment in New York across the fall-back: boundaries move from 04:00Z to 05:00Z', async () => {
    // Given a customer in New York on Cal31 from local midnight on 17 October 2030 (EDT: 04:00Z), on the calendar
    const customerId = await newYork();
    const id = await s.subscribe({ customer_id: customerId, plan_code: 'cal31', start_at: '2030-10-17T04:00:00Z', billing_alignment: 'calendar' });
    // When November begins in New York, and then December
    await s.at('2030-12-01T05:00:01Z');
    // Then October's local month (1 October 04:00Z..1 November 04:00Z, 31 days) has 15 days from
    // the start: 31.00 x 15/31 = 15.00; November (DST ends 3 November) runs 1 November 04:00Z..
    // 1 December 05:00Z, 721 hours, in full; December starts at 05:00Z.
    expect(await s.invoices(id)).toEqual([
      '15.00 = fee 15.00 2030-10-17..2030-11-01',
      '31.00 = fee 31.00 2030-11-01..2030-12-01',
      '31.00 = fee 31.00 2030-12-01..2031-01-01',
    ]);
    const [, november, december] = await s.invoiceBodies(id);
    expect([november.period_start, november.period_end]).toEqual(['2030-11-01T04:00:00.000Z', '2030-12-01T05:00:00.000Z']);
    expect(hours(november.period_start, november.period_end)).toBe(721);
    expect([december.period_start, december.period_end]).toEqual(['2030-12-01T05:00:00.000Z', '2031-01-01T05:00:00.000Z']);
  });

  it('16. cancel with proration in a short first calendar period: the credit is a share of the whole calendar month', async () => {
    // Given Cal31 from 17 January 2031, on the calendar: its first period 17 January..1 February is billed 15.00
    const id = await s.subscribe({ plan_code: 'cal31', start_at: '2031-01-17T00:00:00Z', billing_alignment: 'calendar' });
    await s.at('2031-01-20T00:00:00Z');
    // When support cancels it with proration on 24 January
    expect((await s.post(`/v1/subscriptions/${id}/cancel`, { at: '2031-01-24T00:00:00Z', prorate: true })).status).toBe(200);
    await s.at('2031-01-24T00:00:01Z');
    // Then 24 January..1 February, 8 of January's 31 days, is credited: 31.00 x 8/31 = 8.00; the
    // 7 days served (7.00) and the credit add up to what was billed
    expect(await s.invoices(id)).toEqual(['15.00 = fee 15.00 2031-01-17..2031-02-01', '-8.00 = fee -8.00 2031-01-24..2031-02-01']);
    expect(total(['7.00', '8.00'])).toBe('15.00');
  });

  it('17. anniversary on 31 January at local midnight in New York: clamped to month ends, and following DST', async () => {
    // Given a customer in New York on Monthly from local midnight on 31 January 2031 (05:00Z)
    const customerId = await newYork();
    const id = await s.subscribe({ customer_id: customerId, plan_code: 'monthly', start_at: '2031-01-31T05:00:00Z' });
    // When three months pass (DST begins on 9 March 2031)
    await s.at('2031-04-30T04:00:01Z');
    // Then it renews at local midnight on 28 February (EST, 05:00Z), 31 March and 30 April (EDT, 04:00Z)
    expect((await s.invoiceBodies(id)).map((i: any) => [i.period_start, i.period_end, i.total])).toEqual([
      ['2031-01-31T05:00:00.000Z', '2031-02-28T05:00:00.000Z', '30.00'],
      ['2031-02-28T05:00:00.000Z', '2031-03-31T04:00:00.000Z', '30.00'],
      ['2031-03-31T04:00:00.000Z', '2031-04-30T04:00:00.000Z', '30.00'],
      ['2031-04-30T04:00:00.000Z', '2031-05-31T04:00:00.000Z', '30.00'],
    ]);
  });

  it('18. daily calendar alignment on the 23-hour day when DST begins in New York', async () => {
    // Given a customer in New York on Daily ($24.00/day) from 10:00 local time (EDT, 14:00Z) on
    // 14 March 2032, the day clocks go forward: that local day runs 05:00Z..04:00Z, 23 hours
    const customerId = await newYork();
    const id = await s.subscribe({ customer_id: customerId, plan_code: 'daily', start_at: '2032-03-14T14:00:00Z', billing_alignment: 'calendar' });
    await s.at('2032-03-15T04:00:01Z');
    // Then the first period is 14 of the day's 23 hours: 24.00 x 14/23 = 14.6086… = 14.61;
    // the next day, 15 March 04:00Z..16 March 04:00Z, is whole
    expect((await s.invoiceBodies(id)).map((i: any) => [i.period_start, i.period_end, i.total])).toEqual([
      ['2032-03-14T14:00:00.000Z', '2032-03-15T04:00:00.000Z', '14.61'],
      ['2032-03-15T04:00:00.000Z', '2032-03-16T04:00:00.000Z', '24.00'],
    ]);
    expect(new Decimal('24.00').times(14).dividedBy(23).toDecimalPlaces(2, Decimal.ROUND_HALF_UP).toFixed(2)).toBe('14.61');
  });
});
