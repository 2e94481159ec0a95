import { Migration } from '@mikro-orm/migrations';

/**
 * A transaction id names one event: a repeat is a duplicate only when it carries the same event
 * (subscription, metric, timestamp, properties); anything else is refused as a conflict, with what
 * differs. The result gains a column, so the function is dropped and created again (in the
 * migration's transaction: no call sees it missing).
 *
 * Two concurrent statements with the same new transaction id both see no stored event in their
 * snapshots; the insert of the later one waits for the earlier to commit and then inserts nothing.
 * So the comparison runs as a second statement of the function, after the insert: a volatile
 * function takes a new snapshot per statement under read committed, and that snapshot sees the
 * committed event the insert waited for. Events are never updated or deleted, so what it sees is
 * final. Both statements run under the same shared usage lock, so the subscription checks of the
 * first still hold for the answer.
 *
 * Input as before (a JSON array of {transaction_id, subscription_id, metric_id, timestamp, value,
 * properties}), plus timestamp_given: false when the server dated the event (a retry of it is dated
 * anew, so its timestamp cannot be compared). Output: one row per event not accepted, by 1-based
 * index; `differs` names the fields of a conflict.
 */
export class Migration20261130100000_usage_conflicts extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
drop function ingest_usage_events(jsonb);

-- As in the lifecycle migration, sequential scans are off so every cached plan looks events up by key.
-- Plans are generic: a custom plan of the last statement, costed on the batch itself, was preferred
-- and so planned again on every call, a large part of the function's time on batches of 100.
create function ingest_usage_events(events jsonb) returns table (idx bigint, outcome text, differs text[]) language plpgsql
set enable_seqscan = off set plan_cache_mode = force_generic_plan as $$
declare
  pending bigint[];
  pending_refusal text[];
  pending_stored_by bigint[];
begin
  perform pg_advisory_xact_lock_shared(7301, bucket)
  from (select distinct usage_lock_bucket(e->>'subscription_id') as bucket from jsonb_array_elements(events) e order by 1) buckets;

  -- The first occurrence of a transaction id that the subscription accepts is stored (unless an event
  -- with that id already is); every other event is pending: refused, a duplicate or a conflict.
  -- Events are matched to what was inserted through jsonb objects keyed by transaction id, not joins:
  -- a join of these CTEs is estimated at one row and planned as a nested loop, quadratic in the batch.
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
  ), inserted as (
    -- In input order: the caller sorts by transaction id, so concurrent batches never wait on each other in a cycle.
    insert into usage_events (transaction_id, subscription_id, metric_id, "timestamp", value, properties)
    select r.transaction_id, r.subscription_id, r.metric_id, r."timestamp", r.value, coalesce(r.properties, '{}'::jsonb)
    from ranked r where r.candidate order by r.idx
    on conflict (transaction_id) do nothing
    returning usage_events.transaction_id
  ), accepted as (
    select coalesce(jsonb_object_agg(x.transaction_id, c.idx_of -> x.transaction_id), '{}'::jsonb) as idx_of from inserted x cross join candidates c
  )
  -- Unordered: the three arrays are aligned all the same (one pass), and a sort here would copy the
  -- jsonb map into every row it sorts.
  select coalesce(array_agg(i.idx), '{}'), coalesce(array_agg(i.refusal), '{}'), coalesce(array_agg(i.stored_by), '{}')
  into pending, pending_refusal, pending_stored_by
  from (select i.idx, i.refusal, (a.idx_of ->> i.transaction_id)::bigint as stored_by from input i cross join accepted a) i
  where i.stored_by is distinct from i.idx;

  if cardinality(pending) = 0 then
    return;
  end if;
  -- A new snapshot: it sees the events of concurrent batches that the insert above waited for.
  return query
  select p.idx,
    case
      -- Refused on its own before a later event of the batch took the id: as if sent one by one.
      when p.stored_by > p.idx then p.refusal
      -- not_stored cannot happen (a candidate is inserted, or meets the event its insert waited for);
      -- the caller fails on it rather than acknowledge an event that is not stored.
      when u.transaction_id is null then coalesce(p.refusal, 'not_stored')
      when cardinality(u.differs) = 0 then 'duplicate'
      else 'transaction_id_conflict'
    end,
    case when p.stored_by > p.idx or cardinality(u.differs) = 0 then null else u.differs end
  from unnest(pending, pending_refusal, pending_stored_by) as p(idx, refusal, stored_by)
  cross join lateral (select events -> (p.idx::int - 1) as e) given
  left join lateral (
    select u.transaction_id, array_remove(array[
      case when u.subscription_id is distinct from given.e->>'subscription_id' then 'subscription' end,
      case when u.metric_id is distinct from given.e->>'metric_id' then 'code' end,
      case when coalesce((given.e->>'timestamp_given')::boolean, true) and u."timestamp" is distinct from (given.e->>'timestamp')::timestamptz then 'timestamp' end,
      case when u.properties is distinct from coalesce(nullif(given.e->'properties', 'null'::jsonb), '{}'::jsonb) then 'properties' end
    ], null) as differs
    from usage_events u where u.transaction_id = given.e->>'transaction_id'
  ) u on true;
end $$;
`);
  }
}
