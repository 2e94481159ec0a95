import { z } from 'zod';
import { isCurrency } from '../../domain/currency';
import { MAX_NET_TERMS_DAYS } from '../../domain/payment-terms';
import { isTimeZone } from '../../domain/zoned-time';

/** Fields shared by the request schemas; each says in its message what a valid value looks like. */

export const currencyField = z
  .string()
  .transform((c) => c.toUpperCase())
  .refine(isCurrency, 'must be an ISO 4217 currency code such as "USD", "JPY" or "KWD"')
  .describe('ISO 4217 currency code, such as "USD"');

/** Money travels as a decimal string in major units ("49.00"), never as a JSON number (a float). */
export const amountField = z
  .string({ error: (issue) => (issue.input === undefined ? undefined : 'must be a decimal string such as "49.00", not a number') })
  .regex(/^\d+(\.\d+)?$/, 'must be a non-negative decimal string such as "49.00"')
  .describe('An amount in major units as a decimal string, such as "49.00"');

/** A price may have more decimals than its currency (0.0015 USD per call); lines are rounded once. */
export const priceField = z
  .string({ error: (issue) => (issue.input === undefined ? undefined : 'must be a decimal string such as "0.0015", not a number') })
  .regex(/^\d{1,24}(\.\d{1,12})?$/, 'must be a non-negative decimal string with at most 12 decimals, such as "0.0015"');

/** Quantities of units (tier bounds, package sizes, free units) are not money: a whole number or a decimal string. */
export const unitsField = z.union([
  z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).transform(String),
  z.string().regex(/^\d{1,24}(\.\d{1,12})?$/, 'must be a non-negative number of units'),
]);

export const percentField = z.string().regex(/^\d{1,3}(\.\d{1,6})?$/, 'must be a percentage as a decimal string, such as "20" or "8.875"');

/** Codes name metrics, plans, coupons and tax rates in URLs and in usage events. */
export const codeField = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/, 'must be 1-100 letters, digits, "_", "-" or "."');

export const nameField = z.string().trim().min(1).max(200);

export const timeZoneField = z.string().refine(isTimeZone, 'must be an IANA time zone such as "America/New_York" or "UTC"');

/**
 * True when `s` names a real instant exactly as written. Date.parse rolls an impossible date over
 * ("2027-02-30" becomes 2 March), so the instant is read back in its own offset and compared; year
 * 0000 is refused because Postgres has no year 0.
 */
export function isExactTimestamp(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|([+-])(\d{2}):(\d{2}))$/.exec(s);
  const instant = Date.parse(s);
  if (!m || Number.isNaN(instant) || m[1] === '0000') return false;
  const offsetMinutes = m[7] ? (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9])) : 0;
  const asWritten = new Date(instant + offsetMinutes * 60_000).toISOString();
  return asWritten.slice(0, 19) === `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6] ?? '00'}`;
}

export const timestampField = z
  .string()
  .refine(isExactTimestamp, 'must be an ISO 8601 timestamp with a time zone, such as "2026-01-31T00:00:00Z"')
  .transform((s) => new Date(s))
  .describe('An ISO 8601 timestamp with a time zone');

/** When a change happens: "now", at the end of the current period, or at a future instant (ISO 8601). */
export const whenField = (allowPeriodEnd: boolean) =>
  z
    .string()
    .refine((s) => s === 'now' || (allowPeriodEnd && s === 'period_end') || isExactTimestamp(s), {
      message: `must be "now"${allowPeriodEnd ? ', "period_end"' : ''} or an ISO 8601 timestamp with a time zone`,
    })
    .transform((s) => (s === 'now' || s === 'period_end' ? s : new Date(s).toISOString()));

export const idField = z.string().min(1);

export const EmptyBody = z.object({}).strict();

/** Days a customer has to pay an invoice: 0 (due on issue) to 365. */
/** Days a renewal invoice waits as a draft before it is finalised: 0 (finalised at once) to 90. */
export const gracePeriodField = z.number().int().min(0).max(90).describe('Days a renewal invoice stays a draft, open to adjustment, before it is finalised and collected: 0 (at once, the default) to 90');

export const netTermsField = z.number().int().min(0).max(MAX_NET_TERMS_DAYS).describe('Whole days from issue to due date, 0 (due on issue) to 365');
