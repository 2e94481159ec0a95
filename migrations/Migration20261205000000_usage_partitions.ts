import { Migration } from '@mikro-orm/migrations';

/**
 * Usage events are partitioned by calendar month (UTC) on "timestamp", so an old month can be detached
 * and archived as one table (docs/usage-partitions.md) and a period's aggregation reads one or two
 * months, not the whole history.
 *
 * - A partitioned table's unique keys must contain the partition key, so transaction ids are kept
 *   unique across months by usage_event_ids, which is not partitioned: the ingest function claims an
 *   id there (insert ... on conflict do nothing, as it claimed it in usage_events before) and stores
 *   the event only when the claim is new. The id row also says where the event is (subscription,
 *   metric, timestamp), which is how a repeat's comparison finds it: one descent of the window index,
 *   in the one partition of its month.
 * - An event whose month has no partition yet goes to usage_events_default: nothing is refused for
 *   want of a partition. Attaching a month whose rows sit in the default partition would fail, so a
 *   month is created only by usage_events_attach_month, which moves those rows into the new table
 *   before attaching it, with ingestion held off meanwhile.
 * - create_usage_partitions (SECURITY DEFINER, owned by the schema's owner) makes the months from the
 *   current one to `months_ahead` ahead, and every earlier month found in the default partition. The
 *   application's role may run it and nothing else of the kind: it still owns no table and cannot
 *   create one. The worker runs it at start and daily; this migration runs it once, so a fresh
 *   database takes events before any worker has run.
 */
export class Migration20261205000000_usage_partitions extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table usage_events rename to usage_events_unpartitioned;
alter index usage_events_pkey rename to usage_events_unpartitioned_pkey;
alter index usage_events_window_idx rename to usage_events_unpartitioned_window_idx;

-- Never updated or deleted by the application; an archived month's ids stay (docs/usage-partitions.md).
create table usage_event_ids (
  transaction_id text primary key,
  subscription_id text not null,
  metric_id text not null,
  "timestamp" timestamptz not null
);

-- No primary key: the transaction id is unique through usage_event_ids. The window index carries the
-- transaction id as its last key column, so a stored event is found by its four columns in one
-- descent (however many events share a timestamp), and "latest" reads its order from the index.
create table usage_events (
  transaction_id text not null,
  subscription_id text not null,
  metric_id text not null,
  "timestamp" timestamptz not null,
  value text,
  properties jsonb not null,
  received_at timestamptz not null default now()
) partition by range ("timestamp");
create index usage_events_window_idx on usage_events (subscription_id, metric_id, "timestamp", transaction_id) include (value);
create table usage_events_default partition of usage_events default;

-- One month's partition, named usage_events_YYYY_MM; nothing when it exists. The caller holds what
-- create_usage_partitions takes: every usage lock bucket, so no insert is routed meanwhile (an insert
-- routed to the default partition before an attach and written after it would fail its partition
-- check), and the default partition itself.
create function usage_events_attach_month(month_start timestamptz) returns text language plpgsql
set search_path = public, pg_temp set timezone = 'UTC' set datestyle = 'ISO, YMD' as $$
declare
  month_end timestamptz := month_start + interval '1 month';
  name text := 'usage_events_' || to_char(month_start, 'YYYY_MM');
begin
  if month_start <> date_trunc('month', month_start) then
    raise exception 'usage_events_attach_month: % is not the start of a month (UTC)', month_start;
  end if;
  if to_regclass(name) is not null then
    return null;
  end if;
  -- Created apart and attached (not "partition of"): an attach locks the parent in share update
  -- exclusive mode, which ingestion's inserts and every read pass through.
  execute format('create table %I (like usage_events including defaults)', name);
  -- Proves the new table's rows fit the range, so the attach does not scan it again.
  execute format('alter table %I add constraint %I check ("timestamp" >= %L and "timestamp" < %L)', name, name || '_month', month_start, month_end);
  execute format('with moved as (delete from usage_events_default where "timestamp" >= $1 and "timestamp" < $2 returning *) insert into %I select * from moved', name)
    using month_start, month_end;
  execute format('alter table usage_events attach partition %I for values from (%L) to (%L)', name, month_start, month_end);
  execute format('alter table %I drop constraint %I', name, name || '_month');
  return name;
end $$;
revoke all on function usage_events_attach_month(timestamptz) from public;

-- The months that should exist and do not: the current month and the next months_ahead, and any
-- earlier month with rows in the default partition. Later months found there stay in it until the
-- horizon reaches them, so a stray far-future timestamp does not create a partition years early.
create function usage_partitions_missing(months_ahead integer) returns setof timestamptz language sql stable
set search_path = public, pg_temp set timezone = 'UTC' as $$
  select m from (
    select generate_series(date_trunc('month', now()), date_trunc('month', now()) + make_interval(months => months_ahead), interval '1 month') as m
    union
    select distinct date_trunc('month', "timestamp") from usage_events_default
    where "timestamp" < date_trunc('month', now()) + make_interval(months => months_ahead + 1)
  ) months
  where to_regclass('usage_events_' || to_char(m, 'YYYY_MM')) is null
  order by m
$$;
revoke all on function usage_partitions_missing(integer) from public;

-- Idempotent, and cheap when nothing is missing (the daily case): it takes no lock then. Otherwise it
-- holds every usage lock bucket exclusively (ingestion and usage closes wait, for milliseconds while
-- the default partition is small) and the default partition, and looks again under them, so two
-- callers at once create each month once.
create function create_usage_partitions(months_ahead integer default 3) returns setof text language plpgsql
security definer set search_path = public, pg_temp set timezone = 'UTC' as $$
begin
  if months_ahead is null or months_ahead < 0 or months_ahead > 36 then
    raise exception 'create_usage_partitions: months_ahead must be between 0 and 36, not %', months_ahead;
  end if;
  if not exists (select from usage_partitions_missing(months_ahead)) then
    return;
  end if;
  perform pg_advisory_xact_lock(7301, bucket) from generate_series(0, 127) bucket order by bucket;
  lock table usage_events_default in access exclusive mode;
  return query
  select created from (select usage_events_attach_month(m) as created from usage_partitions_missing(months_ahead) m) made where created is not null;
end $$;
revoke all on function create_usage_partitions(integer) from public;
grant execute on function create_usage_partitions(integer) to perennial_app;

-- Existing rows: their months first, so each row is written once, into its month.
select usage_events_attach_month(m)
from (select distinct date_trunc('month', "timestamp", 'UTC') as m from usage_events_unpartitioned) months order by m;
insert into usage_events (transaction_id, subscription_id, metric_id, "timestamp", value, properties, received_at)
select transaction_id, subscription_id, metric_id, "timestamp", value, properties, received_at from usage_events_unpartitioned;
insert into usage_event_ids (transaction_id, subscription_id, metric_id, "timestamp")
select transaction_id, subscription_id, metric_id, "timestamp" from usage_events_unpartitioned;
drop table usage_events_unpartitioned;
select create_usage_partitions(3);

drop function ingest_usage_events(jsonb);

-- As before (the usage conflicts migration says why each part is as it is), with the transaction id
-- claimed in usage_event_ids and the event stored in its month only when the claim is new. Inputs and
-- outputs are the same.
create function ingest_usage_events(events jsonb) returns table (idx bigint, outcome text, differs text[]) language plpgsql
set enable_seqscan = off set plan_cache_mode = force_generic_plan as $$
declare
  pending bigint[];
  pending_refusal text[];
  pending_stored_by bigint[];
begin
  perform pg_advisory_xact_lock_shared(7301, bucket)
  from (select distinct usage_lock_bucket(e->>'subscription_id') as bucket from jsonb_array_elements(events) e order by 1) buckets;

  with input as (
    select r.idx, r.transaction_id, r.subscription_id, r.metric_id, r."timestamp", r.value, r.properties, case
      when s.billing_anchor is null then 'subscription_missing'
      when r."timestamp" < s.billing_anchor then 'timestamp_before_billing_start'
      when r."timestamp" < s.usage_closed_until then 'period_already_invoiced'
      when s.usage_ends_at is not null and r."timestamp" >= s.usage_ends_at then
        case when s.status = 'paused' then 'subscription_paused' else 'subscription_ended' end
    end as refusal
    from rows from (jsonb_to_recordset(events) as (transaction_id text, subscription_id text, metric_id text, "timestamp" timestamptz, value text, properties jsonb))
      with ordinality as r(transaction_id, subscription_id, metric_id, "timestamp", value, properties, idx)
    left join subscriptions s on s.id = r.subscription_id
  ), ranked as (
    select i.*, i.refusal is null and row_number() over (partition by i.transaction_id, i.refusal is null order by i.idx) = 1 as candidate
    from input i
  ), candidates as (
    select coalesce(jsonb_object_agg(r.transaction_id, r.idx), '{}'::jsonb) as idx_of from ranked r where r.candidate
  ), claimed as (
    -- In input order: the caller sorts by transaction id, so concurrent batches never wait on each other in a cycle.
    insert into usage_event_ids (transaction_id, subscription_id, metric_id, "timestamp")
    select r.transaction_id, r.subscription_id, r.metric_id, r."timestamp"
    from ranked r where r.candidate order by r.idx
    on conflict (transaction_id) do nothing
    returning usage_event_ids.transaction_id
  ), accepted as (
    select coalesce(jsonb_object_agg(x.transaction_id, c.idx_of -> x.transaction_id), '{}'::jsonb) as idx_of from claimed x cross join candidates c
  ), stored as (
    -- Runs to completion although nothing reads it (a data-modifying WITH always does).
    insert into usage_events (transaction_id, subscription_id, metric_id, "timestamp", value, properties)
    select r.transaction_id, r.subscription_id, r.metric_id, r."timestamp", r.value, coalesce(r.properties, '{}'::jsonb)
    from ranked r cross join accepted a where r.candidate and (a.idx_of -> r.transaction_id) is not null
  )
  select coalesce(array_agg(i.idx), '{}'), coalesce(array_agg(i.refusal), '{}'), coalesce(array_agg(i.stored_by), '{}')
  into pending, pending_refusal, pending_stored_by
  from (select i.idx, i.refusal, (a.idx_of ->> i.transaction_id)::bigint as stored_by from input i cross join accepted a) i
  where i.stored_by is distinct from i.idx;

  if cardinality(pending) = 0 then
    return;
  end if;
  -- A new snapshot: it sees the ids (and events) of concurrent batches that the claim above waited for.
  return query
  select p.idx,
    case
      when p.stored_by > p.idx then p.refusal
      when u.transaction_id is null then coalesce(p.refusal, 'not_stored')
      when cardinality(u.differs) = 0 then 'duplicate'
      else 'transaction_id_conflict'
    end,
    case when p.stored_by > p.idx or cardinality(u.differs) = 0 then null else u.differs end
  from unnest(pending, pending_refusal, pending_stored_by) as p(idx, refusal, stored_by)
  cross join lateral (select events -> (p.idx::int - 1) as e) given
  left join lateral (
    -- The event of a detached (archived) month is gone while its id stays: its properties cannot be
    -- compared, and a repeat agreeing on the rest is a duplicate.
    select c.transaction_id, array_remove(array[
      case when c.subscription_id is distinct from given.e->>'subscription_id' then 'subscription' end,
      case when c.metric_id is distinct from given.e->>'metric_id' then 'code' end,
      case when coalesce((given.e->>'timestamp_given')::boolean, true) and c."timestamp" is distinct from (given.e->>'timestamp')::timestamptz then 'timestamp' end,
      case when u.transaction_id is not null and u.properties is distinct from coalesce(nullif(given.e->'properties', 'null'::jsonb), '{}'::jsonb) then 'properties' end
    ], null) as differs
    from usage_event_ids c
    left join usage_events u
      on u.subscription_id = c.subscription_id and u.metric_id = c.metric_id and u."timestamp" = c."timestamp" and u.transaction_id = c.transaction_id
    where c.transaction_id = given.e->>'transaction_id'
  ) u on true;
end $$;
`);
  }
}
