import Decimal from 'decimal.js';
import { eventually } from '../support/eventually';
import type { ApiClient } from '../support/http';
import { timeSkippingStack, type TimeSkippingStack } from '../support/time-skipping-stack';

/**
 * Given a yearly plan of 730.00 and a monthly plan of 31.00, each subscribed by its own customer
 * from 1 January 2027, the monthly one canceled at the end of September,
 * when 14 months pass on the time-skipping server, with revenue recognised by day at each month
 * end (the daily Schedule's work, run directly: this server has no schedules),
 * then each month's journal export holds exactly the invoices issued in it and one recognition per
 * day, at the amounts worked out here; the MRR report, the deferred revenue waterfall and the
 * reconciliation agree with them.
 *
 * The daily rule (domain/revenue-recognition.ts): a period's days are equal shares, and what is
 * recognised through day k of n is total x k / n rounded to the cent once, so each day posts the
 * difference of two rounded figures. 2027 has 365 days (730.00 is 2.00 a day); the yearly renewal on
 * 1 January 2028 covers a leap year, 366 days of 730/366. A monthly period is its calendar month.
 */
const YEARLY = new Decimal('730.00');
const MONTHLY = new Decimal('31.00');
const DAY = 86_400_000;

const through = (total: Decimal, k: number, n: number) => total.times(k).dividedBy(n).toDecimalPlaces(2, Decimal.ROUND_HALF_UP);
/** Day k's share of n (1-based): through(k) - through(k - 1). */
const dayShare = (total: Decimal, k: number, n: number) => through(total, k, n).minus(through(total, k - 1, n));
const daysBetween = (from: string, to: string) => Math.round((Date.parse(to) - Date.parse(from)) / DAY);
const nextMonth = (month: string) => new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)), 1)).toISOString().slice(0, 7);

const MONTHS = Array.from({ length: 14 }, (_, i) => new Date(Date.UTC(2027, i, 1)).toISOString().slice(0, 7));
/** The monthly subscription bills January to September 2027. */
const MONTHLY_MONTHS = MONTHS.slice(0, 9);

/** The yearly subscription's period holding `day`: 2027 (365 days) or 2028 (366). */
function yearlyPeriod(day: string): { start: string; days: number } {
  const start = `${day.slice(0, 4)}-01-01`;
  return { start, days: daysBetween(start, `${Number(day.slice(0, 4)) + 1}-01-01`) };
}

/** A journal entry as one line of text: its day, source, and each line's account and amount. */
function entryText(e: { date: string; source_type: string | null; lines: Array<{ account: string; debit: string | null; credit: string | null }> }): string {
  return `${e.date} ${e.source_type}: ${e.lines.map((l) => `${l.account} ${l.debit !== null ? `Dr ${l.debit}` : `Cr ${l.credit}`}`).join(', ')}`;
}

/** The month's journal as worked out here: the invoices of its first day, then each day's recognition. */
function expectedJournal(month: string): string[] {
  const lines: string[] = [];
  const issued = (amount: Decimal) => lines.push(`${month}-01 invoice: accounts_receivable Dr ${amount.toFixed(2)}, deferred_revenue Cr ${amount.toFixed(2)}`);
  if (month.endsWith('-01')) issued(YEARLY);
  if (MONTHLY_MONTHS.includes(month)) issued(MONTHLY);
  const days = daysBetween(`${month}-01`, `${nextMonth(month)}-01`);
  for (let d = 1; d <= days; d++) {
    const day = `${month}-${String(d).padStart(2, '0')}`;
    const year = yearlyPeriod(day);
    let amount = dayShare(YEARLY, daysBetween(year.start, day) + 1, year.days);
    if (MONTHLY_MONTHS.includes(month)) amount = amount.plus(dayShare(MONTHLY, d, days));
    lines.push(`${day} revenue_recognition: deferred_revenue Dr ${amount.toFixed(2)}, revenue Cr ${amount.toFixed(2)}`);
  }
  return lines;
}

describe('fourteen months of a yearly and a monthly subscription, as finance sees them', () => {
  let stack: TimeSkippingStack;
  let api: ApiClient;
  const workflows: string[] = [];

  beforeAll(async () => {
    stack = await timeSkippingStack('fourteen-months');
    api = stack.api;
  });

  afterAll(async () => {
    await stack?.terminateWhenIdle(workflows, 'scenario finished').catch(() => undefined);
    await stack?.stop();
  });

  async function subscribe(plan: string, name: string): Promise<string> {
    const customer = await api.post('/v1/customers', { name, email: `${name.toLowerCase()}@finance.test`, currency: 'USD' });
    expect(customer.status).toBe(201);
    const sub = await api.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: plan, start_at: '2027-01-01T00:00:00Z' });
    expect(sub.status).toBe(201);
    workflows.push(sub.body.workflow_id);
    return sub.body.id;
  }

  const invoiceCount = async (subscriptionId: string) => (await api.get(`/v1/invoices?subscription_id=${subscriptionId}&limit=100`)).body.data.length as number;

  it('exports each month line by line, and MRR, deferred revenue and the reconciliation agree', async () => {
    for (const [code, interval, amount] of [
      ['annual', 'year', YEARLY],
      ['monthly', 'month', MONTHLY],
    ] as const) {
      expect((await api.post('/v1/plans', { code, name: code, currency: 'USD', interval, amount: amount.toFixed(2) })).status).toBe(201);
    }
    const annual = await subscribe('annual', 'Annual');
    const monthly = await subscribe('monthly', 'Monthly');

    for (const month of MONTHS) {
      const next = nextMonth(month);
      if (month === '2027-09') {
        const canceled = await api.post(`/v1/subscriptions/${monthly}/cancel`, { at: 'period_end' });
        expect(canceled.body).toMatchObject({ cancel_at_period_end: true });
      }
      // An hour into the next month: its invoices are issued, and every day of this one has ended.
      await stack.skipTo(`${next}-01T01:00:00Z`);
      const expectedInvoices = { annual: next >= '2028-01' ? 2 : 1, monthly: MONTHLY_MONTHS.filter((m) => m <= next).length };
      await eventually(
        `invoices issued by ${next}-01`,
        async () => ({ annual: await invoiceCount(annual), monthly: await invoiceCount(monthly) }),
        (counts) => counts.annual === expectedInvoices.annual && counts.monthly === expectedInvoices.monthly,
      );
      await stack.recogniseRevenue(`${next}-01T00:00:00Z`);

      const journal = await api.get(`/v1/journal_entries?from=${month}-01&to=${next}-01&currency=USD&format=json`);
      expect(journal.status).toBe(200);
      const actual = journal.body.data.map(entryText).sort();
      expect({ month, lines: actual }).toEqual({ month, lines: expectedJournal(month).sort() });
    }

    // The same month as the CSV file an accounting tool imports: January 2027's two invoices and 31
    // days, two lines each; 854.00 debited and as much credited (761.00 billed, 31 x 2.00 + 31.00 = 93.00 recognised).
    const csv = await api.get('/v1/journal_entries?from=2027-01-01&to=2027-02-01&currency=USD&format=csv');
    expect(csv.status).toBe(200);
    const [header, ...rows] = csv.text!.trimEnd().split('\r\n').map((r) => r.split(','));
    expect(rows).toHaveLength(66);
    const column = (name: string) => rows.reduce((s, r) => s.plus(r[header.indexOf(name)] || 0), new Decimal(0)).toFixed(2);
    expect({ debit: column('debit'), credit: column('credit') }).toEqual({ debit: '854.00', credit: '854.00' });

    // Worked out for two months by hand, against the generated lists above: January 2027 recognises
    // 31 days x 2.00 of the yearly plan and all 31.00 of the monthly one; February 2028 29 of 366 days.
    const recognised = (month: string) =>
      expectedJournal(month)
        .filter((l) => l.includes('revenue_recognition'))
        .reduce((s, l) => s.plus(/revenue Cr (\S+)$/.exec(l)![1]), new Decimal(0))
        .toFixed(2);
    expect(recognised('2027-01')).toBe('93.00');
    // 730 x 60/366 - 730 x 31/366 = 119.67 - 61.83
    expect(recognised('2028-02')).toBe('57.84');

    // MRR: 730.00 / 12 = 60.83 and 31.00, one customer each; the monthly customer churns in October.
    const mrr = await api.get('/v1/reports/mrr?currency=USD&from=2027-01&to=2028-02');
    expect(mrr.status).toBe(200);
    const [usd] = mrr.body.data;
    expect(usd.months.map((m: any) => `${m.month} ${m.start} +${m.new} -${m.churn} = ${m.mrr} (ARR ${m.arr}) ${m.check.holds}`)).toEqual(
      MONTHS.map((month) => {
        if (month === '2027-01') return `${month} 0.00 +91.83 -0.00 = 91.83 (ARR 1101.96) true`;
        if (month < '2027-10') return `${month} 91.83 +0.00 -0.00 = 91.83 (ARR 1101.96) true`;
        if (month === '2027-10') return `${month} 91.83 +0.00 -31.00 = 60.83 (ARR 729.96) true`;
        return `${month} 60.83 +0.00 -0.00 = 60.83 (ARR 729.96) true`;
      }),
    );

    // Deferred revenue closes each month at what the yearly plan has not served yet (the monthly
    // plan's month is served within it): 730.00 - 2.00 a day in 2027, 730 - 730 x days/366 in 2028.
    const deferred = await api.get('/v1/reports/deferred_revenue?currency=USD&from=2027-01&to=2028-02');
    expect(deferred.status).toBe(200);
    expect(deferred.body.balanced).toBe(true);
    const closings = Object.fromEntries(deferred.body.months.map((m: any) => [m.month, m.closing]));
    expect(closings).toMatchObject({ '2027-01': '668.00', '2027-02': '612.00', '2027-12': '0.00', '2028-01': '668.17', '2028-02': '610.33' });
    expect(deferred.body.months[0]).toMatchObject({ opening: '0.00', billed: '761.00', recognized: '93.00', other: [] });

    // Every invoice reaches the ledger: 2 x 730.00 + 9 x 31.00 = 1,739.00.
    const reconciliation = await api.get('/v1/reports/reconciliation?currency=USD&from=2027-01-01&to=2028-03-01');
    expect(reconciliation.body).toMatchObject({ balanced: true, differences: [] });
    expect(reconciliation.body.sections[0]).toEqual({ type: 'invoice', records: 11, expected: '1739.00', posted: '1739.00', difference: '0.00' });
  });
});
