import { Migration } from '@mikro-orm/migrations';

/**
 * The subscription lifecycle: plan versions, customer time zones and calendar alignment, pause,
 * scheduled changes mirrored from the workflow, invoices issued between renewals (plan changes,
 * pauses, cancellations) identified by a key, and customer credit balances.
 */
export class Migration20261122200000_lifecycle extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table customers add column timezone text not null default 'UTC';

-- A plan is a code with numbered versions; a price change is a new version, and subscriptions keep
-- the version they are on (grandfathered) until migrated.
alter table plans add column version integer not null default 1 check (version >= 1);
alter table plans drop constraint plans_code_key;
alter table plans add constraint plans_code_version_key unique (code, version);

alter table subscriptions add column billing_alignment text not null default 'anniversary' check (billing_alignment in ('anniversary', 'calendar'));
alter table subscriptions add column timezone text not null default 'UTC';
alter table subscriptions drop constraint subscriptions_status_check;
alter table subscriptions add constraint subscriptions_status_check check (status in ('scheduled', 'trialing', 'active', 'paused', 'canceled'));
alter table subscriptions add column scheduled_changes jsonb not null default '[]';
alter table subscriptions add column paused_at timestamptz;

-- Invoices between renewals have no period index; they are identified by a key derived from the
-- workflow's facts (the change's id), unique per subscription, so a retried activity issues nothing twice.
alter table invoices alter column period_index drop not null;
alter table invoices add column billing_key text;
alter table invoices add column billing_reason text not null default 'subscription_cycle'
  check (billing_reason in ('subscription_cycle', 'subscription_update', 'subscription_pause', 'subscription_cancel'));
alter table invoices add column credit_applied numeric(30, 6) not null default 0 check (credit_applied >= 0);
-- What an invoice asks is paid, due, or covered by credit; a negative total asks nothing (it is credit).
alter table invoices drop constraint invoices_check;
alter table invoices add constraint invoices_amounts_check
  check (amount_paid >= 0 and amount_due >= 0 and amount_paid + amount_due + credit_applied = greatest(total, 0));
create unique index invoices_billing_key_idx on invoices (subscription_id, billing_key) where billing_key is not null;

-- Positive: credit granted to the customer (a proration credit); negative: credit spent on an invoice.
create table customer_balance_transactions (
  id text primary key,
  customer_id text not null references customers (id),
  currency char(3) not null,
  amount numeric(30, 6) not null check (amount <> 0),
  invoice_id text not null references invoices (id),
  kind text not null check (kind in ('proration_credit', 'applied_to_invoice')),
  created_at timestamptz not null default now(),
  unique (invoice_id, kind)
);
create index customer_balance_customer_idx on customer_balance_transactions (customer_id, currency);

insert into ledger_accounts (code, name, type) values ('customer_credit', 'Customer credit balances', 'liability');
`);
  }
}
