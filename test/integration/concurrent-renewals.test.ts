import type { EntityManager } from '@mikro-orm/postgresql';
import { issuePeriodInvoice } from '../../db/invoice-store';
import { forkEm } from '../../db/orm';
import { balances, expectBooksBalanced, startStack, type Stack } from './harness';

/**
 * Many subscriptions of one customer renew at the same instant (midnight, a customer with a
 * subscription per team). Their invoices are issued by concurrent activities, each in its own
 * transaction: none may fail on a deadlock (each retry of one would bill later and later), and the
 * numbers they take stay gapless.
 */
describe('renewals of one customer issued at the same instant', () => {
  let stack: Stack;
  const em = (): EntityManager => forkEm(stack.db.orm)();

  beforeAll(async () => {
    stack = await startStack('concurrent-renewals', { worker: false });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('issues every invoice at the first attempt, without a deadlock, numbered without a gap', async () => {
    const customer = await stack.admin.post('/v1/customers', { name: 'Many teams', email: 'teams@example.test', currency: 'USD' });
    expect(customer.status).toBe(201);
    expect((await stack.admin.post('/v1/plans', { code: 'team-monthly', name: 'Team', currency: 'USD', interval: 'month', amount: '30.00' })).status).toBe(201);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: 'team-monthly', start_at: '2027-01-01T00:00:00Z' });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const period = { start: new Date('2027-02-01T00:00:00Z'), end: new Date('2027-03-01T00:00:00Z') };
    const outcomes = await Promise.allSettled(
      ids.map((subscriptionId) => issuePeriodInvoice(em(), { subscriptionId, periodIndex: 1, periodStart: period.start, periodEnd: period.end, issuedAt: period.start })),
    );
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))).toEqual([]);
    const [numbers] = await em().execute<Array<{ n: number; low: string; high: string }>>(
      `select count(distinct sequence)::int as n, min(sequence)::text as low, max(sequence)::text as high from invoices where subscription_id in (${ids.map(() => '?').join(', ')})`,
      ids,
    );
    expect(numbers.n).toBe(12);
    expect(Number(numbers.high) - Number(numbers.low)).toBe(11);
    expectBooksBalanced(await balances(stack.admin));
  });
});
