import { Migration } from '@mikro-orm/migrations';

/**
 * The first schema. Money columns are numeric (exact); the ledger's balance and immutability are
 * enforced by Postgres itself so that no code path, present or future, can unbalance the books.
 */
export class Migration20261122000000_initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table customers (
  id text primary key,
  name text not null,
  email text not null,
  currency char(3) not null,
  external_id text unique,
  created_at timestamptz not null default now()
);

create table plans (
  id text primary key,
  code text not null unique,
  name text not null,
  currency char(3) not null,
  interval text not null check (interval in ('day', 'week', 'month', 'year')),
  interval_count integer not null default 1 check (interval_count between 1 and 1000),
  trial_days integer not null default 0 check (trial_days between 0 and 3650),
  amount numeric(30, 6) not null check (amount >= 0),
  created_at timestamptz not null default now()
);

create table subscriptions (
  id text primary key,
  customer_id text not null references customers (id),
  plan_id text not null references plans (id),
  status text not null check (status in ('scheduled', 'trialing', 'active', 'canceled')),
  start_at timestamptz not null,
  trial_end timestamptz,
  billing_anchor timestamptz not null,
  current_period_start timestamptz,
  current_period_end timestamptz,
  cancel_at_period_end boolean not null default false,
  canceled_at timestamptz,
  workflow_id text not null unique,
  state_version integer not null default 0,
  created_at timestamptz not null default now()
);
create index subscriptions_customer_idx on subscriptions (customer_id);

-- One row per numbering series; the row lock taken by UPDATE ... RETURNING inside the invoice's own
-- transaction makes numbers gapless (a rolled-back invoice gives its number back).
create table invoice_number_sequences (
  series text primary key,
  next_value bigint not null check (next_value > 0)
);
insert into invoice_number_sequences (series, next_value) values ('INV', 1);

create table invoices (
  id text primary key,
  -- number = 'INV-' || zero-padded sequence; sequence orders invoices beyond the padding's width
  sequence bigint not null unique,
  number text not null unique,
  customer_id text not null references customers (id),
  subscription_id text not null references subscriptions (id),
  period_index integer not null check (period_index >= 0),
  status text not null check (status in ('open', 'paid', 'void')),
  currency char(3) not null,
  subtotal numeric(30, 6) not null,
  total numeric(30, 6) not null,
  amount_paid numeric(30, 6) not null default 0,
  amount_due numeric(30, 6) not null,
  period_start timestamptz not null,
  period_end timestamptz not null,
  issued_at timestamptz not null,
  paid_at timestamptz,
  revenue_recognized_at timestamptz,
  created_at timestamptz not null default now(),
  -- the idempotency key of issuing: one invoice per subscription period, however often it is retried
  unique (subscription_id, period_index),
  check (amount_paid >= 0 and amount_due >= 0 and amount_paid + amount_due = total),
  check (period_end > period_start)
);
create index invoices_customer_idx on invoices (customer_id, created_at);

create table invoice_lines (
  id text primary key,
  invoice_id text not null references invoices (id),
  position integer not null,
  description text not null,
  quantity numeric(30, 6) not null,
  unit_amount numeric(30, 6) not null,
  amount numeric(30, 6) not null,
  period_start timestamptz not null,
  period_end timestamptz not null,
  unique (invoice_id, position)
);

create table payments (
  id text primary key,
  invoice_id text not null references invoices (id),
  amount numeric(30, 6) not null check (amount > 0),
  currency char(3) not null,
  method text not null check (method in ('manual')),
  reference text,
  received_at timestamptz not null,
  created_at timestamptz not null default now()
);
create index payments_invoice_idx on payments (invoice_id);

create table ledger_accounts (
  code text primary key,
  name text not null,
  type text not null check (type in ('asset', 'liability', 'revenue', 'expense', 'equity'))
);
insert into ledger_accounts (code, name, type) values
  ('accounts_receivable', 'Accounts receivable', 'asset'),
  ('cash', 'Cash', 'asset'),
  ('deferred_revenue', 'Deferred revenue', 'liability'),
  ('revenue', 'Revenue', 'revenue');

create table ledger_transactions (
  id text primary key,
  idempotency_key text not null unique,
  description text not null,
  currency char(3) not null,
  customer_id text references customers (id),
  invoice_id text references invoices (id),
  effective_at timestamptz not null,
  created_at timestamptz not null default now()
);

create table ledger_entries (
  id bigserial primary key,
  transaction_id text not null references ledger_transactions (id),
  account_code text not null references ledger_accounts (code),
  direction text not null check (direction in ('debit', 'credit')),
  amount numeric(30, 6) not null check (amount > 0)
);
create index ledger_entries_transaction_idx on ledger_entries (transaction_id);
create index ledger_entries_account_idx on ledger_entries (account_code);

-- Checked at commit, once all entries of a transaction are in: at least two entries, and debits equal
-- credits. Fired by the transaction row too, so a transaction without entries cannot commit.
create function ledger_check_transaction(tx_id text) returns void language plpgsql as $$
declare
  debits numeric;
  credits numeric;
  entry_count integer;
begin
  select coalesce(sum(amount) filter (where direction = 'debit'), 0),
         coalesce(sum(amount) filter (where direction = 'credit'), 0),
         count(*)
    into debits, credits, entry_count
    from ledger_entries where transaction_id = tx_id;
  if entry_count < 2 then
    raise exception 'ledger transaction % has % entries; at least two are required', tx_id, entry_count;
  end if;
  if debits <> credits then
    raise exception 'ledger transaction % does not balance: debits %, credits %', tx_id, debits, credits;
  end if;
end $$;

create function ledger_entry_must_balance() returns trigger language plpgsql as $$
begin
  perform ledger_check_transaction(new.transaction_id);
  return null;
end $$;

create function ledger_transaction_must_balance() returns trigger language plpgsql as $$
begin
  perform ledger_check_transaction(new.id);
  return null;
end $$;

create constraint trigger ledger_entries_balance
  after insert on ledger_entries deferrable initially deferred
  for each row execute function ledger_entry_must_balance();
create constraint trigger ledger_transactions_balance
  after insert on ledger_transactions deferrable initially deferred
  for each row execute function ledger_transaction_must_balance();

create function ledger_is_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'the ledger is append-only: % on % is not allowed; post a correcting transaction instead', tg_op, tg_table_name;
end $$;

create trigger ledger_entries_append_only before update or delete on ledger_entries
  for each row execute function ledger_is_append_only();
create trigger ledger_transactions_append_only before update or delete on ledger_transactions
  for each row execute function ledger_is_append_only();
create trigger ledger_entries_no_truncate before truncate on ledger_entries
  for each statement execute function ledger_is_append_only();
create trigger ledger_transactions_no_truncate before truncate on ledger_transactions
  for each statement execute function ledger_is_append_only();

-- Stored responses of POST requests that carried an Idempotency-Key header.
create table idempotency_keys (
  principal text not null,
  key text not null,
  method text not null,
  path text not null,
  request_hash text not null,
  status_code integer,
  response_body jsonb,
  created_at timestamptz not null default now(),
  primary key (principal, key)
);
`);
  }
}
