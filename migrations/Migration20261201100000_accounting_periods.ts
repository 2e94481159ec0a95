import { Migration } from '@mikro-orm/migrations';

/**
 * Accounting periods, ledger sources and the chart of accounts:
 * - every ledger transaction names its source (invoice, payment, refund, credit_note, write_off,
 *   revenue_recognition) and that record's id, read off its idempotency key (domain/ledger.ts
 *   ledgerSource; the back-fill below applies the same patterns to the rows posted before);
 * - `dated_at` keeps the date a correction was meant for when a closed month moved it into the next
 *   open one;
 * - `accounting_periods` holds the closed months (a row is a close; closes are permanent, so the app
 *   role may only insert them), and a trigger refuses any ledger transaction dated inside one;
 * - every account of the chart exists in `ledger_accounts`, each with an optional GL code.
 */
export class Migration20261201100000_accounting_periods extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table ledger_transactions add column source_type text
  check (source_type in ('invoice', 'payment', 'refund', 'credit_note', 'write_off', 'revenue_recognition'));
alter table ledger_transactions add column source_id text;
alter table ledger_transactions add column dated_at timestamptz;
-- Null only for rows written outside the posting code (plain SQL), which has no source to give.
alter table ledger_transactions add constraint ledger_transactions_source_check check ((source_type is null) = (source_id is null));

-- The ledger refuses updates for everyone, the owner included. Filling the new columns of old rows is
-- the one update it must take: only the append-only trigger is switched off, inside this migration's
-- transaction (so no other session ever sees the ledger without it), and only these three columns change.
alter table ledger_transactions disable trigger ledger_transactions_append_only;
-- One statement sets both columns: the check above is tested row by row, after each statement.
update ledger_transactions set (source_type, source_id) = (
  select kind, case when kind is null then null else split_part(idempotency_key, ':', 2) end
    from (select case
      when idempotency_key ~ '^invoice:[^:]+:(issued|credit_applied|recognized)$' then 'invoice'
      when idempotency_key ~ '^invoice:[^:]+:(written_off|recovered(:[^:]+)?)$' then 'write_off'
      when idempotency_key ~ '^payment:[^:]+(:excess)?$' then 'payment'
      when idempotency_key ~ '^refund:[^:]+$' then 'refund'
      when idempotency_key ~ '^credit_note:[^:]+$' then 'credit_note'
      when idempotency_key ~ '^revenue_recognition:[0-9]{4}-[0-9]{2}(-[0-9]{2})?:[A-Za-z]{3}$' then 'revenue_recognition'
    end as kind) k
)
where source_type is null;
alter table ledger_transactions enable trigger ledger_transactions_append_only;

create index ledger_transactions_effective_idx on ledger_transactions (effective_at, id);
create index ledger_transactions_source_idx on ledger_transactions (source_type, source_id);

alter table ledger_accounts add column gl_code text
  check (gl_code ~ '^[A-Za-z0-9][A-Za-z0-9 ._/:-]{0,29}$');
insert into ledger_accounts (code, name, type) values
  ('accounts_receivable', 'Accounts receivable', 'asset'),
  ('cash', 'Cash', 'asset'),
  ('deferred_revenue', 'Deferred revenue', 'liability'),
  ('revenue', 'Revenue', 'revenue'),
  ('discounts', 'Discounts', 'revenue'),
  ('tax_payable', 'Tax payable', 'liability'),
  ('customer_credit', 'Customer credit balances', 'liability'),
  ('stripe_clearing', 'Stripe clearing', 'asset'),
  ('stripe_fees', 'Payment processing fees', 'expense'),
  ('bad_debt', 'Bad debt', 'expense'),
  ('refunds', 'Refunds', 'revenue'),
  ('credit_notes', 'Credit notes', 'revenue'),
  ('excess_payments', 'Excess payments to return', 'liability'),
  ('prepaid', 'Customer prepayments', 'liability')
on conflict (code) do nothing;

create table accounting_periods (
  period text primary key check (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  closed_at timestamptz not null,
  closed_by_role text,
  closed_by_key text
);
revoke update, delete, truncate on accounting_periods from perennial_app;

-- Postings read the closed months under a shared advisory lock and a close holds it exclusively
-- (db/ledger-store.ts), so a posting never commits into a month closed meanwhile; this trigger also
-- holds for SQL that bypasses the code.
create function ledger_refuse_closed_period() returns trigger language plpgsql as $$
declare
  month text := to_char(new.effective_at at time zone 'UTC', 'YYYY-MM');
begin
  if exists (select from accounting_periods where period = month) then
    raise exception 'accounting period % is closed: ledger transaction % dated % cannot post into it; post it into the first open period', month, new.id, new.effective_at;
  end if;
  return new;
end $$;
create trigger ledger_transactions_open_period before insert on ledger_transactions
  for each row execute function ledger_refuse_closed_period();
`);
  }
}
