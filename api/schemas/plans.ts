import { z } from 'zod';
import { INTERVALS } from '../../domain/period';
import { CHARGE_MODELS } from '../../domain/pricing';
import { FEE_TIER_MODES } from '../../domain/seat-pricing';
import { amountField, codeField, currencyField, idField, nameField, priceField, unitsField } from './fields';
import { listQuery, PageQuery } from './pagination';

const tiers = z
  .array(z.object({ up_to: unitsField.nullable(), unit_amount: priceField, flat_amount: priceField.optional() }).strict())
  .min(1)
  .max(100)
  .transform((ts) => ts.map((t) => ({ up_to: t.up_to, unit_amount: t.unit_amount, flat_amount: t.flat_amount ?? '0' })));

/** A charge's `properties`, per charge model; checked once the model is known. */
export const CHARGE_PROPERTIES = {
  standard: z.object({ unit_amount: priceField }).strict(),
  graduated: z.object({ tiers }).strict(),
  volume: z.object({ tiers }).strict(),
  package: z
    .object({ package_size: unitsField, amount: priceField, free_units: unitsField.optional() })
    .strict()
    .transform((p) => ({ package_size: p.package_size, amount: p.amount, free_units: p.free_units ?? '0' })),
  percentage: z
    .object({
      rate: priceField,
      fixed_amount: priceField.optional(),
      /** Lago's free_units_per_total_aggregation: the summed amount the rate is not charged on. */
      free_units: unitsField.optional(),
      free_units_per_events: z.number().int().min(0).max(1_000_000_000).optional(),
      per_transaction_min_amount: priceField.optional(),
      per_transaction_max_amount: priceField.optional(),
    })
    .strict()
    .transform((p) => ({
      rate: p.rate,
      fixed_amount: p.fixed_amount ?? '0',
      free_units: p.free_units ?? '0',
      ...(p.free_units_per_events !== undefined ? { free_units_per_events: p.free_units_per_events } : {}),
      ...(p.per_transaction_min_amount !== undefined ? { per_transaction_min_amount: p.per_transaction_min_amount } : {}),
      ...(p.per_transaction_max_amount !== undefined ? { per_transaction_max_amount: p.per_transaction_max_amount } : {}),
    })),
} as const;

/** A per-seat fee in tiers (Stripe's tiered prices), priced on a subscription's quantity. */
const feeTiers = z.object({ mode: z.enum(FEE_TIER_MODES), tiers }).strict();

export const ChargeBody = z.object({ metric_code: z.string().min(1), model: z.enum(CHARGE_MODELS), properties: z.record(z.string(), z.unknown()) }).strict();

export const CreatePlanBody = z
  .object({
    code: codeField,
    name: nameField,
    currency: currencyField,
    interval: z.enum(INTERVALS as ['day', 'week', 'month', 'year']),
    interval_count: z.number().int().min(1).max(1000).optional(),
    trial_days: z.number().int().min(0).max(3650).optional(),
    amount: amountField,
    minimum_amount: amountField.optional(),
    fee_tiers: feeTiers.nullable().optional(),
    /** Billed once per subscription, on its first invoice that bills the fee; null (on a version) removes it. */
    setup_fee: amountField.nullable().optional(),
    charges: z.array(ChargeBody).max(50).optional(),
  })
  .strict();

/** A new version may change anything but the currency; what it leaves out is kept from the newest version. */
export const CreatePlanVersionBody = CreatePlanBody.omit({ code: true, currency: true }).partial();

/** Every version of every plan, newest first; `code` narrows the list to one plan's versions. */
export const ListPlansQuery = listQuery({ code: z.string().min(1).optional() });

export const ListPlanVersionsQuery = PageQuery;

/** Moves subscriptions on older versions to `to_version` (default: the newest) at their next renewal; `subscription_ids` narrows it. */
export const MigratePlanBody = z
  .object({
    to_version: z.number().int().min(1).optional(),
    subscription_ids: z.array(idField).min(1).max(1000).optional(),
  })
  .strict();

/** What a migration would do, changing nothing: the same fields. */
export const PreviewPlanMigrationBody = MigratePlanBody;
