import { z } from 'zod';
import { INTERVALS } from '../../domain/period';
import { amountField, codeField, currencyField, nameField, timestampField, unitsField } from './fields';
import { PageQuery } from './pagination';

/** An add-on of the catalog: recurring with an interval (billed with each renewal), otherwise billed once. */
export const CreateAddOnBody = z
  .object({
    code: codeField,
    name: nameField,
    amount: amountField,
    currency: currencyField,
    interval: z.enum(INTERVALS as ['day', 'week', 'month', 'year']).optional(),
    interval_count: z.number().int().min(1).max(1000).optional(),
  })
  .strict();

export const ListAddOnsQuery = PageQuery;

const positiveUnits = unitsField.refine((q) => Number(q) > 0, 'must be more than 0');

/**
 * `bill`: a recurring add-on is prorated for the rest of the current period at once (`now`, its
 * default) or starts with the next renewal (`next_invoice`); a one-time one is billed on the next
 * invoice (its default) or at once. `at`: when, within the current period (default now).
 */
export const AttachAddOnBody = z
  .object({
    add_on_code: codeField,
    quantity: positiveUnits.optional(),
    bill: z.enum(['now', 'next_invoice']).optional(),
    at: timestampField.optional(),
  })
  .strict();

/** `at`: when the add-on ends, within the current period (default now); its unused time is credited. */
export const RemoveAddOnQuery = z.object({ at: timestampField.optional() }).strict();

export const ListSubscriptionAddOnsQuery = PageQuery;
