import Decimal from 'decimal.js';

/**
 * The deferred revenue waterfall: per UTC calendar month, what was owed as service at its start,
 * what invoices added, what recognition took out, anything else that moved the account (named by its
 * source), and what is owed at its end. The closing figure is computed from the movements and checked
 * against the ledger's own balance at the month's end, so a posting the report does not account for
 * shows as a month that does not balance.
 */

/** Deferred revenue is a liability: its balance is credits less debits. */
export interface DeferredMovement {
  month: string;
  kind: DeferredMovementKind;
  /** Credits less debits to deferred revenue. */
  net: Decimal;
}

export type DeferredMovementKind = { column: 'billed' } | { column: 'recognized' } | { column: 'other'; source: string };

/**
 * Which column a posting to deferred revenue belongs in, from its source type and, for an invoice's
 * postings, the event its idempotency key ends with (domain/ledger.ts names both): an invoice's issue
 * posting bills, the recognition workflow's postings and the lump `invoice:<id>:recognized` postings
 * of earlier versions recognise, and any other source (a credit note or refund reversing deferred
 * revenue, say) is shown under its own name.
 */
export function deferredMovementKind(sourceType: string, invoiceEvent: string): DeferredMovementKind {
  if (sourceType === 'revenue_recognition') return { column: 'recognized' };
  if (sourceType === 'invoice' && invoiceEvent === 'issued') return { column: 'billed' };
  if (sourceType === 'invoice' && invoiceEvent === 'recognized') return { column: 'recognized' };
  return { column: 'other', source: sourceType };
}

export interface DeferredRevenueMonth {
  month: string;
  opening: Decimal;
  billed: Decimal;
  recognized: Decimal;
  other: Array<{ source: string; amount: Decimal }>;
  closing: Decimal;
  /** The ledger's balance of deferred revenue at the month's end. */
  ledgerClosing: Decimal;
  balanced: boolean;
}

/**
 * Builds the waterfall: the first month opens at the ledger's balance before it, each later month
 * opens at the previous one's computed closing; `ledgerClosing` holds the ledger's balance at each
 * month's end.
 */
export function deferredRevenueWaterfall(input: {
  months: readonly string[];
  opening: Decimal;
  movements: readonly DeferredMovement[];
  ledgerClosing: ReadonlyMap<string, Decimal>;
}): DeferredRevenueMonth[] {
  let opening = input.opening;
  return input.months.map((month) => {
    let billed = new Decimal(0);
    let recognized = new Decimal(0);
    const other = new Map<string, Decimal>();
    for (const m of input.movements) {
      if (m.month !== month) continue;
      if (m.kind.column === 'billed') billed = billed.plus(m.net);
      // Recognition debits the account: shown as a positive amount taken out.
      else if (m.kind.column === 'recognized') recognized = recognized.minus(m.net);
      else other.set(m.kind.source, (other.get(m.kind.source) ?? new Decimal(0)).plus(m.net));
    }
    const others = [...other.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([source, amount]) => ({ source, amount }));
    const closing = others.reduce((sum, o) => sum.plus(o.amount), opening.plus(billed).minus(recognized));
    const ledgerClosing = input.ledgerClosing.get(month) ?? new Decimal(0);
    const row = { month, opening, billed, recognized, other: others, closing, ledgerClosing, balanced: closing.equals(ledgerClosing) };
    opening = closing;
    return row;
  });
}
