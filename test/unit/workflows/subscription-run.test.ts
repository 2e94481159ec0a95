import { ApplicationFailure } from '@temporalio/common';
import * as period from '../../../domain/period';
import type { PlanSnapshot } from '../../../domain/subscription';
import type { SubscriptionWorkflowInput } from '../../../workflows/messages';
import { SubscriptionRun } from '../../../workflows/subscription-run';

const PRO: PlanSnapshot = { id: 'plan_pro_v1', code: 'pro', version: 1, name: 'Pro', currency: 'USD', amount: '49.00', cadence: { interval: 'month', intervalCount: 1 } };
const TEAM: PlanSnapshot = { id: 'plan_team_v2', code: 'team', version: 2, name: 'Team', currency: 'USD', amount: '99.00', cadence: { interval: 'year', intervalCount: 1 } };

/** A subscription in its fourth monthly period (cycle 3), as a continued run receives it. */
const continued = (overrides: Partial<SubscriptionWorkflowInput> = {}): SubscriptionWorkflowInput => ({
  subscriptionId: 'sub_1',
  customerId: 'cus_1',
  planCode: 'pro',
  planName: 'Pro',
  cadence: PRO.cadence,
  startAt: '2026-01-01T00:00:00Z',
  trialEnd: null,
  billingAnchor: '2026-01-01T00:00:00Z',
  periodIndex: 3,
  cancelAtPeriodEnd: false,
  stateVersion: 7,
  plan: PRO,
  zone: 'UTC',
  alignment: 'anniversary',
  ...overrides,
});

/** A broken invariant is a plain Error: it fails the workflow task (retried) instead of refusing an update or failing the run. */
function brokenInvariant(act: () => unknown): Error {
  try {
    act();
  } catch (error) {
    expect(error).not.toBeInstanceOf(ApplicationFailure);
    expect((error as Error).message).toMatch(/^subscription invariant broken/);
    return error as Error;
  }
  throw new Error('the invariant held');
}

describe('a lifecycle run: one record carried whole, invariants where they must hold', () => {
  it('the record a run continues as new with is its input, normalised: the period is April, and the first version\'s fields follow the plan and the segment', () => {
    const run = new SubscriptionRun(continued());
    expect(run.phase).toBe('active');
    expect(run.period()).toEqual({ index: 3, start: new Date('2026-04-01T00:00:00Z'), end: new Date('2026-05-01T00:00:00Z') });
    expect(run.record.segment).toEqual({ anchor: '2026-01-01T00:00:00.000Z', firstCycle: 0 });

    run.record.cadence = TEAM.cadence;
    run.startSegment(new Date('2026-04-15T00:00:00Z'), 4);
    run.advance(4);
    run.setPlan(TEAM);
    expect(run.record).toMatchObject({ planCode: 'team', planName: 'Team', billingAnchor: '2026-04-15T00:00:00.000Z', periodIndex: 4, plan: TEAM, segment: { anchor: '2026-04-15T00:00:00.000Z', firstCycle: 4 } });
    expect(run.period()).toEqual({ index: 4, start: new Date('2026-04-15T00:00:00Z'), end: new Date('2027-04-15T00:00:00Z') });
  });

  it('a cancellation at period end asked of the first version becomes a scheduled cancellation at the end of the current period', () => {
    const run = new SubscriptionRun(continued({ cancelAtPeriodEnd: true }));
    expect(run.record.cancelAtPeriodEnd).toBe(false);
    expect(run.record.scheduled).toEqual([{ id: 'cancel-at-period-end', kind: 'cancel', at: '2026-04-01T00:00:00.000Z', atPeriodEnd: true, prorate: false }]);
    expect(run.state().cancelAtPeriodEnd).toBe(true);
  });

  it('the cycle only grows: moving it back, or keeping it, breaks the run', () => {
    const run = new SubscriptionRun(continued());
    brokenInvariant(() => run.advance(3));
    brokenInvariant(() => run.advance(2));
    run.advance(4);
    expect(run.cycle).toBe(4);
    brokenInvariant(() => new SubscriptionRun(continued({ periodIndex: 2, segment: { anchor: '2026-03-01T00:00:00Z', firstCycle: 3 } })));
  });

  it('a period starts before it ends: an empty period from the schedule breaks the run instead of being billed', () => {
    const run = new SubscriptionRun(continued());
    const instant = new Date('2026-04-01T00:00:00Z');
    const empty = jest.spyOn(period, 'periodOf').mockReturnValue({ index: 0, start: instant, end: instant });
    try {
      brokenInvariant(() => run.period());
    } finally {
      empty.mockRestore();
    }
    expect(run.period().end).toEqual(new Date('2026-05-01T00:00:00Z'));
  });

  it('a suspension names an invoice whose collection failed; one only overdue, or not unpaid at all, breaks the run', () => {
    const run = new SubscriptionRun(continued({ unpaid: { in_overdue: 'overdue', in_failed: 'failed' } }));
    brokenInvariant(() => run.suspendFor('in_overdue'));
    brokenInvariant(() => run.suspendFor('in_paid'));
    run.suspendFor('in_failed');
    expect(run.record.suspendedFor).toBe('in_failed');
    expect(run.state().status).toBe('suspended');
  });
});
