import { Migration } from '@mikro-orm/migrations';

/**
 * The customer portal.
 *
 * - portal_sessions: each link made for a customer (by the API, or by the worker for an e-mail). The
 *   link's token is signed over the link's id, customer and expiry, so the row is what support can
 *   look up afterwards, not what a visit trusts. return_url is where the portal's "Return" link goes.
 * - subscriptions.cancellation_reason and cancellation_comment: why a cancellation was asked for
 *   (the portal asks the customer; the API takes it too), written after the workflow accepted it.
 */
export class Migration20261203100000_portal_sessions extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table portal_sessions (
  id text primary key,
  customer_id text not null references customers (id),
  return_url text,
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);
create index portal_sessions_customer_idx on portal_sessions (customer_id, created_at desc);
alter table subscriptions add column cancellation_reason text check (cancellation_reason in ('too_expensive', 'missing_features', 'switched_service', 'unused', 'other'));
alter table subscriptions add column cancellation_comment text;
`);
  }
}
