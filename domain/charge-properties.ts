import Decimal from 'decimal.js';
import { decimalString } from './money';
import type { ChargeModel, ChargePrice, Tier, TierPart, TransactionRules } from './pricing';

/**
 * A charge's prices as the API takes and shows them, and as plan_charges stores them: snake_case
 * with every amount a decimal string. These convert that shape to the pricing engine's and back.
 */
export interface TierProperties {
  up_to: string | null;
  unit_amount: string;
  flat_amount: string;
}

export type ChargeProperties =
  | { unit_amount: string }
  | { tiers: TierProperties[] }
  | { package_size: string; amount: string; free_units: string }
  | PercentageProperties;

/** Lago's free events and per-transaction bounds are optional: absent, the charge prices the period's sum. */
export type PercentageProperties = {
  rate: string;
  fixed_amount: string;
  free_units: string;
  free_units_per_events?: number;
  per_transaction_min_amount?: string;
  per_transaction_max_amount?: string;
};

function transactionRules(p: PercentageProperties): TransactionRules | null {
  if (p.free_units_per_events === undefined && p.per_transaction_min_amount === undefined && p.per_transaction_max_amount === undefined) return null;
  return {
    freeEvents: p.free_units_per_events ?? null,
    min: p.per_transaction_min_amount === undefined ? null : new Decimal(p.per_transaction_min_amount),
    max: p.per_transaction_max_amount === undefined ? null : new Decimal(p.per_transaction_max_amount),
  };
}

export const tiersOf = (tiers: TierProperties[]): Tier[] =>
  tiers.map((t) => ({ upTo: t.up_to === null ? null : new Decimal(t.up_to), unitAmount: new Decimal(t.unit_amount), flatAmount: new Decimal(t.flat_amount) }));

export function chargePrice(model: ChargeModel, properties: Record<string, unknown>): ChargePrice {
  const p = properties as Record<string, string> & { tiers: TierProperties[] };
  switch (model) {
    case 'standard':
      return { model, unitAmount: new Decimal(p.unit_amount) };
    case 'graduated':
    case 'volume':
      return { model, tiers: tiersOf(p.tiers) };
    case 'package':
      return { model, packageSize: new Decimal(p.package_size), amount: new Decimal(p.amount), freeUnits: new Decimal(p.free_units) };
    case 'percentage': {
      const q = properties as unknown as PercentageProperties;
      return { model, rate: new Decimal(q.rate), fixedAmount: new Decimal(q.fixed_amount), freeUnits: new Decimal(q.free_units), transactionRules: transactionRules(q) };
    }
  }
}

/** A tier breakdown as invoices store and show it. */
export function tierPartsJson(parts: readonly TierPart[]) {
  return parts.map((t) => ({
    from: decimalString(t.from),
    up_to: t.upTo === null ? null : decimalString(t.upTo),
    units: decimalString(t.units),
    unit_amount: decimalString(t.unitAmount),
    flat_amount: decimalString(t.flatAmount),
    amount: decimalString(t.amount),
  }));
}
