import { Migration } from '@mikro-orm/migrations';

/**
 * At most one successful charge per invoice, held by Postgres as well as by the code:
 * - an attempt stores its whole request (amount, Stripe customer, payment method) when it begins, so
 *   every retry sends Stripe the same request under the same idempotency key;
 * - one attempt per invoice may be in flight (pending, processing, or waiting for the customer): a
 *   new one begins only after the previous PaymentIntent has been cancelled or settled;
 * - one card payment per invoice is applied to it; money that arrives anyway (a customer finishing an
 *   old 3-D Secure page) is recorded as excess and refunded, through the `excess_payments` liability;
 * - a refund is reserved before Stripe is called and completed after, so Stripe is never called
 *   inside a database transaction, and a refund interrupted halfway is resumed, not repeated.
 * Also: credit notes and other customer-balance kinds may occur several times on one invoice, and a
 * subscription whose billing stopped on an error that retrying cannot fix shows `billing_error`.
 */
export class Migration20261130000000_one_charge_per_invoice extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table payment_attempts add column stripe_customer_id text;
alter table payment_attempts add column payment_method text;
alter table payment_attempts drop constraint payment_attempts_status_check;
alter table payment_attempts add constraint payment_attempts_status_check
  check (status in ('pending', 'processing', 'requires_action', 'succeeded', 'failed', 'canceled'));
create unique index payment_attempts_one_in_flight on payment_attempts (invoice_id) where status in ('pending', 'processing', 'requires_action');
create index payment_attempts_intent_idx on payment_attempts (payment_intent_id);

-- amount is what the customer paid; amount_excess the part the invoice did not need, returned.
alter table payments add column amount_excess numeric(30, 6) not null default 0 check (amount_excess >= 0);
alter table payments add constraint payments_excess_check check (amount_excess <= amount);
create unique index payments_one_card_payment on payments (invoice_id) where method = 'card' and amount_excess < amount;

-- requested: asked for through the API; excess: money the invoice did not need, returned automatically.
alter table refunds add column kind text not null default 'requested' check (kind in ('requested', 'excess'));
alter table refunds add column status text not null default 'succeeded' check (status in ('pending', 'succeeded', 'failed'));
alter table refunds add column failure_message text;
alter table refunds add column completed_at timestamptz;
create index refunds_pending_idx on refunds (invoice_id) where status = 'pending';

insert into ledger_accounts (code, name, type) values ('excess_payments', 'Excess payments to return', 'liability');

alter table customer_balance_transactions drop constraint customer_balance_transactions_invoice_id_kind_key;
create unique index customer_balance_transactions_once_per_invoice on customer_balance_transactions (invoice_id, kind)
  where kind in ('proration_credit', 'applied_to_invoice');

alter table subscriptions drop constraint subscriptions_status_check;
alter table subscriptions add constraint subscriptions_status_check
  check (status in ('scheduled', 'trialing', 'active', 'past_due', 'suspended', 'paused', 'canceled', 'billing_error'));
`);
  }
}
