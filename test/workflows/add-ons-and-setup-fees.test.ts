import Decimal from 'decimal.js';
import type { ApiClient } from '../support/http';
import { timeSkippingStack, type TimeSkippingStack } from '../support/time-skipping-stack';
import { invoiceWorkflowId } from '../../workflows/messages';

/**
 * Add-ons and setup fees over several periods on the time-skipping server, every invoice worked out
 * by hand, the ledger balanced after every step. Customers pay in USD in UTC; no card is collected
 * (invoices wait for a payment by hand), which changes nothing of what is billed.
 */
describe('add-ons and setup fees over time', () => {
  let stack: TimeSkippingStack;
  let api: ApiClient;
  const workflowIds: string[] = [];

  beforeAll(async () => {
    // One clock for the suite: each scenario starts after the one before ended.
    stack = await timeSkippingStack('add-ons');
    api = stack.api;
    expect((await api.post('/v1/plans', { code: 'team', name: 'Team', currency: 'USD', interval: 'month', amount: '100.00' })).status).toBe(201);
    expect((await api.post('/v1/plans', { code: 'onboarded', name: 'Onboarded', currency: 'USD', interval: 'month', amount: '50.00', trial_days: 14, setup_fee: '200.00' })).status).toBe(201);
    expect((await api.post('/v1/add_ons', { code: 'storage', name: 'Extra storage', amount: '30.00', currency: 'USD', interval: 'month' })).status).toBe(201);
    expect((await api.post('/v1/add_ons', { code: 'training', name: 'Training session', amount: '75.00', currency: 'USD' })).status).toBe(201);
    expect((await api.post('/v1/add_ons', { code: 'yearly-support', name: 'Support', amount: '500.00', currency: 'USD', interval: 'year' })).status).toBe(201);
  });

  afterAll(async () => {
    const invoices = await stack?.db.orm.em.fork().execute<Array<{ id: string }>>('select id from invoices');
    await stack?.terminateWhenIdle([...workflowIds, ...(invoices ?? []).map((i) => invoiceWorkflowId(i.id))], 'suite finished');
    await stack?.stop();
  });

  let n = 0;
  async function subscribe(planCode: string, startAt: string, alignment: 'anniversary' | 'calendar' = 'anniversary'): Promise<string> {
    const customer = await api.post('/v1/customers', { name: `Client ${++n}`, email: `client${n}@example.test`, currency: 'USD' });
    const created = await api.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: planCode, start_at: startAt, billing_alignment: alignment });
    expect(created.status).toBe(201);
    workflowIds.push(created.body.workflow_id);
    return created.body.id;
  }

  /** Oldest first, each as [number of lines, kind:description:quantity:amount per line, total, amount due]. */
  async function invoices(subscriptionId: string) {
    const data = (await api.get(`/v1/invoices?subscription_id=${subscriptionId}&limit=100`)).body.data.reverse();
    return data.map((i: any) => ({ lines: i.lines.map((l: any) => `${l.kind}:${l.description}:${l.quantity}:${l.amount}`), total: i.total, due: i.amount_due }));
  }

  async function expectBooksBalanced(): Promise<void> {
    const rows = (await api.get('/v1/ledger/balances')).body.data as Array<{ debits: string; credits: string }>;
    const total = (side: 'debits' | 'credits') => rows.reduce((t, r) => t.plus(r[side]), new Decimal(0));
    expect(total('debits').toFixed(2)).toBe(total('credits').toFixed(2));
  }

  const balance = async (account: string): Promise<string> => {
    const rows = (await api.get('/v1/ledger/balances')).body.data as Array<{ account: string; currency: string; balance: string }>;
    return rows.find((r) => r.account === account && r.currency === 'USD')?.balance ?? '0.00';
  };

  it('a recurring add-on added mid-period is prorated, rides each renewal, and is credited for its unused days when removed mid-period', async () => {
    const id = await subscribe('team', '2027-04-01T00:00:00Z');
    await stack.skipTo('2027-04-01T00:01:00Z');
    await expectBooksBalanced();

    // Two units of storage (2 x 30.00 = 60.00 a month) from 11 April: 20 of April's 30 days are left,
    // so 60.00 x 20/30 = 40.00 is invoiced at once.
    await stack.skipTo('2027-04-11T00:00:00Z');
    const added = await api.post(`/v1/subscriptions/${id}/add_ons`, { add_on_code: 'storage', quantity: '2', at: '2027-04-11T00:00:00Z' });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ object: 'subscription_add_on', quantity: '2', added_at: '2027-04-11T00:00:00.000Z', removed_at: null, add_on: { code: 'storage' } });
    expect(added.body.invoice).toMatchObject({ subscription_id: id, billing_reason: 'subscription_update', total: '40.00', period_start: '2027-04-11T00:00:00.000Z', period_end: '2027-05-01T00:00:00.000Z' });
    expect(added.body.invoice.lines).toEqual([
      expect.objectContaining({ kind: 'fee', description: 'Extra storage from 2027-04-11 to 2027-05-01 (prorated)', quantity: '2', amount: '40.00', add_on_id: added.body.add_on.id }),
    ]);
    expect((await api.get(`/v1/subscriptions/${id}`)).body.add_ons).toEqual([expect.objectContaining({ id: added.body.id, quantity: '2' })]);
    // May's invoice, previewed, renews the storage with the plan; so does a plan change at the period's end, previewed.
    const upcoming = (await api.get(`/v1/subscriptions/${id}/usage`)).body.upcoming_invoice;
    expect(upcoming.lines.map((l: any) => `${l.description}:${l.amount}`)).toEqual(['Team:100.00', 'Extra storage:60.00']);
    const atPeriodEnd = await api.post(`/v1/subscriptions/${id}/change_plan/preview`, { plan_code: 'team', plan_version: 1, at: 'period_end', overrides: { amount: '90.00' } });
    expect(atPeriodEnd.status).toBe(200);
    expect(atPeriodEnd.body.invoice.lines.map((l: any) => `${l.description}:${l.amount}`)).toEqual(['Team:90.00', 'Extra storage:60.00']);
    await expectBooksBalanced();

    // A yearly add-on cannot ride a monthly plan.
    const mismatch = await api.post(`/v1/subscriptions/${id}/add_ons`, { add_on_code: 'yearly-support', at: '2027-04-11T00:00:00Z' });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.error).toMatchObject({ code: 'add_on_interval_mismatch', param: 'add_on_code' });

    // May and June renew the plan (100.00) and the storage for the whole month (60.00): 160.00.
    await stack.skipTo('2027-06-01T00:01:00Z');
    await expectBooksBalanced();

    // Removed on 21 June: 10 of June's 30 days unused, 60.00 x 10/30 = 20.00 credited to the customer.
    await stack.skipTo('2027-06-21T00:00:00Z');
    const removed = await api.delete(`/v1/subscriptions/${id}/add_ons/${added.body.id}?at=2027-06-21T00:00:00Z`);
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ removed_at: '2027-06-21T00:00:00.000Z' });
    expect(removed.body.invoice).toMatchObject({ total: '-20.00', amount_due: '0.00', status: 'paid' });
    expect(removed.body.invoice.lines.map((l: any) => [l.kind, l.description, l.amount])).toEqual([['fee', 'Unused time on Extra storage from 2027-06-21 to 2027-07-01', '-20.00']]);
    expect((await api.get(`/v1/subscriptions/${id}`)).body.add_ons).toEqual([]);
    const again = await api.delete(`/v1/subscriptions/${id}/add_ons/${added.body.id}`);
    expect(again.status).toBe(409);
    await expectBooksBalanced();

    // July bills the plan alone, 100.00, of which the 20.00 credit pays part: 80.00 due.
    await stack.skipTo('2027-07-01T00:01:00Z');
    expect(await invoices(id)).toEqual([
      { lines: ['fee:Team:1:100.00'], total: '100.00', due: '100.00' },
      { lines: ['fee:Extra storage from 2027-04-11 to 2027-05-01 (prorated):2:40.00'], total: '40.00', due: '40.00' },
      { lines: ['fee:Team:1:100.00', 'fee:Extra storage:2:60.00'], total: '160.00', due: '160.00' },
      { lines: ['fee:Team:1:100.00', 'fee:Extra storage:2:60.00'], total: '160.00', due: '160.00' },
      { lines: ['fee:Unused time on Extra storage from 2027-06-21 to 2027-07-01:2:-20.00'], total: '-20.00', due: '0.00' },
      { lines: ['fee:Team:1:100.00'], total: '100.00', due: '80.00' },
    ]);

    // Recognised through 1 July: the plan for April to June (300.00) and the storage served
    // (40.00 + 60.00 + 60.00 - 20.00 = 140.00) are revenue, 440.00; July's 100.00 is still deferred.
    await stack.recogniseRevenue('2027-07-01T00:00:00Z');
    expect({ revenue: await balance('revenue'), deferred: await balance('deferred_revenue') }).toEqual({ revenue: '440.00', deferred: '100.00' });
    await expectBooksBalanced();

    // MRR at the end of May: the plan and the storage at their monthly prices, 160.00.
    const mrr = await api.get('/v1/reports/mrr?from=2027-05&to=2027-05&currency=USD');
    expect(mrr.status).toBe(200);
    expect(mrr.body.data[0].months[0].mrr).toBe('160.00');
  });

  it('a setup fee is billed once, on the first invoice after the trial, and a one-time add-on once, on the next invoice', async () => {
    const id = await subscribe('onboarded', '2027-08-01T00:00:00Z');
    await stack.skipTo('2027-08-02T00:00:00Z');
    expect(await invoices(id)).toEqual([]);

    // A training session attached during the trial waits for the subscription's next invoice.
    const training = await api.post(`/v1/subscriptions/${id}/add_ons`, { add_on_code: 'training' });
    expect(training.status).toBe(201);
    expect(training.body).toMatchObject({ billed_invoice_id: null, invoice: null });
    // The upcoming invoice shows the training waiting for it.
    const upcoming = (await api.get(`/v1/subscriptions/${id}/usage`)).body.upcoming_invoice;
    expect(upcoming.lines.map((l: any) => `${l.kind}:${l.description}:${l.amount}`)).toContain('one_off:Training session:75.00');

    // The trial ends on 15 August: the first month (50.00), the setup fee (200.00) and the training
    // (75.00): 325.00. The next renewal bills the month alone.
    await stack.skipTo('2027-09-15T00:01:00Z');
    await expectBooksBalanced();
    expect(await invoices(id)).toEqual([
      { lines: ['fee:Onboarded:1:50.00', 'setup:Setup fee (Onboarded):1:200.00', 'one_off:Training session:1:75.00'], total: '325.00', due: '325.00' },
      { lines: ['fee:Onboarded:1:50.00'], total: '50.00', due: '50.00' },
    ]);
    const [first] = (await api.get(`/v1/invoices?subscription_id=${id}&limit=100`)).body.data.reverse();
    const items = (await api.get(`/v1/subscriptions/${id}/add_ons`)).body.data;
    expect(items).toEqual([expect.objectContaining({ id: training.body.id, billed_invoice_id: first.id })]);

    // A new version of the plan with a bigger setup fee, taken at the period's end: no setup fee again.
    expect((await api.post('/v1/plans/onboarded/versions', { amount: '60.00', setup_fee: '300.00' })).status).toBe(201);
    const changed = await api.post(`/v1/subscriptions/${id}/change_plan`, { plan_code: 'onboarded', at: 'period_end' });
    expect(changed.status).toBe(200);
    await stack.skipTo('2027-10-15T00:01:00Z');
    expect((await invoices(id)).at(-1)).toEqual({ lines: ['fee:Onboarded:1:60.00'], total: '60.00', due: '60.00' });

    // The database holds one setup fee decision per subscription, naming the line that billed it.
    const decided = await stack.db.orm.em.fork().execute('select invoice_id from subscription_setup_fees where subscription_id = ?', [id]);
    expect(decided).toEqual([{ invoice_id: first.id }]);
    await expectBooksBalanced();
  });

  it('in a short first calendar period an add-on is prorated over the whole month, as the plan is', async () => {
    // Started on 11 November with calendar alignment: the first period is 11-30 November, priced as
    // 20 of November's 30 days (100.00 x 20/30 = 66.67).
    const id = await subscribe('team', '2027-11-11T00:00:00Z', 'calendar');
    await stack.skipTo('2027-11-11T00:01:00Z');
    // One unit of storage from 21 November: 10 of November's 30 days, 30.00 x 10/30 = 10.00 (not 10 of
    // the short period's 20 days, which would be 15.00).
    await stack.skipTo('2027-11-21T00:00:00Z');
    const added = await api.post(`/v1/subscriptions/${id}/add_ons`, { add_on_code: 'storage', quantity: '1', at: '2027-11-21T00:00:00Z' });
    expect(added.status).toBe(201);
    expect(added.body.invoice).toMatchObject({ total: '10.00' });
    // Removed on 26 November: 5 days unused, 30.00 x 5/30 = 5.00 credited.
    const removed = await api.delete(`/v1/subscriptions/${id}/add_ons/${added.body.id}?at=2027-11-26T00:00:00Z`);
    expect(removed.status).toBe(200);
    expect(removed.body.invoice).toMatchObject({ total: '-5.00' });
    expect(await invoices(id)).toEqual([
      { lines: ['fee:Team from 2027-11-11 to 2027-12-01 (prorated):1:66.67'], total: '66.67', due: '66.67' },
      { lines: ['fee:Extra storage from 2027-11-21 to 2027-12-01 (prorated):1:10.00'], total: '10.00', due: '10.00' },
      { lines: ['fee:Unused time on Extra storage from 2027-11-26 to 2027-12-01:1:-5.00'], total: '-5.00', due: '0.00' },
    ]);
    await expectBooksBalanced();
  });
});
