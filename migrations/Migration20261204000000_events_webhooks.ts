import { Migration } from '@mikro-orm/migrations';

/**
 * Outgoing events and their webhook deliveries.
 *
 * - events: the outbox. A row is written in the same transaction as the fact it reports (db/events.ts
 *   recordEvent), so an event exists exactly when its fact committed. idempotency_key is derived from
 *   the fact (`invoice.paid:in_…`): a retried activity or request that reports it again adds nothing.
 *   dispatched_at is set once the relay has made a delivery for every endpoint that wanted it.
 * - webhook_endpoints: where events go. The secret signs deliveries (Standard Webhooks); after a
 *   rotation the previous secret keeps signing beside the new one until previous_secret_expires_at.
 *   preconfigured marks the endpoint the worker keeps in step with PROVISIONING_WEBHOOK_URL.
 * - webhook_deliveries: one event to one endpoint, walked through the retry schedule by its own
 *   Temporal workflow; webhook_attempts: every try of it (status, latency, an excerpt of the answer).
 *   workflow_started_at is set once the relay has started that workflow, so a relay that died between
 *   making deliveries and starting their workflows starts the rest on its next pass.
 * - The trigger on events wakes the relay (LISTEN perennial_events) when an event's transaction
 *   commits; Postgres delivers a notification only on commit, and folds duplicates within one.
 */
export class Migration20261204000000_events_webhooks extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table events (
  id text primary key,
  idempotency_key text not null unique,
  type text not null,
  object_id text,
  customer_id text,
  data jsonb not null,
  created_at timestamptz not null default clock_timestamp(),
  dispatched_at timestamptz
);
create index events_created_idx on events (created_at desc, id desc);
create index events_type_created_idx on events (type, created_at desc, id desc);
create index events_object_idx on events (object_id);
create index events_undispatched_idx on events (created_at) where dispatched_at is null;
create function events_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('perennial_events', '');
  return null;
end
$$;
create trigger events_notify after insert on events for each statement execute function events_notify();

create table webhook_endpoints (
  id text primary key,
  url text not null,
  description text,
  events text[] not null,
  status text not null default 'enabled' check (status in ('enabled', 'disabled')),
  disabled_reason text,
  secret text not null,
  previous_secret text,
  previous_secret_expires_at timestamptz,
  preconfigured boolean not null default false,
  created_at timestamptz not null default clock_timestamp(),
  updated_at timestamptz not null default clock_timestamp(),
  deleted_at timestamptz
);
create unique index webhook_endpoints_one_preconfigured on webhook_endpoints (preconfigured) where preconfigured and deleted_at is null;

create table webhook_deliveries (
  id text primary key,
  event_id text not null references events (id),
  endpoint_id text not null references webhook_endpoints (id),
  status text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz,
  last_status_code integer,
  resends integer not null default 0,
  workflow_started_at timestamptz,
  created_at timestamptz not null default clock_timestamp(),
  updated_at timestamptz not null default clock_timestamp(),
  unique (event_id, endpoint_id)
);
create index webhook_deliveries_endpoint_idx on webhook_deliveries (endpoint_id, created_at desc, id desc);
create index webhook_deliveries_unstarted_idx on webhook_deliveries (created_at) where workflow_started_at is null;

create table webhook_attempts (
  id text primary key,
  delivery_id text not null references webhook_deliveries (id),
  attempt integer not null,
  outcome text not null check (outcome in ('succeeded', 'failed')),
  status_code integer,
  error text,
  latency_ms integer not null,
  response_excerpt text,
  attempted_at timestamptz not null default clock_timestamp(),
  unique (delivery_id, attempt)
);
`);
  }
}
