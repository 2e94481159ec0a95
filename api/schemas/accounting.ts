import { z } from 'zod';
import { currencyField } from './fields';

/** A UTC day written YYYY-MM-DD that exists on the calendar (2026-02-30 does not). */
const dayField = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date written YYYY-MM-DD, such as "2026-06-01"')
  .refine((s) => s !== '0000' && !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), 'must be a real calendar date written YYYY-MM-DD')
  .transform((s) => new Date(`${s}T00:00:00Z`));

export const JOURNAL_FORMATS = ['json', 'csv', 'quickbooks', 'xero'] as const;

/** `from` is inclusive and `to` exclusive (UTC days), so consecutive ranges chain: to of one is from of the next. */
export const JournalEntriesQuery = z
  .strictObject({
    from: dayField.describe('First UTC day of the range, inclusive (YYYY-MM-DD)'),
    to: dayField.describe('UTC day the range ends before, exclusive (YYYY-MM-DD)'),
    format: z.enum(JOURNAL_FORMATS).default('json'),
    currency: currencyField.optional(),
  })
  .refine((q) => q.from < q.to, { message: 'must be a later day than from (to is exclusive)', path: ['to'] });

/** The general-ledger code an accounting tool knows an account by: letters, digits and . _ / : - or spaces. */
export const glCodeField = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9 ._/:-]{0,29}$/, 'must be 1-30 letters, digits, spaces or . _ / : - starting with a letter or digit, such as "4000" or "1200.10"');

export const UpdateLedgerAccountBody = z.strictObject({
  gl_code: glCodeField.nullable().optional().describe('null clears the mapping'),
  // QuickBooks matches accounts by this name, "Parent:Child" for a sub-account. The pattern avoids
  // \p{…} classes so it means the same in every regex dialect that reads the OpenAPI document.
  name: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .regex(/^[^\x00-\x1f\x7f]*$/, 'must not contain control characters')
    .optional(),
});
