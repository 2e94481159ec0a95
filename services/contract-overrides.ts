import type { EntityManager } from '@mikro-orm/postgresql';
import type { Plan } from '../db/entities/plan';
import { withCharges } from '../db/plan-store';
import { chargePrice } from '../domain/charge-properties';
import { BillingError } from '../domain/errors';
import { decimalString } from '../domain/money';
import { assertValidPrice } from '../domain/pricing';
import type { ContractOverrides } from '../domain/subscription';
import { assertFitsCurrency, assertStorableAmount } from './amounts';
import type { PropertiesParser } from './plans';

/** Contract prices as a request gives them (snake_case). */
export interface OverridesInput {
  amount?: string;
  minimum_amount?: string;
  charges?: Array<{ metric_code: string; properties: Record<string, unknown> }>;
}

/**
 * Checks a customer's contract prices against the plan they apply to, as a plan's own prices are
 * checked (the same errors, the param under `overrides`): amounts fit the currency, each charge
 * override names a metric the plan charges, once, with properties valid for that charge's model.
 */
export async function contractOverrides(em: EntityManager, plan: Plan, input: OverridesInput, parseProperties: PropertiesParser, param = 'overrides'): Promise<ContractOverrides> {
  const overrides: ContractOverrides = {};
  for (const [field, key] of [['amount', 'amount'], ['minimum_amount', 'minimumAmount']] as const) {
    const value = input[field];
    if (value === undefined) continue;
    assertFitsCurrency(value, plan.currency, `${param}.${field}`);
    assertStorableAmount(value, `${param}.${field}`);
    overrides[key] = decimalString(value);
  }
  if (input.charges) {
    const [{ charges }] = await withCharges(em, [plan]);
    overrides.charges = input.charges.map((given, position) => {
      const at = `${param}.charges.${position}`;
      const charged = charges.find((c) => c.metric.code === given.metric_code);
      if (!charged) {
        throw new BillingError('invalid_request_error', 'parameter_invalid', `Invalid ${at}.metric_code: plan ${plan.code} version ${plan.version} has no charge for metric '${given.metric_code}'`, `${at}.metric_code`);
      }
      if (input.charges!.findIndex((c) => c.metric_code === given.metric_code) !== position) {
        throw new BillingError('invalid_request_error', 'parameter_invalid', `Invalid ${at}.metric_code: metric ${given.metric_code} is already overridden`, `${at}.metric_code`);
      }
      const properties = parseProperties(charged.charge.model, given.properties, `${at}.properties`) as Record<string, unknown>;
      assertValidPrice(chargePrice(charged.charge.model, properties), `${at}.properties`);
      return { metricCode: given.metric_code, properties };
    });
  }
  return overrides;
}

/**
 * The contract prices a plan change names, checked against the plan it moves to: absent stays
 * absent (the workflow keeps them on another version of the same plan and ends them on another
 * plan), null ends them.
 */
export async function overridesOnChange(
  em: EntityManager,
  next: Plan,
  given: OverridesInput | null | undefined,
  parseProperties: PropertiesParser,
): Promise<{ overrides?: ContractOverrides | null }> {
  if (given === undefined) return {};
  return { overrides: given === null ? null : await contractOverrides(em, next, given, parseProperties) };
}
