import Decimal from 'decimal.js';
import type { Pool } from 'pg';
import type Stripe from 'stripe';
import { stripeCharges } from '../chaos/checks';

/**
 * What must hold after a storm, from Postgres (the owner's connection) and the emulator: one renewal
 * invoice per subscription, invoice numbers without a gap, a ledger whose every transaction balances,
 * and each renewal invoice paid by exactly one card payment that Stripe kept exactly one charge for.
 */
export interface RenewalChecks {
  expected: number;
  /** Renewal invoices (period 1) of the storm's subscriptions. */
  renewalInvoices: number;
  /** Storm subscriptions with an invoice for a period after the renewal: billed ahead of time. */
  invoicesPastRenewal: number;
  /** Numbered invoices, and the gaps and duplicates among their sequence numbers (1..max). */
  numbered: number;
  numberGaps: number;
  /** Ledger transactions whose debits and credits differ, and the sum of |debits − credits| over all. */
  unbalancedTransactions: number;
  ledgerImbalance: Decimal;
  /** Renewal invoices not paid, or paid by other than exactly one card payment. */
  notPaidOnce: number;
  /** Renewal invoices for which Stripe did not keep exactly one charge. */
  stripeNotChargedOnce: number;
  /** Charges Stripe kept for no invoice of ours. */
  strayCharges: number;
  problems: string[];
}

export function failedRenewalChecks(c: RenewalChecks): string[] {
  const failed: string[] = [];
  if (c.renewalInvoices !== c.expected) failed.push(`${c.renewalInvoices} renewal invoices, ${c.expected} expected`);
  if (c.invoicesPastRenewal > 0) failed.push('invoices past the renewal');
  if (c.numberGaps > 0) failed.push('invoice number gaps');
  if (c.unbalancedTransactions > 0 || !c.ledgerImbalance.isZero()) failed.push('ledger imbalance');
  if (c.notPaidOnce > 0) failed.push('renewal invoices not paid exactly once');
  if (c.stripeNotChargedOnce > 0) failed.push('renewal invoices Stripe did not charge exactly once');
  if (c.strayCharges > 0) failed.push('charges for no invoice');
  return failed;
}

export async function runRenewalChecks(owner: Pool, stripe: Stripe, stormIds: string[]): Promise<RenewalChecks> {
  const problems: string[] = [];
  const renewals = (
    await owner.query<{ id: string; number: string; status: string; card_payments: number }>(
      `select i.id, i.number, i.status, (select count(*)::int from payments p where p.invoice_id = i.id and p.method = 'card') as card_payments
         from invoices i where i.period_index = 1 and i.subscription_id = any($1)`,
      [stormIds],
    )
  ).rows;
  const past = (await owner.query<{ n: number }>(`select count(*)::int as n from invoices where period_index > 1 and subscription_id = any($1)`, [stormIds])).rows[0].n;
  const numbers = (
    await owner.query<{ numbered: number; distinct_numbers: number; max: string | null; min: string | null }>(
      `select count(sequence)::int as numbered, count(distinct sequence)::int as distinct_numbers, max(sequence)::text as max, min(sequence)::text as min from invoices`,
    )
  ).rows[0];
  const max = Number(numbers.max ?? 0);
  // Gaps in 1..max, plus any number taken twice.
  const numberGaps = max - numbers.distinct_numbers + (numbers.numbered - numbers.distinct_numbers);
  if (numberGaps > 0) problems.push(`invoice sequence: ${numbers.numbered} numbered, ${numbers.distinct_numbers} distinct, from ${numbers.min} to ${numbers.max}`);
  const ledger = (
    await owner.query<{ transaction_id: string; difference: string }>(
      `select transaction_id, sum(case when direction = 'debit' then amount else -amount end)::text as difference
         from ledger_entries group by 1 having sum(case when direction = 'debit' then amount else -amount end) <> 0`,
    )
  ).rows;
  let ledgerImbalance = new Decimal(0);
  for (const row of ledger) {
    ledgerImbalance = ledgerImbalance.plus(new Decimal(row.difference).abs());
    if (problems.length < 50) problems.push(`ledger transaction ${row.transaction_id} off by ${row.difference}`);
  }
  let notPaidOnce = 0;
  for (const invoice of renewals) {
    if (invoice.status === 'paid' && invoice.card_payments === 1) continue;
    notPaidOnce += 1;
    if (problems.length < 50) problems.push(`invoice ${invoice.number} (${invoice.id}) is ${invoice.status} with ${invoice.card_payments} card payments`);
  }
  const charges = await stripeCharges(stripe);
  const kept = new Map<string, number>();
  let strayCharges = 0;
  for (const charge of charges) {
    if (!charge.kept.gt(0)) continue;
    if (!charge.invoiceId) strayCharges += 1;
    else kept.set(charge.invoiceId, (kept.get(charge.invoiceId) ?? 0) + 1);
  }
  let stripeNotChargedOnce = 0;
  for (const invoice of renewals) {
    const n = kept.get(invoice.id) ?? 0;
    if (n === 1) continue;
    stripeNotChargedOnce += 1;
    if (problems.length < 50) problems.push(`invoice ${invoice.number} (${invoice.id}): Stripe kept ${n} charges`);
  }
  return {
    expected: stormIds.length,
    renewalInvoices: renewals.length,
    invoicesPastRenewal: past,
    numbered: numbers.numbered,
    numberGaps,
    unbalancedTransactions: ledger.length,
    ledgerImbalance,
    notPaidOnce,
    stripeNotChargedOnce,
    strayCharges,
    problems,
  };
}
