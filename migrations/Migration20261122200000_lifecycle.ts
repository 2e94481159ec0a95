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

-- As in the usage migration, and an event of a paused subscription is refused as paused, not ended.
-- A connection caches the function's plan; one made while usage_events was nearly empty hashed the
-- whole table for the duplicate check on every later call (ingest 4x slower, and slowing as the table
-- grew; found by bench/ingest.ts). The check is a sub-select and sequential scans are off inside the
-- function, so every plan looks each event up in the primary key.
create or replace function ingest_usage_events(events jsonb) returns table (idx bigint, outcome text) language plpgsql
set enable_seqscan = off as $$
begin
  perform pg_advisory_xact_lock_shared(7301, bucket)
  from (select distinct usage_lock_bucket(e->>'subscription_id') as bucket from jsonb_array_elements(events) e order by 1) buckets;
  return query
  with input as (
    select r.*, s.billing_anchor, s.usage_closed_until, s.usage_ends_at, s.status
    from rows from (jsonb_to_recordset(events) as (transaction_id text, subscription_id text, metric_id text, "timestamp" timestamptz, value text, properties jsonb))
      with ordinality as r(transaction_id, subscription_id, metric_id, "timestamp", value, properties, idx)
    left join subscriptions s on s.id = r.subscription_id
  ), judged as (
    select input.*, case
      when (select true from usage_events u where u.transaction_id = input.transaction_id) then 'duplicate'
      when input.billing_anchor is null then 'subscription_missing'
      when input."timestamp" < input.billing_anchor then 'timestamp_before_billing_start'
      when input."timestamp" < input.usage_closed_until then 'period_already_invoiced'
      when input.usage_ends_at is not null and input."timestamp" >= input.usage_ends_at then
        case when input.status = 'paused' then 'subscription_paused' else 'subscription_ended' end
    end as rejection
    from input
  ), inserted as (
    insert into usage_events (transaction_id, subscription_id, metric_id, "timestamp", value, properties)
    select j.transaction_id, j.subscription_id, j.metric_id, j."timestamp", j.value, coalesce(j.properties, '{}'::jsonb)
    from judged j where j.rejection is null
    on conflict (transaction_id) do nothing
    returning usage_events.transaction_id
  )
  select j.idx, coalesce(j.rejection, 'duplicate')
  from judged j
  where j.rejection is not null or not exists (select 1 from inserted i where i.transaction_id = j.transaction_id);
end $$;
`);
  }
}
