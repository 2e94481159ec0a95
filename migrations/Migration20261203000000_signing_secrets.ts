import { Migration } from '@mikro-orm/migrations';

/**
 * Secrets the API signs and encrypts with: the console's session cookies and the customer portal's
 * links. Kept in Postgres (made on first use) so every API replica and the worker, which puts portal
 * links in e-mails, use the same ones with nothing to configure.
 */
export class Migration20261203000000_signing_secrets extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table signing_secrets (
  name text primary key,
  secret bytea not null check (octet_length(secret) >= 32),
  created_at timestamptz not null default now()
);
`);
  }
}
