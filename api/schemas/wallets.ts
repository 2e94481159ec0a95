import { z } from 'zod';
import { currencyField, idField, nameField, timestampField } from './fields';
import { listQuery, PageQuery } from './pagination';

/** Credits are not money: a non-negative decimal string with at most 6 decimals. */
export const creditsField = z
  .string({ error: (issue) => (issue.input === undefined ? undefined : 'must be a decimal string such as "100" or "12.5", not a number') })
  .regex(/^\d{1,24}(\.\d{1,6})?$/, 'must be a non-negative decimal string with at most 6 decimals, such as "100" or "12.5"')
  .describe('A number of credits as a decimal string, such as "100"');

/** What one credit is worth in the wallet's currency (Lago's rate_amount). */
export const rateField = z
  .string({ error: (issue) => (issue.input === undefined ? undefined : 'must be a decimal string such as "1.00", not a number') })
  .regex(/^\d{1,18}(\.\d{1,12})?$/, 'must be a decimal string with at most 12 decimals, such as "1.00"')
  .refine((s) => /[1-9]/.test(s), 'must be greater than zero')
  .describe('The price of one credit in the wallet currency, such as "1.00"');

const topUpSettings = {
  top_up_threshold: creditsField.nullable().optional().describe('In credits: a consumption that takes the wallet below it tops it up automatically'),
  top_up_paid_credits: creditsField.nullable().optional().describe('Credits bought (invoiced and collected) by each automatic top-up'),
  top_up_granted_credits: creditsField.nullable().optional().describe('Credits given for free by each automatic top-up'),
};

export const CreateWalletBody = z
  .object({
    customer_id: idField,
    currency: currencyField,
    rate: rateField,
    paid_credits: creditsField.default('0').describe('Credits bought: invoiced now, spendable once that invoice is paid'),
    granted_credits: creditsField.default('0').describe('Credits given for free: spendable at once'),
    expires_at: timestampField.optional().describe('When whatever the wallet still holds expires'),
    name: nameField.optional(),
    ...topUpSettings,
  })
  .strict();

export const UpdateWalletBody = z
  .object({
    name: nameField.nullable().optional(),
    expires_at: timestampField.nullable().optional(),
    ...topUpSettings,
  })
  .strict();

export const TopUpWalletBody = z
  .object({
    paid_credits: creditsField.default('0'),
    granted_credits: creditsField.default('0'),
  })
  .strict();

export const ListWalletsQuery = listQuery({ customer_id: idField.describe("The customer whose wallets to list") });

export const ListWalletTransactionsQuery = PageQuery;
