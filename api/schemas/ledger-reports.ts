import { z } from 'zod';
import { MAX_REPORT_MONTHS, MONTH_PATTERN, monthCount } from '../../domain/months';
import { currencyField } from './fields';

// Years before 1000 are refused: Date.UTC reads years 0-99 as 1900-1999.
const isReportMonth = (s: string): boolean => MONTH_PATTERN.test(s) && s >= '1000';

const reportMonth = z.string().refine(isReportMonth, 'must be a month as YYYY-MM, such as "2026-01"').describe('A UTC calendar month, YYYY-MM');

/** A real calendar day (2026-02-30 is refused), read as the UTC day. */
const reportDay = z
  .string()
  .refine((s) => /^\d{4}-\d{2}-\d{2}$/.test(s) && s.slice(0, 4) !== '0000' && new Date(`${s}T00:00:00Z`).toISOString().slice(0, 10) === s, 'must be a date as YYYY-MM-DD, such as "2026-01-31"')
  .describe('A UTC day, YYYY-MM-DD');

export const DeferredRevenueReportQuery = z
  .object({ currency: currencyField, from: reportMonth, to: reportMonth })
  .strict()
  .refine((q) => q.from <= q.to, { message: 'must not be before from', path: ['to'] })
  // Zod runs these refinements even when a field failed its own check: they look at valid months only.
  .refine((q) => !isReportMonth(q.from) || !isReportMonth(q.to) || q.from > q.to || monthCount(q.from, q.to) <= MAX_REPORT_MONTHS, { message: `the range may cover at most ${MAX_REPORT_MONTHS} months`, path: ['to'] });

/** Days as the journal export reads them: `from` included, `to` excluded, so consecutive ranges chain and the two cover the same records. */
export const ReconciliationReportQuery = z
  .object({ currency: currencyField, from: reportDay.describe('First UTC day, included (YYYY-MM-DD)'), to: reportDay.describe('The UTC day the range ends before, excluded (YYYY-MM-DD)') })
  .strict()
  .refine((q) => q.from < q.to, { message: 'must be a later day than from (to is excluded)', path: ['to'] });
