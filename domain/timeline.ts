import { addDays, periodOf, type Alignment, type Cadence } from './period';

export interface Timeline {
  trialEnd: Date | null;
  /** Periods are counted from here: the end of the trial, or the start when there is none. */
  billingAnchor: Date;
}

export function subscriptionTimeline(startAt: Date, trialDays: number): Timeline {
  const trialEnd = trialDays > 0 ? addDays(startAt, trialDays) : null;
  return { trialEnd, billingAnchor: trialEnd ?? startAt };
}

/** A backdated start bills every elapsed period at once; beyond this many it is surely a mistake. */
export const MAX_ELAPSED_PERIODS = 1000;

export interface Position {
  status: 'scheduled' | 'trialing' | 'active';
  currentPeriodStart: Date | null;
  currentPeriodEnd: Date | null;
  /** Periods already over at `now`, each to be invoiced at once; capped at MAX_ELAPSED_PERIODS + 1. */
  elapsedPeriods: number;
}

/** Where a subscription stands at `now`: not started, in its trial, or in which billing period. */
export function positionAt(
  startAt: Date,
  timeline: Timeline,
  cadence: Cadence,
  now: Date,
  clock: { zone: string; alignment: Alignment } = { zone: 'UTC', alignment: 'anniversary' },
): Position {
  const periodAt = (anchor: Date, c: Cadence, index: number) => periodOf({ anchor, cadence: c, ...clock }, index);
  if (now < startAt) return { status: 'scheduled', currentPeriodStart: null, currentPeriodEnd: null, elapsedPeriods: 0 };
  if (timeline.trialEnd && now < timeline.trialEnd) {
    return { status: 'trialing', currentPeriodStart: startAt, currentPeriodEnd: timeline.trialEnd, elapsedPeriods: 0 };
  }
  let index = 0;
  let period = periodAt(timeline.billingAnchor, cadence, index);
  while (period.end <= now && index <= MAX_ELAPSED_PERIODS) period = periodAt(timeline.billingAnchor, cadence, ++index);
  return { status: 'active', currentPeriodStart: period.start, currentPeriodEnd: period.end, elapsedPeriods: index };
}
