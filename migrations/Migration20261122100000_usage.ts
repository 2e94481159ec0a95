import { Migration } from '@mikro-orm/migrations';

/**
 * Usage-based billing: billable metrics, plan charges, usage events, coupons and tax rates, and
 * the invoice columns that show discounts, taxes and tier breakdowns.
 *
 * Usage ingestion and the close of a usage window meet on advisory locks, bucketed by subscription
 * (class 7301, bucket hashtext(subscription_id) & 127): ingestion holds the bucket shared while it
 * checks the subscription's closed-until instant and inserts, a close holds it exclusively while it
 * moves that instant and aggregates. So an event is either committed before the close reads usage
 * (and is on the invoice) or sees the new instant and is rejected; never acknowledged and left out.
 */
export class Migration20261122100000_usage extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table billable_metrics (
  id text primary key,
  code text not null unique,
  name text not null,
  aggregation text not null check (aggregation in ('count', 'sum', 'max', 'unique_count', 'latest', 'weighted_sum')),
  field text,
  created_at timestamptz not null default now(),
  check ((aggregation = 'count') = (field is null))
);

alter table plans add column minimum_amount numeric(30, 6) check (minimum_amount >= 0);

create table plan_charges (
  id text primary key,
  plan_id text not null references plans (id),
  metric_id text not null references billable_metrics (id),
  position integer not null,
  model text not null check (model in ('standard', 'graduated', 'volume', 'package', 'percentage')),
  -- Prices as decimal strings (exact, any number of decimals), in the API's snake_case shape.
  properties jsonb not null,
  unique (plan_id, metric_id),
  unique (plan_id, position)
);

alter table subscriptions add column external_id text unique;
-- Usage before this instant has been billed (or precedes billing); events for it are refused.
alter table subscriptions add column usage_closed_until timestamptz;
-- Set when the subscription ends: no usage is accepted from this instant on.
alter table subscriptions add column usage_ends_at timestamptz;
update subscriptions set usage_closed_until = billing_anchor;
alter table subscriptions alter column usage_closed_until set not null;

-- No foreign keys: the ingest function checks the subscription itself, and a key check per row
-- would lock the subscription row for every event. Never updated or deleted.
create table usage_events (
  transaction_id text primary key,
  subscription_id text not null,
  metric_id text not null,
  timestamp timestamptz not null,
  -- The metric's field as exact text (a decimal for numeric aggregations); null for count.
  value text,
  properties jsonb not null,
  received_at timestamptz not null default now()
);
create index usage_events_window_idx on usage_events (subscription_id, metric_id, timestamp) include (value);

create function usage_lock_bucket(subscription_id text) returns integer language sql immutable as
  $$ select hashtext(subscription_id) & 127 $$;

-- One round trip and one commit per batch. Input: a JSON array of {transaction_id, subscription_id,
-- metric_id, timestamp, value, properties}. Output: one row per event not accepted, by 1-based index.
create function ingest_usage_events(events jsonb) returns table (idx bigint, outcome text) language plpgsql as $$
begin
  perform pg_advisory_xact_lock_shared(7301, bucket)
  from (select distinct usage_lock_bucket(e->>'subscription_id') as bucket from jsonb_array_elements(events) e order by 1) buckets;
  return query
  with input as (
    select r.*, s.billing_anchor, s.usage_closed_until, s.usage_ends_at
    from rows from (jsonb_to_recordset(events) as (transaction_id text, subscription_id text, metric_id text, "timestamp" timestamptz, value text, properties jsonb))
      with ordinality as r(transaction_id, subscription_id, metric_id, "timestamp", value, properties, idx)
    left join subscriptions s on s.id = r.subscription_id
  ), judged as (
    select input.*, case
      when exists (select 1 from usage_events u where u.transaction_id = input.transaction_id) then 'duplicate'
      when input.billing_anchor is null then 'subscription_missing'
      when input."timestamp" < input.billing_anchor then 'timestamp_before_billing_start'
      when input."timestamp" < input.usage_closed_until then 'period_already_invoiced'
      when input.usage_ends_at is not null and input."timestamp" >= input.usage_ends_at then 'subscription_ended'
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

create table coupons (
  id text primary key,
  code text not null unique,
  name text not null,
  percent_off numeric(9, 6) check (percent_off > 0 and percent_off <= 100),
  amount_off numeric(30, 6) check (amount_off > 0),
  currency char(3),
  duration text not null check (duration in ('once', 'repeating', 'forever')),
  duration_periods integer check (duration_periods between 1 and 1000),
  created_at timestamptz not null default now(),
  check ((percent_off is null) <> (amount_off is null)),
  check ((amount_off is null) = (currency is null)),
  check ((duration = 'repeating') = (duration_periods is not null))
);

create table applied_coupons (
  id text primary key,
  coupon_id text not null references coupons (id),
  customer_id text not null references customers (id),
  -- Null: every subscription of the customer.
  subscription_id text references subscriptions (id),
  -- Invoices it still applies to; null: forever.
  periods_remaining integer check (periods_remaining >= 0),
  status text not null check (status in ('active', 'exhausted')),
  created_at timestamptz not null default now()
);
create index applied_coupons_customer_idx on applied_coupons (customer_id) where status = 'active';

create table tax_rates (
  id text primary key,
  code text not null unique,
  name text not null,
  percentage numeric(9, 6) not null check (percentage >= 0 and percentage <= 100),
  inclusive boolean not null,
  created_at timestamptz not null default now()
);

create table customer_tax_rates (
  customer_id text not null references customers (id),
  tax_rate_id text not null references tax_rates (id),
  position integer not null,
  primary key (customer_id, tax_rate_id)
);

alter table invoices add column discount_total numeric(30, 6) not null default 0;
alter table invoices add column tax_total numeric(30, 6) not null default 0;
alter table invoices add column discounts jsonb not null default '[]';
alter table invoices add column taxes jsonb not null default '[]';
-- What waits in deferred revenue until the period is served (the fees, net of included tax).
alter table invoices add column deferred_amount numeric(30, 6) not null default 0;
update invoices set deferred_amount = total;

alter table invoice_lines add column kind text not null default 'fee' check (kind in ('fee', 'usage', 'minimum'));
alter table invoice_lines add column metric_code text;
alter table invoice_lines add column charge_model text;
alter table invoice_lines add column tiers jsonb;
alter table invoice_lines add column discount_amount numeric(30, 6) not null default 0;
alter table invoice_lines add column tax_amount numeric(30, 6) not null default 0;
-- Quantities (weighted sums) and unit prices (0.0015 per call) need more than 6 decimals.
alter table invoice_lines alter column quantity type numeric;
alter table invoice_lines alter column unit_amount type numeric;
alter table invoice_lines alter column unit_amount drop not null;

insert into ledger_accounts (code, name, type) values
  ('discounts', 'Discounts', 'revenue'),
  ('tax_payable', 'Tax payable', 'liability');
`);
  }
}
