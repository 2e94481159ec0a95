import { Migration } from '@mikro-orm/migrations';

/**
 * API keys managed through the API, and the audit log of every change made through it.
 *
 * - api_keys: only the sha256 digest of a key is kept (the key itself is shown once, when it is
 *   made); `prefix` is its first characters, enough for a person to tell keys apart in a list.
 *   A key is never deleted: revoked_at ends it, and every request looks it up, so a revocation holds
 *   at once on every API process. last_used_at moves at most once a minute per key.
 * - audit_events: who (actor_key_id, actor_role) did what (method, route pattern, resource) with
 *   which request (request_id, idempotency_key), and the resource before and after. Append-only as
 *   the ledger is: a trigger refuses update, delete and truncate whoever asks, and perennial_app
 *   holds no right to them either. A retried request carrying the same Idempotency-Key is one
 *   mutation, so it is one row (the partial unique index).
 */
export class Migration20261204100000_api_keys_audit extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table api_keys (
  id text primary key,
  name text not null,
  role text not null check (role in ('admin', 'support', 'readonly')),
  prefix text not null,
  digest bytea not null unique,
  created_at timestamptz not null default clock_timestamp(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index api_keys_created_idx on api_keys (created_at desc, id desc);

create table audit_events (
  id text primary key,
  actor_key_id text not null,
  actor_role text not null,
  method text not null,
  route text not null,
  resource_type text,
  resource_id text,
  request_id text not null,
  idempotency_key text,
  before jsonb,
  after jsonb,
  created_at timestamptz not null default clock_timestamp()
);
create index audit_events_created_idx on audit_events (created_at desc, id desc);
create index audit_events_resource_idx on audit_events (resource_id, created_at desc, id desc);
create index audit_events_actor_idx on audit_events (actor_key_id, created_at desc, id desc);
create unique index audit_events_one_per_idempotency_key on audit_events (actor_key_id, idempotency_key) where idempotency_key is not null;

create function audit_is_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'the audit log is append-only: % on % is not allowed', tg_op, tg_table_name;
end;
$$;
create trigger audit_events_append_only before update or delete on audit_events
  for each row execute function audit_is_append_only();
create trigger audit_events_no_truncate before truncate on audit_events
  for each statement execute function audit_is_append_only();

do $$
begin
  if exists (select from pg_roles where rolname = 'perennial_app') then
    revoke update, delete, truncate on audit_events from perennial_app;
  end if;
end
$$;
`);
  }
}
