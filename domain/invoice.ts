import Decimal from 'decimal.js';
import { roundToCurrency, sum } from './money';
import type { Period } from './period';

export interface InvoiceLineDraft {
  description: string;
  quantity: Decimal;
  unitAmount: Decimal;
  /** quantity x unit amount, rounded once to the currency. */
  amount: Decimal;
  periodStart: Date;
  periodEnd: Date;
}

export interface InvoiceDraft {
  currency: string;
  lines: InvoiceLineDraft[];
  subtotal: Decimal;
  total: Decimal;
}

export interface FlatFeePlan {
  name: string;
  currency: string;
  amount: Decimal.Value;
}

function line(
  currency: string,
  description: string,
  quantity: Decimal.Value,
  unitAmount: Decimal.Value,
  period: Period,
): InvoiceLineDraft {
  const q = new Decimal(quantity);
  const unit = new Decimal(unitAmount);
  return {
    description,
    quantity: q,
    unitAmount: unit,
    amount: roundToCurrency(q.times(unit), currency),
    periodStart: period.start,
    periodEnd: period.end,
  };
}

/** Totals are sums of already-rounded lines, so an invoice always equals the sum of what it shows. */
export function draftInvoice(currency: string, lines: InvoiceLineDraft[]): InvoiceDraft {
  const subtotal = sum(lines.map((l) => l.amount));
  const draft = { currency, lines, subtotal, total: subtotal };
  assertInvoiceConsistent(draft);
  return draft;
}

/** The fee for one period of a flat recurring plan, billed in advance. */
export function recurringFeeInvoice(plan: FlatFeePlan, period: Period): InvoiceDraft {
  return draftInvoice(plan.currency, [line(plan.currency, plan.name, 1, plan.amount, period)]);
}

export function assertInvoiceConsistent(draft: InvoiceDraft): void {
  const lineTotal = sum(draft.lines.map((l) => l.amount));
  if (!lineTotal.equals(draft.subtotal) || !draft.subtotal.equals(draft.total)) {
    throw new Error(`invoice does not add up: lines ${lineTotal}, subtotal ${draft.subtotal}, total ${draft.total}`);
  }
  for (const l of draft.lines) {
    if (!roundToCurrency(l.amount, draft.currency).equals(l.amount)) {
      throw new Error(`line "${l.description}" has more decimals than ${draft.currency} allows: ${l.amount}`);
    }
  }
}
