import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { reconcile, type ReconciledType, type Reconciliation, type RecordPosting } from '../../domain/reconciliation';

/**
 * Each reconciled record type: its records in the range (by their business date) with what they
 * should have posted, and the ledger's postings of the same records found by idempotency key
 * (domain/ledger.ts builds the keys, and names each transaction's source record from them). Postings are matched
 * by key, not by date, so a correction moved into a later open period still counts for its record.
 * Signed amounts are debit minus credit; each query says which legs it reads.
 */
const SECTIONS: ReadonlyArray<{ type: ReconciledType; posted: string; records: string }> = [
  {
    type: 'invoice',
    posted: `t.source_type = 'invoice' and t.idempotency_key like 'invoice:%:issued' and e.account_code in ('accounts_receivable', 'customer_credit')`,
    records: `select i.id, i.total as expected, 1 as sign from invoices i where i.status <> 'draft' and i.currency = ? and i.issued_at >= ? and i.issued_at < ?`,
  },
  {
    type: 'credit_applied',
    posted: `t.source_type = 'invoice' and t.idempotency_key like 'invoice:%:credit_applied' and e.account_code = 'customer_credit'`,
    records: `select i.id, i.credit_applied as expected, 1 as sign from invoices i where i.credit_applied <> 0 and i.currency = ? and i.issued_at >= ? and i.issued_at < ?`,
  },
  {
    type: 'payment',
    // The part that paid the invoice (`payment:<id>`) and any excess (`payment:<id>:excess`); Stripe's fee is a credit, not counted.
    posted: `t.source_type = 'payment' and e.account_code in ('cash', 'stripe_clearing') and e.direction = 'debit'`,
    records: `select p.id, p.amount as expected, 1 as sign from payments p where p.currency = ? and p.received_at >= ? and p.received_at < ?`,
  },
  {
    type: 'refund',
    posted: `t.source_type = 'refund' and e.account_code in ('cash', 'stripe_clearing') and e.direction = 'credit'`,
    records: `select r.id, r.amount as expected, -1 as sign from refunds r where r.status = 'succeeded' and r.currency = ? and r.completed_at >= ? and r.completed_at < ?`,
  },
  {
    type: 'credit_note',
    posted: `t.source_type = 'credit_note' and e.account_code in ('accounts_receivable', 'customer_credit') and e.direction = 'credit'`,
    records: `select n.id, n.amount as expected, -1 as sign from credit_notes n where n.currency = ? and n.created_at >= ? and n.created_at < ?`,
  },
  {
    type: 'write_off',
    // Payments and credit notes on a written-off invoice recover bad debt (`invoice:<id>:recovered:<what>`) as they lower what is due.
    posted: `t.source_type = 'write_off' and e.account_code = 'bad_debt'`,
    records: `select i.id, i.amount_due as expected, 1 as sign from invoices i where i.currency = ? and i.written_off_at >= ? and i.written_off_at < ?`,
  },
  {
    type: 'wallet_applied',
    posted: `t.source_type = 'invoice' and t.idempotency_key like 'invoice:%:wallet_applied' and e.account_code = 'accounts_receivable'`,
    records: `select i.id, i.wallet_applied as expected, -1 as sign from invoices i where i.wallet_applied <> 0 and i.currency = ? and i.issued_at >= ? and i.issued_at < ?`,
  },
];

async function recordsOf(em: EntityManager, section: (typeof SECTIONS)[number], currency: string, from: Date, until: Date): Promise<RecordPosting[]> {
  const rows = await em.execute<Array<{ id: string; expected: string; posted: string }>>(
    `with records as (${section.records}),
          posted as (
            select t.source_id as id,
                   sum(case when e.direction = 'debit' then e.amount else -e.amount end) as amount
              from ledger_transactions t join ledger_entries e on e.transaction_id = t.id
             where t.currency = ? and ${section.posted}
             group by 1)
     select r.id, r.expected::text as expected, (r.sign * coalesce(p.amount, 0))::text as posted
       from records r left join posted p on p.id = r.id
      order by r.id`,
    [currency, from, until, currency],
  );
  return rows.map((r) => ({ type: section.type, id: r.id, expected: new Decimal(r.expected), posted: new Decimal(r.posted) }));
}

/**
 * Reconciles the records of `currency` dated in [from, until) with their postings, and takes the
 * trial balance of the whole ledger in that currency as it stands at `until`.
 */
export async function reconciliationReport(em: EntityManager, query: { currency: string; from: Date; until: Date }): Promise<Reconciliation> {
  const records: RecordPosting[] = [];
  for (const section of SECTIONS) records.push(...(await recordsOf(em, section, query.currency, query.from, query.until)));
  const accounts = await em.execute<Array<{ account: string; debits: string; credits: string }>>(
    `select e.account_code as account,
            coalesce(sum(e.amount) filter (where e.direction = 'debit'), 0)::text as debits,
            coalesce(sum(e.amount) filter (where e.direction = 'credit'), 0)::text as credits
       from ledger_entries e join ledger_transactions t on t.id = e.transaction_id
      where t.currency = ? and t.effective_at < ?
      group by e.account_code
      order by e.account_code`,
    [query.currency, query.until],
  );
  return reconcile(
    records,
    accounts.map((a) => ({ account: a.account, debits: new Decimal(a.debits), credits: new Decimal(a.credits) })),
  );
}
