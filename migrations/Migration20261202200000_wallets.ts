import { Migration } from '@mikro-orm/migrations';

/**
 * Prepaid credit wallets.
 *
 * - `wallets`: a customer's credits in one currency, worth `rate` each. What it holds is kept as
 *   money in two parts, `paid_balance` (bought and paid for: a prepayment) and `granted_balance`
 *   (free), both never below zero (checked here too, so no code path can overspend). An optional
 *   `expires_at` ends it; `top_up_threshold` (credits) with `top_up_paid_credits` /
 *   `top_up_granted_credits` tops it up automatically when a consumption takes it below.
 * - `wallet_transactions`: every change of a wallet, as a record that is never rewritten except for
 *   a purchase's status (pending until its invoice is paid). `idempotency_key` makes each
 *   consumption, restoration and automatic top-up happen once.
 * - invoice lines of kind `prepaid_credit` (credits bought); `invoices.wallet_applied` is what wallet
 *   credit paid of an invoice.
 * - ledger sources gain `wallet` (a wallet transaction's own posting), and the chart `breakage`.
 */
export class Migration20261202200000_wallets extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table wallets (
  id text primary key,
  customer_id text not null references customers (id),
  name text,
  currency char(3) not null,
  rate numeric(30, 12) not null check (rate > 0),
  status text not null default 'active' check (status in ('active', 'terminated')),
  paid_balance numeric(30, 6) not null default 0 check (paid_balance >= 0),
  granted_balance numeric(30, 6) not null default 0 check (granted_balance >= 0),
  expires_at timestamptz,
  top_up_threshold numeric(30, 6) check (top_up_threshold >= 0),
  top_up_paid_credits numeric(30, 6) check (top_up_paid_credits >= 0),
  top_up_granted_credits numeric(30, 6) check (top_up_granted_credits >= 0),
  terminated_at timestamptz,
  created_at timestamptz not null default now(),
  check ((status = 'terminated') = (terminated_at is not null))
);
-- Consumption reads a customer's active wallets in a currency, soonest to expire first.
create index wallets_customer_idx on wallets (customer_id, currency, status, expires_at, created_at);
-- The daily run finds wallets past their expiry.
create index wallets_expiry_idx on wallets (expires_at) where status = 'active' and expires_at is not null;

create table wallet_transactions (
  id text primary key,
  wallet_id text not null references wallets (id),
  kind text not null check (kind in ('purchased', 'granted', 'consumed', 'restored', 'expired', 'voided')),
  status text not null check (status in ('pending', 'settled', 'failed')),
  trigger text check (trigger in ('manual', 'threshold')),
  credits numeric(30, 6) not null check (credits >= 0),
  amount numeric(30, 6) not null check (amount >= 0),
  paid_amount numeric(30, 6) not null check (paid_amount >= 0),
  granted_amount numeric(30, 6) not null check (granted_amount >= 0),
  -- A purchase's invoice, or the invoice that spent (or gave back) the credit.
  invoice_id text references invoices (id),
  -- The invoice whose consumption started an automatic top-up.
  triggered_by_invoice_id text references invoices (id),
  idempotency_key text unique,
  effective_at timestamptz not null,
  settled_at timestamptz,
  created_at timestamptz not null default now(),
  check (amount = paid_amount + granted_amount)
);
create index wallet_transactions_wallet_idx on wallet_transactions (wallet_id, created_at, id);
create index wallet_transactions_invoice_idx on wallet_transactions (invoice_id) where invoice_id is not null;
create index wallet_transactions_pending_idx on wallet_transactions (wallet_id) where status = 'pending';

alter table invoices add column wallet_applied numeric(30, 6) not null default 0 check (wallet_applied >= 0);
-- What wallet credit paid is one more way the total is settled.
alter table invoices drop constraint invoices_amounts_check;
alter table invoices add constraint invoices_amounts_check
  check (amount_paid >= 0 and amount_due >= 0 and amount_paid + amount_due + credit_applied + amount_credited + wallet_applied = greatest(total, 0));

alter table invoice_lines drop constraint if exists invoice_lines_kind_check;
alter table invoice_lines add constraint invoice_lines_kind_check
  check (kind in ('fee', 'usage', 'minimum', 'setup', 'one_off', 'prepaid_credit'));

alter table ledger_transactions drop constraint if exists ledger_transactions_source_type_check;
alter table ledger_transactions add constraint ledger_transactions_source_type_check
  check (source_type in ('invoice', 'payment', 'refund', 'credit_note', 'write_off', 'revenue_recognition', 'wallet'));

insert into ledger_accounts (code, name, type) values ('breakage', 'Breakage (expired prepaid credit)', 'revenue')
on conflict (code) do nothing;
`);
  }
}
