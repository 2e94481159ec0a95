/**
 * Accounting periods are UTC calendar months named `YYYY-MM`. Once a month is closed nothing posts
 * into it: a correction dated inside it is posted at the start of the first open month after it, and
 * keeps the date it was meant for, so the books of a closed month never change after the close.
 */
export type AccountingPeriod = string;

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function isAccountingPeriod(value: string): boolean {
  return PERIOD.test(value);
}

/** The month an instant falls in, in UTC. */
export function periodOf(at: Date): AccountingPeriod {
  return at.toISOString().slice(0, 7);
}

/** The first instant of a month. */
export function periodStart(period: AccountingPeriod): Date {
  const match = PERIOD.exec(period);
  if (!match) throw new Error(`"${period}" is not an accounting period (YYYY-MM)`);
  return new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, 1));
}

/** The first instant after a month, i.e. the start of the next one. */
export function periodEnd(period: AccountingPeriod): Date {
  const start = periodStart(period);
  return new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1));
}

export function nextPeriod(period: AccountingPeriod): AccountingPeriod {
  return periodOf(periodEnd(period));
}

export interface Placement {
  effectiveAt: Date;
  /** The date the posting was meant for, when a closed month moved it; null when it posts as dated. */
  datedAt: Date | null;
  /** Appended to the description when moved, so a reader of the open month's journal sees why. */
  descriptionSuffix: string;
}

/**
 * Where a posting dated `at` lands, given the closed months: as dated when its month is open, else at
 * the first instant of the first open month after it.
 */
export function placeInOpenPeriod(at: Date, closed: ReadonlySet<AccountingPeriod>): Placement {
  const dated = periodOf(at);
  if (!closed.has(dated)) return { effectiveAt: at, datedAt: null, descriptionSuffix: '' };
  let open = nextPeriod(dated);
  while (closed.has(open)) open = nextPeriod(open);
  return {
    effectiveAt: periodStart(open),
    datedAt: at,
    descriptionSuffix: ` (dated ${at.toISOString().slice(0, 10)}, in closed period ${dated})`,
  };
}
