import Decimal from 'decimal.js';
import fc from 'fast-check';
import { daysAgo, invoicesOf, startStack, unique, waitForInvoices, type Stack } from './harness';

/**
 * Whatever happens to subscriptions and their invoices, every record reaches the ledger: after a
 * random sequence of issues (subscriptions created, some started in the past so a renewal has been
 * billed), payments, refunds, credit notes, write-offs, plan changes and cancellations, all through
 * the API on real workflows, the reconciliation has no difference and the trial balance holds.
 * A step that the invoice's state refuses (a refund of an unpaid invoice) must be refused with a 4xx,
 * and changes nothing.
 */
type Step =
  | { kind: 'pay'; invoice: number; share: number }
  | { kind: 'refund'; invoice: number; share: number }
  | { kind: 'credit_note'; invoice: number; share: number }
  | { kind: 'write_off'; invoice: number }
  | { kind: 'change_plan' }
  | { kind: 'cancel'; prorate: boolean };

const invoiceIndex = fc.nat({ max: 5 });
/** A share of what the step may take, in quarters: 1 to 4 (4: all of it). */
const share = fc.integer({ min: 1, max: 4 });
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('pay' as const), invoice: invoiceIndex, share }),
  fc.record({ kind: fc.constant('refund' as const), invoice: invoiceIndex, share }),
  fc.record({ kind: fc.constant('credit_note' as const), invoice: invoiceIndex, share }),
  fc.record({ kind: fc.constant('write_off' as const), invoice: invoiceIndex }),
  fc.record({ kind: fc.constant('change_plan' as const) }),
  fc.record({ kind: fc.constant('cancel' as const), prorate: fc.boolean() }),
);

const due = (i: any) => new Decimal(i.amount_due).gt(0) && (i.status === 'open' || i.status === 'uncollectible');
const ELIGIBLE: Record<Step['kind'], (invoice: any) => boolean> = {
  pay: due,
  refund: (i) => new Decimal(i.amount_paid).gt(i.amount_refunded),
  credit_note: (i) => due(i) || (i.status === 'paid' && new Decimal(i.total).gt(i.amount_refunded)),
  write_off: (i) => due(i) && i.status === 'open',
  change_plan: () => true,
  cancel: () => true,
};

describe('reconciliation after random business', () => {
  let stack: Stack;
  const plans: Record<'basic' | 'pro', string> = { basic: '', pro: '' };
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

  beforeAll(async () => {
    stack = await startStack('reconciliation-property');
    plans.basic = unique('basic');
    plans.pro = unique('pro');
    for (const [code, amount] of [
      [plans.basic, '10.00'],
      [plans.pro, '25.00'],
    ]) {
      expect((await stack.admin.post('/v1/plans', { code, name: code, currency: 'USD', interval: 'month', amount })).status).toBe(201);
    }
  });

  afterAll(async () => {
    await stack?.stop();
  });

  /** A quarter-share of `amount`, at least a cent, in cents. */
  const part = (amount: Decimal, quarters: number) => Decimal.max(amount.times(quarters).dividedBy(4).toDecimalPlaces(2, Decimal.ROUND_DOWN), '0.01').toFixed(2);

  async function run(subscriptionId: string, planOf: { code: string }, s: Step): Promise<void> {
    const invoices = await invoicesOf(stack.admin, subscriptionId);
    // The step acts on an invoice it applies to when there is one (so sequences reach refunds of
    // paid invoices), otherwise on any invoice, where it must be refused.
    const eligible = invoices.filter((i) => ELIGIBLE[s.kind](i));
    const among = eligible.length > 0 ? eligible : invoices;
    const invoice = 'invoice' in s ? among[s.invoice % among.length] : undefined;
    let res;
    switch (s.kind) {
      case 'pay':
        res = await stack.admin.post(`/v1/invoices/${invoice.id}/payments`, { amount: part(new Decimal(invoice.amount_due), s.share), reference: 'wire' });
        break;
      case 'refund':
        res = await stack.admin.post(`/v1/invoices/${invoice.id}/refunds`, { amount: part(new Decimal(invoice.amount_paid).minus(invoice.amount_refunded), s.share) });
        break;
      case 'credit_note':
        res = await stack.admin.post(`/v1/invoices/${invoice.id}/credit_notes`, { amount: part(new Decimal(invoice.status === 'paid' ? invoice.total : invoice.amount_due).minus(invoice.amount_refunded), s.share) });
        break;
      case 'write_off':
        res = await stack.admin.post(`/v1/invoices/${invoice.id}/mark_uncollectible`, {});
        break;
      case 'change_plan': {
        planOf.code = planOf.code === plans.basic ? plans.pro : plans.basic;
        res = await stack.admin.post(`/v1/subscriptions/${subscriptionId}/change_plan`, { plan_code: planOf.code, at: 'now' });
        if (res.status !== 200) planOf.code = planOf.code === plans.basic ? plans.pro : plans.basic;
        break;
      }
      case 'cancel':
        res = await stack.admin.post(`/v1/subscriptions/${subscriptionId}/cancel`, { at: 'now', prorate: s.prorate });
        break;
    }
    // Taken, or refused for the state it found (nothing left to pay, refund or credit; a canceled subscription): never a server error.
    expect({ step: s, status: res.status < 500 ? 'answered' : res.status, body: res.status < 500 ? null : res.body }).toEqual({ step: s, status: 'answered', body: null });
  }

  it('has no difference and a balanced trial balance after any sequence of issue, pay, refund, credit note, write-off, plan change and cancel', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(step, { minLength: 1, maxLength: 8 }), async (startedLastMonth, steps) => {
        const name = unique('customer');
        const customer = await stack.admin.post('/v1/customers', { name, email: `${name}@example.test`, currency: 'USD' });
        const planOf = { code: plans.basic };
        // Started 35 days ago: the first period's invoice and the renewal's, both issued at once.
        const sub = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: planOf.code, ...(startedLastMonth ? { start_at: daysAgo(35) } : {}) });
        expect(sub.status).toBe(201);
        await waitForInvoices(stack.admin, sub.body.id, startedLastMonth ? 2 : 1);
        for (const s of steps) await run(sub.body.id, planOf, s);

        const report = await stack.readonly.get(`/v1/reports/reconciliation?currency=USD&from=${day(-60)}&to=${day(2)}`);
        expect(report.status).toBe(200);
        expect({ differences: report.body.differences, trialBalanced: report.body.trial_balance.balanced, balanced: report.body.balanced }).toEqual({
          differences: [],
          trialBalanced: true,
          balanced: true,
        });
      }),
      { numRuns: 15, seed: 20261130 },
    );
    // The runs did reach every kind of record.
    const report = await stack.readonly.get(`/v1/reports/reconciliation?currency=USD&from=${day(-60)}&to=${day(2)}`);
    const counts = Object.fromEntries(report.body.sections.map((s: { type: string; records: number }) => [s.type, s.records]));
    for (const type of ['invoice', 'payment', 'refund', 'credit_note', 'write_off']) expect({ type, reached: counts[type] > 0 }).toEqual({ type, reached: true });
  });
});
