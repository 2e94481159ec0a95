import { scenarios, type Scenarios } from '../support/scenarios';
import { subscriptionWorkflowId } from '../../workflows/messages';

/**
 * Given a monthly subscription that lives ten years, with a downgrade scheduled years ahead,
 * when the ten years pass on the time-skipping server,
 * then it has billed 120 months, the scheduled change happened when it was due (carried across
 * every continue-as-new until then), and its current run's history is a few dozen events, far
 * below Temporal's warning at 10,240, because each period is a run of its own.
 */
describe('a subscription that lives ten years', () => {
  let s: Scenarios;

  beforeAll(async () => {
    s = await scenarios('ten-years');
    await s.plan('decade-pro', { amount: '20.00' });
    await s.plan('decade-basic', { amount: '10.00' });
  });
  afterAll(async () => s?.stop());

  it('bills 120 months, applies a change scheduled five years ahead, and keeps every run small', async () => {
    const id = await s.subscribe({ plan_code: 'decade-pro', start_at: '2027-01-01T00:00:00Z' });
    await s.at('2027-01-02T00:00:00Z');
    const scheduled = await s.post(`/v1/subscriptions/${id}/change_plan`, { plan_code: 'decade-basic', at: '2032-01-01T00:00:00Z' });
    expect(scheduled.status).toBe(200);

    await s.at('2036-12-15T00:00:00Z');
    // 2027-01 .. 2036-12: 120 renewals; 60 on Pro (20.00), then 60 on Basic (10.00). The change falls
    // exactly on a renewal, so it bills no proration.
    const rows = await s.stack.db.orm.em
      .fork()
      .execute(`select billing_reason, total::text, period_start from invoices where subscription_id = ? order by sequence`, [id]);
    expect(rows.map((r: any) => r.billing_reason)).toEqual(Array(120).fill('subscription_cycle'));
    expect(rows.slice(0, 60).every((r: any) => r.total === '20.000000')).toBe(true);
    expect(rows.slice(60).every((r: any) => r.total === '10.000000')).toBe(true);
    expect(new Date(rows[60].period_start).toISOString()).toBe('2032-01-01T00:00:00.000Z');

    const handle = s.stack.env.client.workflow.getHandle(subscriptionWorkflowId(id));
    const history = await handle.fetchHistory();
    expect(history.events!.length).toBeLessThan(100);
    const state = (await s.get(`/v1/subscriptions/${id}`)).body;
    expect(state).toMatchObject({ status: 'active', plan_code: 'decade-basic', current_period_start: '2036-12-01T00:00:00.000Z' });
  });
});
