import { Migration } from '@mikro-orm/migrations';

/**
 * One-off invoices, add-ons and setup fees.
 *
 * - invoices.subscription_id becomes nullable: a one-off invoice (and a wallet purchase) belongs to a
 *   customer only. Such an invoice is identified by `one_off_key` (unique), so a retried request
 *   issues it once; every invoice has a subscription or a key. `collection_method` says whether its
 *   amount due is charged to the customer's card (`charge_automatically`, as every invoice before)
 *   or waits for a payment by hand (`send_invoice`). One-off invoices are `manual` (Stripe's reason).
 *   An invoice's period may be an instant (a one-off invoice is dated, not for a period).
 * - Line kinds gain `setup` (a plan's setup fee), `one_off` (one-time add-ons, one-off lines) and
 *   `prepaid_credit` (wallet credit bought); lines may name the add-on they bill.
 * - add_ons: the catalog, priced per unit in one currency; recurring ones have an interval.
 * - subscription_add_ons: an add-on attached to a subscription with a quantity. A recurring one bills
 *   with every renewal whose period starts in [added_at, removed_at); a one-time one is billed once,
 *   on the invoice `billed_invoice_id` names.
 * - plans.setup_fee, and subscription_setup_fees: one row per subscription, written in the
 *   transaction of its first invoice that bills a fee (with the setup line, or none when its plan had
 *   no setup fee then), so a setup fee is billed at most once per subscription. Subscriptions that
 *   billed a fee before this migration get their row (no line): they are past their first invoice.
 */
export class Migration20261202100000_add_ons_one_off_invoices extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table invoices alter column subscription_id drop not null;
alter table invoices add column one_off_key text unique;
alter table invoices add constraint invoices_owner_check check (subscription_id is not null or one_off_key is not null);
alter table invoices add column collection_method text not null default 'charge_automatically'
  check (collection_method in ('charge_automatically', 'send_invoice'));
alter table invoices drop constraint invoices_billing_reason_check;
alter table invoices add constraint invoices_billing_reason_check
  check (billing_reason in ('subscription_cycle', 'subscription_update', 'subscription_pause', 'subscription_cancel', 'manual'));
alter table invoices drop constraint invoices_check1;
alter table invoices add constraint invoices_period_check check (period_end >= period_start);

create table add_ons (
  id text primary key,
  code text not null unique,
  name text not null,
  amount numeric(30, 6) not null check (amount >= 0),
  currency char(3) not null,
  interval text check (interval in ('day', 'week', 'month', 'year')),
  interval_count integer check (interval_count between 1 and 1000),
  created_at timestamptz not null default now(),
  check ((interval is null) = (interval_count is null))
);

alter table invoice_lines drop constraint invoice_lines_kind_check;
alter table invoice_lines add constraint invoice_lines_kind_check
  check (kind in ('fee', 'usage', 'minimum', 'setup', 'one_off', 'prepaid_credit'));
alter table invoice_lines add column add_on_id text references add_ons (id);

create table subscription_add_ons (
  id text primary key,
  subscription_id text not null references subscriptions (id),
  add_on_id text not null references add_ons (id),
  quantity numeric(30, 6) not null check (quantity > 0),
  added_at timestamptz not null,
  removed_at timestamptz,
  billed_invoice_id text references invoices (id),
  created_at timestamptz not null default now(),
  check (removed_at is null or removed_at >= added_at)
);
create index subscription_add_ons_subscription_idx on subscription_add_ons (subscription_id, added_at);

alter table plans add column setup_fee numeric(30, 6) check (setup_fee > 0);

create table subscription_setup_fees (
  subscription_id text primary key references subscriptions (id),
  invoice_id text references invoices (id),
  invoice_line_id text unique references invoice_lines (id),
  created_at timestamptz not null default now()
);
insert into subscription_setup_fees (subscription_id, invoice_id, invoice_line_id)
select distinct on (i.subscription_id) i.subscription_id, i.id, null
  from invoices i
  join invoice_lines l on l.invoice_id = i.id and l.kind = 'fee' and l.amount >= 0
 where i.subscription_id is not null
 order by i.subscription_id, i.sequence;
`);
  }
}
