import { MAX_ELAPSED_PERIODS, positionAt, subscriptionTimeline } from '../../../domain/timeline';

const monthly = { interval: 'month' as const, intervalCount: 1 };
const daily = { interval: 'day' as const, intervalCount: 1 };
const at = (iso: string): Date => new Date(iso);

describe('where a subscription stands', () => {
  it('a 14-day trial moves the billing anchor to the end of the trial', () => {
    const timeline = subscriptionTimeline(at('2027-01-10T09:00:00Z'), 14);
    expect(timeline.trialEnd).toEqual(at('2027-01-24T09:00:00Z'));
    expect(timeline.billingAnchor).toEqual(at('2027-01-24T09:00:00Z'));
  });

  it('without a trial the anchor is the start', () => {
    expect(subscriptionTimeline(at('2027-01-10T09:00:00Z'), 0)).toEqual({ trialEnd: null, billingAnchor: at('2027-01-10T09:00:00Z') });
  });

  it('a subscription starting tomorrow is scheduled and has no current period', () => {
    const start = at('2027-03-02T00:00:00Z');
    expect(positionAt(start, subscriptionTimeline(start, 0), monthly, at('2027-03-01T12:00:00Z'))).toEqual({
      status: 'scheduled',
      currentPeriodStart: null,
      currentPeriodEnd: null,
      elapsedPeriods: 0,
    });
  });

  it('during the trial the current period is the trial itself', () => {
    const start = at('2027-03-01T00:00:00Z');
    expect(positionAt(start, subscriptionTimeline(start, 7), monthly, at('2027-03-03T00:00:00Z'))).toMatchObject({
      status: 'trialing',
      currentPeriodStart: start,
      currentPeriodEnd: at('2027-03-08T00:00:00Z'),
    });
  });

  it('a daily subscription backdated by three days and an hour has three elapsed periods and is in its fourth', () => {
    const start = at('2027-05-01T11:00:00Z');
    expect(positionAt(start, subscriptionTimeline(start, 0), daily, at('2027-05-04T12:00:00Z'))).toEqual({
      status: 'active',
      currentPeriodStart: at('2027-05-04T11:00:00Z'),
      currentPeriodEnd: at('2027-05-05T11:00:00Z'),
      elapsedPeriods: 3,
    });
  });

  it('a period ending exactly now is elapsed: the next one is current', () => {
    const start = at('2027-01-31T00:00:00Z');
    expect(positionAt(start, subscriptionTimeline(start, 0), monthly, at('2027-02-28T00:00:00Z'))).toMatchObject({
      currentPeriodStart: at('2027-02-28T00:00:00Z'),
      currentPeriodEnd: at('2027-03-31T00:00:00Z'),
      elapsedPeriods: 1,
    });
  });

  it('counting stops just past the backfill limit instead of walking centuries of days', () => {
    const start = at('1900-01-01T00:00:00Z');
    expect(positionAt(start, subscriptionTimeline(start, 0), daily, at('2027-01-01T00:00:00Z')).elapsedPeriods).toBe(MAX_ELAPSED_PERIODS + 1);
  });
});
