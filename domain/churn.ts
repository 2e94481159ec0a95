import Decimal from 'decimal.js';
import { decimalString } from './money';
import type { MrrMonth } from './mrr';

/** Rates are fractions (0.0833 is 8.33 %), as decimal strings with this many decimals, half away from zero. */
export const RATE_DECIMALS = 4;

/** What each figure of the churn report means; the report states these alongside the numbers. */
export const CHURN_DEFINITIONS = {
  customers_at_start: 'Customers with MRR above zero at the end of the month before',
  churned_customers: 'Of those, the customers with no MRR at the end of the month',
  logo_churn_rate: 'churned_customers / customers_at_start',
  gross_revenue_churn_rate: '(churn + contraction) / start MRR: the recurring revenue lost from existing customers',
  net_revenue_churn_rate: '(churn + contraction - expansion - reactivation) / start MRR: negative when existing and returning customers grew more than others left; new customers are not counted',
  rates: `Fractions with ${RATE_DECIMALS} decimals (0.0833 is 8.33 %), rounded half away from zero; null when the month starts with no customers or no MRR`,
} as const;

export interface ChurnMonth {
  month: string;
  customersAtStart: number;
  churnedCustomers: number;
  startMrr: Decimal;
  churnedMrr: Decimal;
  contractionMrr: Decimal;
  expansionMrr: Decimal;
  reactivationMrr: Decimal;
  logoChurnRate: string | null;
  grossRevenueChurnRate: string | null;
  netRevenueChurnRate: string | null;
}

function rate(part: Decimal.Value, whole: Decimal.Value): string | null {
  const denominator = new Decimal(whole);
  return denominator.isZero() ? null : decimalString(new Decimal(part).div(denominator), RATE_DECIMALS);
}

/** Logo churn and gross and net revenue churn of each month, from its MRR movements. */
export function churnByMonth(months: readonly MrrMonth[]): ChurnMonth[] {
  return months.map((m) => ({
    month: m.month,
    customersAtStart: m.customersAtStart,
    churnedCustomers: m.churnedCustomers,
    startMrr: m.start,
    churnedMrr: m.churn,
    contractionMrr: m.contraction,
    expansionMrr: m.expansion,
    reactivationMrr: m.reactivation,
    logoChurnRate: rate(m.churnedCustomers, m.customersAtStart),
    grossRevenueChurnRate: rate(m.churn.plus(m.contraction), m.start),
    netRevenueChurnRate: rate(m.churn.plus(m.contraction).minus(m.expansion).minus(m.reactivation), m.start),
  }));
}
