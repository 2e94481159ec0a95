import { Migration } from '@mikro-orm/migrations';

/**
 * The role the API and the worker connect as: `perennial_app`, a group role its login users are
 * members of (db/roles.ts creates them). It reads and writes rows, and nothing more: it owns no table,
 * so it cannot alter one or disable a trigger, and it may only insert into the ledger, never update,
 * delete or truncate it, nor touch the migrations table. Migrations run as the owner. Tables later
 * migrations create get the same row rights by default.
 */
export class Migration20261130300000_least_privilege extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
do $$
begin
  if not exists (select from pg_roles where rolname = 'perennial_app') then
    create role perennial_app nologin;
  end if;
end
$$;
grant usage on schema public to perennial_app;
grant select, insert, update, delete on all tables in schema public to perennial_app;
grant usage, select on all sequences in schema public to perennial_app;
revoke update, delete, truncate on ledger_transactions, ledger_entries from perennial_app;
revoke insert, update, delete, truncate on mikro_orm_migrations from perennial_app;
alter default privileges in schema public grant select, insert, update, delete on tables to perennial_app;
alter default privileges in schema public grant usage, select on sequences to perennial_app;
`);
  }
}
