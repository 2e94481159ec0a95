import { z } from 'zod';
import { MAX_REPORT_MONTHS, MONTH_PATTERN, monthCount } from '../../domain/months';
import { currencyField, timestampField } from './fields';

const month = z.string().regex(MONTH_PATTERN, 'must be a month as YYYY-MM, such as "2026-01"').describe('A UTC calendar month, YYYY-MM');

/** MRR and churn: a range of UTC months, both included; without currency, each currency on its own. */
export const MrrReportQuery = z
  .object({
    currency: currencyField.optional().describe('Only this currency; without it, every currency billed, each on its own'),
    from: month,
    to: month,
  })
  .strict()
  .refine((q) => q.from <= q.to, { message: 'must not be before from', path: ['to'] })
  // Refinements run even when a field failed its own check: only two real months are counted.
  .refine((q) => !MONTH_PATTERN.test(q.from) || !MONTH_PATTERN.test(q.to) || monthCount(q.from, q.to) <= MAX_REPORT_MONTHS, { message: `the range may cover at most ${MAX_REPORT_MONTHS} months`, path: ['to'] });

export const ChurnReportQuery = MrrReportQuery;

export const ArAgingReportQuery = z
  .object({
    currency: currencyField.optional().describe('Only this currency; without it, every currency with open invoices, each on its own'),
    as_of: timestampField.optional().describe('The instant invoices are aged at (default: now)'),
  })
  .strict();
