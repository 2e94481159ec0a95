import Decimal from 'decimal.js';
import { BillingError } from './errors';
// money sets decimal.js to the precision money needs (40 digits); sums of large values must not round at 20.
import { sum } from './money';

/**
 * Billable metrics and how a period's events aggregate into one quantity. Postgres does the
 * aggregation over millions of events (db/usage-store.ts); this is the definition it must agree
 * with, used by the tests as the oracle and small enough to read.
 */
export const AGGREGATIONS = ['count', 'sum', 'max', 'unique_count', 'latest', 'weighted_sum'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** Aggregations that read a property of the event (`field`); count reads none. */
export const needsField = (aggregation: Aggregation): boolean => aggregation !== 'count';

/** Aggregations whose field must hold a number; unique_count counts distinct values of any kind. */
export const needsNumber = (aggregation: Aggregation): boolean => aggregation !== 'count' && aggregation !== 'unique_count';

/** A weighted quantity is a ratio of durations; it is kept to this many decimals before pricing. */
export const WEIGHTED_QUANTITY_DECIMALS = 10;

export interface UsageEventValue {
  transactionId: string;
  timestamp: Date;
  /** The metric's field as text (a decimal for numeric aggregations); null for count. */
  value: string | null;
}

export interface Window {
  start: Date;
  end: Date;
}

const ZERO = new Decimal(0);

/** Later timestamp wins; equal timestamps are ordered by transaction id, so the order is total. */
export function compareEvents(a: UsageEventValue, b: UsageEventValue): number {
  return a.timestamp.getTime() - b.timestamp.getTime() || (a.transactionId < b.transactionId ? -1 : a.transactionId > b.transactionId ? 1 : 0);
}

/**
 * Time-weighted sum: each event's value changes a running level (+5 seats, -2 seats), the level
 * before the window is `openingLevel` (the sum of all earlier events), and the quantity is the
 * level's average over the window: sum(level x milliseconds held) / window milliseconds.
 */
export function weightedQuantity(levelMilliseconds: Decimal, window: Window): Decimal {
  const duration = window.end.getTime() - window.start.getTime();
  if (duration <= 0) return ZERO;
  return levelMilliseconds.dividedBy(duration).toDecimalPlaces(WEIGHTED_QUANTITY_DECIMALS, Decimal.ROUND_HALF_UP);
}

/** The quantity of `events` (all inside `window`, of one metric and subscription) under `aggregation`. */
export function aggregateEvents(aggregation: Aggregation, events: readonly UsageEventValue[], window: Window, openingLevel: Decimal = ZERO): Decimal {
  const values = (): Decimal[] => events.map((e) => new Decimal(e.value ?? 0));
  switch (aggregation) {
    case 'count':
      return new Decimal(events.length);
    case 'sum':
      return sum(values());
    case 'max':
      return events.length === 0 ? ZERO : Decimal.max(...values());
    case 'unique_count':
      return new Decimal(new Set(events.map((e) => e.value)).size);
    case 'latest': {
      const last = [...events].sort(compareEvents).at(-1);
      return last ? new Decimal(last.value ?? 0) : ZERO;
    }
    case 'weighted_sum': {
      let level = openingLevel;
      let since = window.start.getTime();
      let held = ZERO;
      for (const event of [...events].sort(compareEvents)) {
        held = held.plus(level.times(event.timestamp.getTime() - since));
        level = level.plus(event.value ?? 0);
        since = event.timestamp.getTime();
      }
      held = held.plus(level.times(window.end.getTime() - since));
      return weightedQuantity(held, window);
    }
  }
}

const NUMBER = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;
/** 0 to 999,999,999,999,999 without leading zeros: its own toFixed(), and within every limit below. */
const WHOLE_COUNT = /^(?:0|[1-9]\d{0,14})$/;

/**
 * Longest values stored, in characters. The usage window index carries each event's value, and a
 * btree entry holds at most 2,704 bytes: a longer value would make Postgres refuse the statement.
 * A number's characters are single bytes; 255 UTF-16 units of text are at most 765 bytes of UTF-8.
 */
export const MAX_NUMBER_LENGTH = 1000;
export const MAX_TEXT_VALUE_LENGTH = 255;

/**
 * Whether a negative value can be billed. A period's quantity is priced only when it is zero or more
 * (domain/pricing.ts refuses a negative one), and a sum, a max or a latest value is negative exactly
 * when the negative values dominate it; such a value can never add to a bill, only make it fail. A
 * weighted sum reads values as changes of a level (+5 seats, -2 seats): a negative change is normal.
 */
export const allowsNegative = (aggregation: Aggregation): boolean => aggregation === 'weighted_sum';

/**
 * The value an event contributes to a metric, as exact text, or a reason to reject the event.
 * JSON numbers arrive as floats, so an integer beyond 2^53 (already rounded by the parser) is refused
 * and must be sent as a string.
 */
export function eventValue(aggregation: Aggregation, field: string | null, properties: Record<string, unknown> | undefined): { value: string | null } | { error: string; code: string } {
  if (!needsField(aggregation) || field === null) return { value: null };
  const raw = properties?.[field];
  if (raw === undefined || raw === null) return { code: 'field_missing', error: `properties.${field} is required by this metric (${aggregation})` };
  if (!needsNumber(aggregation)) {
    if (!(typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean')) {
      return { code: 'value_invalid', error: `properties.${field} must be a string or number to be counted` };
    }
    const text = String(raw);
    if (text.length > MAX_TEXT_VALUE_LENGTH) {
      return { code: 'value_too_long', error: `properties.${field} is ${text.length} characters long; at most ${MAX_TEXT_VALUE_LENGTH} are counted` };
    }
    return { value: text };
  }
  // Most producers send whole counts: those are in range and already written as toFixed() would
  // write them, so they skip the decimal arithmetic that dominates this function's cost.
  if (typeof raw === 'string' && WHOLE_COUNT.test(raw)) return { value: raw };
  if (typeof raw === 'number' && Number.isSafeInteger(raw) && raw >= 0 && raw < 1e15) return { value: String(raw) };
  // A number and a string of the same value are held to the same range.
  const inRange = (value: Decimal): { value: string } | { error: string; code: string } => {
    if (value.abs().gte('1e24') || (!value.isZero() && value.abs().lt('1e-12'))) {
      return { code: 'value_out_of_range', error: `properties.${field} must be between 1e-12 and 1e24 in magnitude` };
    }
    if (value.isNegative() && !value.isZero() && !allowsNegative(aggregation)) {
      return {
        code: 'value_negative',
        error: `properties.${field} is negative; a ${aggregation} metric bills a quantity of zero or more, so its values cannot be negative`,
      };
    }
    const text = value.toFixed();
    if (text.length > MAX_NUMBER_LENGTH) {
      return { code: 'value_too_long', error: `properties.${field} has ${text.length} characters as a decimal; at most ${MAX_NUMBER_LENGTH} are stored` };
    }
    return { value: text };
  };
  if (typeof raw === 'number') {
    if (!Number.isFinite(raw)) return { code: 'value_not_numeric', error: `properties.${field} must be a finite number` };
    if (Number.isInteger(raw) && !Number.isSafeInteger(raw)) {
      return { code: 'value_not_numeric', error: `properties.${field} is too large for a JSON number; send it as a decimal string` };
    }
    return inRange(new Decimal(raw));
  }
  if (typeof raw === 'string' && NUMBER.test(raw.trim())) return inRange(new Decimal(raw.trim()));
  return { code: 'value_not_numeric', error: `properties.${field} must be a number or a decimal string, got ${JSON.stringify(raw)}` };
}

export function assertValidMetric(aggregation: Aggregation, field: string | undefined): void {
  if (needsField(aggregation) && !field) {
    throw new BillingError('invalid_request_error', 'parameter_missing', `Missing required param: field (the event property that ${aggregation} reads)`, 'field');
  }
  if (!needsField(aggregation) && field) {
    throw new BillingError('invalid_request_error', 'parameter_invalid', 'Invalid field: count reads no property; leave field out', 'field');
  }
}
