import { eventually, expectError, startStack, unique, waitForInvoices, type Stack } from './harness';

const DAY_MS = 86_400_000;

/** The UTC month `n` months from the current one, YYYY-MM. */
function month(n: number): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + n, 1)).toISOString().slice(0, 7);
}
const firstOf = (m: string): string => `${m}-01T00:00:00.000Z`;
const plus = (iso: string, days: number): string => new Date(Date.parse(iso) + days * DAY_MS).toISOString();

/**
 * Payment terms and the reports read from invoices, through the API: net terms give invoices a
 * due date, an unpaid invoice ages through the AR buckets, and MRR follows monthly and yearly
 * subscriptions, an upgrade and a cancellation.
 */
describe('payment terms and finance reports', () => {
  let stack: Stack;
  let basic: string;
  let pro: string;
  let annual: string;
  /** The payment terms tests bill in GBP, so the USD MRR is the MRR section's alone. */
  let gbp: string;

  async function customer(name: string, fields: Record<string, unknown> = {}): Promise<string> {
    const res = await stack.admin.post('/v1/customers', { name, email: `${unique(name.toLowerCase().replace(/\W/g, ''))}@example.test`, currency: 'USD', ...fields });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  async function subscribe(customerId: string, planCode: string, startAt: string): Promise<string> {
    const res = await stack.admin.post('/v1/subscriptions', { customer_id: customerId, plan_code: planCode, start_at: startAt });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  async function plan(name: string, fields: Record<string, unknown>): Promise<string> {
    const code = unique(name.toLowerCase().replace(/\W/g, ''));
    const res = await stack.admin.post('/v1/plans', { code, name, currency: 'USD', interval: 'month', ...fields });
    expect(res.status).toBe(201);
    return code;
  }

  beforeAll(async () => {
    stack = await startStack('finance-reports');
    basic = await plan('Basic', { amount: '50.00' });
    pro = await plan('Pro', { amount: '80.00' });
    annual = await plan('Annual', { amount: '1200.00', interval: 'year' });
    gbp = await plan('Pounds', { amount: '30.00', currency: 'GBP' });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  describe('payment terms', () => {
    it('a customer on net 30 gets invoices due 30 days after issue; the terms can be changed, within 0 to 365 days', async () => {
      const id = await customer('Terms', { net_terms_days: 30, currency: 'GBP' });
      expect((await stack.readonly.get(`/v1/customers/${id}`)).body.net_terms_days).toBe(30);
      const [invoice] = await waitForInvoices(stack.admin, await subscribe(id, gbp, new Date().toISOString()), 1);
      expect({ days: invoice.days_until_due, due: invoice.due_at, overdue: invoice.overdue }).toEqual({ days: 30, due: plus(invoice.issued_at, 30), overdue: false });

      const updated = await stack.support.post(`/v1/customers/${id}`, { net_terms_days: 14 });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ id, net_terms_days: 14, name: 'Terms' });
      expectError(await stack.support.post(`/v1/customers/${id}`, { net_terms_days: 366 }), 400, { code: 'parameter_invalid', param: 'net_terms_days' });
      expectError(await stack.readonly.post(`/v1/customers/${id}`, { net_terms_days: 1 }), 403, { type: 'permission_error' });
    });

    it("an open invoice's terms can change; a paid one's cannot", async () => {
      const id = await customer('Retermed', { currency: 'GBP' });
      const [invoice] = await waitForInvoices(stack.admin, await subscribe(id, gbp, new Date().toISOString()), 1);
      expect({ days: invoice.days_until_due, due: invoice.due_at }).toEqual({ days: 0, due: invoice.issued_at });

      const changed = await stack.support.post(`/v1/invoices/${invoice.id}`, { days_until_due: 45 });
      expect(changed.status).toBe(200);
      expect({ days: changed.body.days_until_due, due: changed.body.due_at, overdue: changed.body.overdue }).toEqual({ days: 45, due: plus(invoice.issued_at, 45), overdue: false });

      expect((await stack.support.post(`/v1/invoices/${invoice.id}/payments`, { amount: invoice.amount_due })).status).toBe(201);
      expectError(await stack.support.post(`/v1/invoices/${invoice.id}`, { days_until_due: 10 }), 409, { type: 'state_error', code: 'invoice_not_open' });
      expectError(await stack.support.post('/v1/invoices/in_doesnotexist', { days_until_due: 10 }), 404, { type: 'not_found_error' });
    });
  });

  describe('AR aging', () => {
    it('an unpaid invoice moves through the buckets as as_of moves', async () => {
      const id = await customer('Ageing', { currency: 'EUR', net_terms_days: 10 });
      const eurPlan = unique('eur-monthly');
      expect((await stack.admin.post('/v1/plans', { code: eurPlan, name: 'EUR monthly', currency: 'EUR', interval: 'month', amount: '20.00' })).status).toBe(201);
      const [invoice] = await waitForInvoices(stack.admin, await subscribe(id, eurPlan, new Date().toISOString()), 1);
      const due = invoice.due_at as string;
      expect(due).toBe(plus(invoice.issued_at, 10));

      const bucketsAt = async (asOf: string) => {
        const res = await stack.readonly.get(`/v1/reports/ar_aging?currency=EUR&as_of=${encodeURIComponent(asOf)}`);
        expect(res.status).toBe(200);
        expect(res.body.data).toHaveLength(1);
        const [row] = res.body.data[0].customers;
        const buckets = { not_yet_due: row.not_yet_due, days_1_30: row.days_1_30, days_31_60: row.days_31_60, days_61_90: row.days_61_90, days_91_120: row.days_91_120, days_over_120: row.days_over_120, total: row.total };
        // One customer, one invoice: the totals are that customer's row.
        expect(res.body.data[0].totals).toEqual(buckets);
        return { name: row.name, ...buckets };
      };
      const none = { name: 'Ageing', not_yet_due: '0.00', days_1_30: '0.00', days_31_60: '0.00', days_61_90: '0.00', days_91_120: '0.00', days_over_120: '0.00', total: '20.00' };
      // Due exactly at due_at: not yet due; a day later, 1 day past due; and so on (started days).
      expect(await bucketsAt(due)).toEqual({ ...none, not_yet_due: '20.00' });
      expect(await bucketsAt(plus(due, 1))).toEqual({ ...none, days_1_30: '20.00' });
      expect(await bucketsAt(plus(due, 30))).toEqual({ ...none, days_1_30: '20.00' });
      expect(await bucketsAt(plus(due, 45))).toEqual({ ...none, days_31_60: '20.00' });
      expect(await bucketsAt(plus(due, 75))).toEqual({ ...none, days_61_90: '20.00' });
      expect(await bucketsAt(plus(due, 100))).toEqual({ ...none, days_91_120: '20.00' });
      expect(await bucketsAt(plus(due, 200))).toEqual({ ...none, days_over_120: '20.00' });
      // Before it was issued it was no receivable at all.
      expect((await stack.readonly.get(`/v1/reports/ar_aging?currency=EUR&as_of=${encodeURIComponent(plus(invoice.issued_at, -1))}`)).body.data[0].customers).toEqual([]);
      // Once paid it leaves the report.
      expect((await stack.support.post(`/v1/invoices/${invoice.id}/payments`, { amount: '20.00' })).status).toBe(201);
      expect((await stack.readonly.get(`/v1/reports/ar_aging?currency=EUR&as_of=${encodeURIComponent(plus(due, 45))}`)).body.data[0]).toMatchObject({ customers: [], totals: { total: '0.00' } });
    });
  });

  describe('MRR and churn', () => {
    // Three months ago A took Basic (50.00 a month); two months ago B took Annual (1,200.00 a year,
    // 100.00 a month) and C took Basic. This month A upgrades to Pro (80.00) and C cancels.
    const [m3, m2, m1, m0] = [month(-3), month(-2), month(-1), month(0)];
    let a: string;
    let c: string;

    beforeAll(async () => {
      a = await subscribe(await customer('MRR A', { net_terms_days: 30 }), basic, firstOf(m3));
      await subscribe(await customer('MRR B'), annual, firstOf(m2));
      c = await subscribe(await customer('MRR C'), basic, firstOf(m2));
      await waitForInvoices(stack.admin, a, 4);
      await waitForInvoices(stack.admin, c, 3);
      expect((await stack.support.post(`/v1/subscriptions/${a}/change_plan`, { plan_code: pro, at: 'now' })).status).toBe(200);
      expect((await stack.support.post(`/v1/subscriptions/${c}/cancel`, { at: 'now', prorate: true })).status).toBe(200);
    });

    it('an invoice past its net terms is overdue', async () => {
      // A's first invoice was issued at the start of m3 on net 30: long past due, and unpaid.
      const invoices = await waitForInvoices(stack.admin, a, 4);
      expect(invoices[0]).toMatchObject({ status: 'open', days_until_due: 30, due_at: plus(invoices[0].issued_at, 30), overdue: true });
    });

    it('MRR and ARR at each month end, and an upgrade as expansion and a cancellation as churn', async () => {
      const zero = { new: '0.00', expansion: '0.00', contraction: '0.00', churn: '0.00', reactivation: '0.00' };
      const expected = [
        // A: 50.00.
        { month: m3, start: '0.00', ...zero, new: '50.00', mrr: '50.00', arr: '600.00' },
        // B: 1,200.00 / 12 = 100.00, C: 50.00.
        { month: m2, start: '50.00', ...zero, new: '150.00', mrr: '200.00', arr: '2400.00' },
        { month: m1, start: '200.00', ...zero, mrr: '200.00', arr: '2400.00' },
        // A: 50.00 - 50.00 (its unused Basic credited) + 80.00 = 80.00, 30.00 more; C: 50.00 - 50.00 = 0.
        { month: m0, start: '200.00', ...zero, expansion: '30.00', churn: '50.00', mrr: '180.00', arr: '2160.00' },
      ];
      const report = await eventually(
        'the upgrade and the cancellation are billed',
        async () => (await stack.readonly.get(`/v1/reports/mrr?currency=USD&from=${m3}&to=${m0}`)).body,
        (body) => body.data?.[0]?.months?.[3]?.mrr === '180.00',
      );
      expect(report.data).toHaveLength(1);
      expect(report.data[0]).toMatchObject({ currency: 'USD', opening_mrr: '0.00', unpriced_fee_lines: 0 });
      const figures = (m: any) => ({ month: m.month, start: m.start, new: m.new, expansion: m.expansion, contraction: m.contraction, churn: m.churn, reactivation: m.reactivation, mrr: m.mrr, arr: m.arr });
      expect(report.data[0].months.map(figures)).toEqual(expected);
      for (const m of report.data[0].months) expect(m.check).toEqual({ computed_mrr: m.mrr, holds: true });
      expect(report.data[0].months[3].month_end).toBe(new Date(Date.parse(firstOf(month(1))) - 1).toISOString());

      const churn = await stack.readonly.get(`/v1/reports/churn?currency=USD&from=${m0}&to=${m0}`);
      expect(churn.status).toBe(200);
      expect(churn.body.definitions).toHaveProperty('net_revenue_churn_rate');
      expect(churn.body.data[0].months).toEqual([
        {
          month: m0,
          customers_at_start: 3,
          churned_customers: 1,
          start_mrr: '200.00',
          churned_mrr: '50.00',
          contraction_mrr: '0.00',
          expansion_mrr: '30.00',
          reactivation_mrr: '0.00',
          // 1 / 3
          logo_churn_rate: '0.3333',
          // (50 + 0) / 200
          gross_revenue_churn_rate: '0.2500',
          // (50 + 0 - 30 - 0) / 200
          net_revenue_churn_rate: '0.1000',
        },
      ]);
    });

    it('is net of included tax and of forever coupons', async () => {
      // In CAD, so the USD figures above stay the other customers' alone.
      const coupon = unique('forever20');
      const tax = unique('hst25');
      expect((await stack.admin.post('/v1/coupons', { code: coupon, name: '20 % off forever', percent_off: '20', duration: 'forever' })).status).toBe(201);
      expect((await stack.admin.post('/v1/tax_rates', { code: tax, name: 'Tax 25 % included', percentage: '25', inclusive: true })).status).toBe(201);
      const cadPlan = await plan('CAD monthly', { amount: '50.00', currency: 'CAD' });
      const id = await customer('Discounted', { currency: 'CAD' });
      expect((await stack.admin.post(`/v1/customers/${id}/applied_coupons`, { coupon_code: coupon })).status).toBe(201);
      expect((await stack.admin.post(`/v1/customers/${id}/tax_rates`, { tax_rates: [tax] })).status).toBe(200);
      const invoices = await waitForInvoices(stack.admin, await subscribe(id, cadPlan, firstOf(m1)), 2);
      // 50.00 less 20 % is 40.00, which includes 40.00 - 40.00 / 1.25 = 8.00 of tax.
      expect(invoices[1].lines.map((l: any) => [l.amount, l.discount_amount, l.tax_amount])).toEqual([['50.00', '10.00', '8.00']]);

      const res = await stack.readonly.get(`/v1/reports/mrr?currency=CAD&from=${m1}&to=${m0}`);
      // MRR: 50.00 x (50.00 - 8.00 tax - 10.00 forever discount) / 50.00 = 32.00.
      expect(res.body.data[0].months.map((m: any) => [m.month, m.new, m.mrr])).toEqual([
        [m1, '32.00', '32.00'],
        [m0, '0.00', '32.00'],
      ]);
    });

    it('without a currency, each currency is reported on its own', async () => {
      const res = await stack.readonly.get(`/v1/reports/mrr?from=${m0}&to=${m0}`);
      expect(res.status).toBe(200);
      expect(res.body.data.map((d: any) => d.currency)).toEqual(['CAD', 'EUR', 'GBP', 'USD']);
    });

    it('refuses a range that ends before it starts or covers more than 120 months', async () => {
      expectError(await stack.readonly.get(`/v1/reports/mrr?currency=USD&from=${m0}&to=${m1}`), 400, { code: 'parameter_invalid', param: 'to' });
      expectError(await stack.readonly.get(`/v1/reports/churn?currency=USD&from=2016-01&to=2026-01`), 400, { code: 'parameter_invalid', param: 'to' });
      expectError(await stack.readonly.get(`/v1/reports/mrr?currency=USD&from=2026-13&to=2026-12`), 400, { code: 'parameter_invalid', param: 'from' });
      expectError(await stack.readonly.get(`/v1/reports/mrr?currency=USD&to=2026-12`), 400, { code: 'parameter_missing', param: 'from' });
    });
  });
});
