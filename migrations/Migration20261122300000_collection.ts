import { Migration } from '@mikro-orm/migrations';

/**
 * Collecting the money: Stripe customers and payment methods, one row per charge attempt (keyed by
 * invoice and attempt, as the Stripe idempotency key is), Stripe webhook events processed once, an
 * e-mail outbox, signed provisioning webhooks (suspend, resume), refunds and credit notes.
 */
export class Migration20261122300000_collection extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table customers add column stripe_customer_id text unique;
alter table customers add column default_payment_method text;

-- Days after the first failed charge at which it is retried (Stripe's smart retries spread 8 tries over 2 weeks).
alter table plans add column dunning_schedule integer[] not null default '{1,3,5,7}'
  check (array_length(dunning_schedule, 1) between 1 and 20 and 0 < all (dunning_schedule));

alter table subscriptions drop constraint subscriptions_status_check;
alter table subscriptions add constraint subscriptions_status_check
  check (status in ('scheduled', 'trialing', 'active', 'past_due', 'suspended', 'paused', 'canceled'));

alter table invoices drop constraint invoices_status_check;
alter table invoices add constraint invoices_status_check check (status in ('open', 'paid', 'void', 'uncollectible'));
alter table invoices add column amount_refunded numeric(30, 6) not null default 0 check (amount_refunded >= 0);
alter table invoices add column amount_credited numeric(30, 6) not null default 0 check (amount_credited >= 0);
alter table invoices add column written_off_at timestamptz;
-- What an invoice asks is paid, due, covered by credit, or taken off by a credit note.
alter table invoices drop constraint invoices_amounts_check;
alter table invoices add constraint invoices_amounts_check
  check (amount_paid >= 0 and amount_due >= 0 and amount_paid + amount_due + credit_applied + amount_credited = greatest(total, 0));

alter table payments drop constraint payments_method_check;
alter table payments add constraint payments_method_check check (method in ('manual', 'card'));
alter table payments add column stripe_payment_intent_id text unique;
alter table payments add column fee numeric(30, 6) check (fee >= 0);

create table payment_attempts (
  id text primary key,
  invoice_id text not null references invoices (id),
  attempt integer not null check (attempt >= 1),
  -- Sent to Stripe: a retried activity confirms the same PaymentIntent, never a second one.
  idempotency_key text not null unique,
  amount numeric(30, 6) not null,
  currency char(3) not null,
  status text not null check (status in ('pending', 'succeeded', 'failed', 'requires_action')),
  payment_intent_id text,
  failure_code text,
  decline_code text,
  failure_message text,
  hard_decline boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (invoice_id, attempt)
);

create table stripe_events (
  id text primary key,
  type text not null,
  object_id text,
  outcome text not null,
  received_at timestamptz not null default now()
);

create table email_outbox (
  id text primary key,
  -- Derived from the business fact (invoice and attempt, say): the same message is queued once.
  idempotency_key text not null unique,
  customer_id text references customers (id),
  to_address text not null,
  template text not null,
  subject text not null,
  body text not null,
  -- sending: claimed by a sender; if it dies mid-send the message stays here, not sent twice.
  status text not null check (status in ('pending', 'sending', 'sent', 'failed', 'unknown')),
  attempts integer not null default 0,
  last_error text,
  message_id text not null,
  created_at timestamptz not null default now(),
  sent_at timestamptz
);
create index email_outbox_pending_idx on email_outbox (created_at) where status = 'pending';

create table provisioning_events (
  id text primary key,
  idempotency_key text not null unique,
  subscription_id text not null references subscriptions (id),
  type text not null check (type in ('subscription.suspended', 'subscription.resumed')),
  payload jsonb not null,
  status text not null check (status in ('pending', 'delivered', 'failed')),
  attempts integer not null default 0,
  last_error text,
  created_at timestamptz not null default now(),
  delivered_at timestamptz
);

create table refunds (
  id text primary key,
  invoice_id text not null references invoices (id),
  payment_id text not null references payments (id),
  amount numeric(30, 6) not null check (amount > 0),
  currency char(3) not null,
  reason text,
  idempotency_key text not null unique,
  stripe_refund_id text unique,
  created_at timestamptz not null default now()
);

create table credit_notes (
  id text primary key,
  number text not null unique,
  invoice_id text not null references invoices (id),
  customer_id text not null references customers (id),
  amount numeric(30, 6) not null check (amount > 0),
  currency char(3) not null,
  -- reduce_due: takes the amount off what the open invoice asks; customer_balance: credit for later invoices.
  kind text not null check (kind in ('reduce_due', 'customer_balance')),
  reason text,
  idempotency_key text not null unique,
  created_at timestamptz not null default now()
);
insert into invoice_number_sequences (series, next_value) values ('CN', 1);

alter table customer_balance_transactions drop constraint customer_balance_transactions_kind_check;
alter table customer_balance_transactions add constraint customer_balance_transactions_kind_check
  check (kind in ('proration_credit', 'applied_to_invoice', 'credit_note', 'overpayment'));

insert into ledger_accounts (code, name, type) values
  ('stripe_clearing', 'Stripe clearing', 'asset'),
  ('stripe_fees', 'Payment processing fees', 'expense'),
  ('bad_debt', 'Bad debt', 'expense'),
  ('refunds', 'Refunds', 'revenue'),
  ('credit_notes', 'Credit notes', 'revenue');
`);
  }
}
