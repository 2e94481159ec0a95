import { z } from 'zod';
import { COUPON_DURATIONS } from '../../domain/discounts';
import { amountField, codeField, currencyField, nameField, percentField } from './fields';
import { PageQuery } from './pagination';

/** Exactly one of percent_off and amount_off (with its currency). */
export const CreateCouponBody = z
  .object({
    code: codeField,
    name: nameField,
    percent_off: percentField.optional(),
    amount_off: amountField.optional(),
    currency: currencyField.optional(),
    duration: z.enum(COUPON_DURATIONS),
    duration_periods: z.number().int().min(1).max(1000).optional(),
  })
  .strict();

export const ListCouponsQuery = PageQuery;
