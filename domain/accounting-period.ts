import { addMonths, monthOf, monthStart } from './months';

/**
 * Accounting periods are UTC calendar months named `YYYY-MM`. Once a month is closed nothing posts
 * into it: a correction dated inside it is posted at the start of the first open month after it, and
 * keeps the date it was meant for, so the books of a closed month never change after the close.
 */
export type AccountingPeriod = string;

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
  const dated = monthOf(at);
  if (!closed.has(dated)) return { effectiveAt: at, datedAt: null, descriptionSuffix: '' };
  let open = addMonths(dated, 1);
  while (closed.has(open)) open = addMonths(open, 1);
  return {
    effectiveAt: monthStart(open),
    datedAt: at,
    descriptionSuffix: ` (dated ${at.toISOString().slice(0, 10)}, in closed period ${dated})`,
  };
}
