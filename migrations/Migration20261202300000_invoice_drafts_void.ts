import { Migration } from '@mikro-orm/migrations';

/**
 * Draft invoices and void.
 *
 * - invoices.sequence and number: null while the invoice is a draft. A number is taken when the
 *   invoice is finalised, in the finalising transaction, so numbering stays gapless however many
 *   drafts are created or abandoned. A void invoice keeps its number.
 * - invoices.status gains 'draft'; finalized_at is when it was numbered and posted (issued_at for
 *   every invoice before drafts: they were finalised as they were issued); auto_finalizes_at is a
 *   draft's grace end; voided_at when it was voided.
 * - customers.invoice_grace_period_days: renewal invoices wait as drafts this long (0: none).
 * - customer_balance_transactions kind 'invoice_voided': customer credit spent on an invoice that
 *   is voided goes back to the customer, once per invoice.
 * - revenue_obligations.voided_at: the obligation of a voided invoice recognises nothing from then
 *   on; it stays open (not completed) with what it had recognised, which the void reversed.
 */
export class Migration20261202300000_invoice_drafts_void extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table invoices alter column sequence drop not null;
alter table invoices alter column number drop not null;
alter table invoices drop constraint invoices_status_check;
alter table invoices add constraint invoices_status_check check (status in ('draft', 'open', 'paid', 'void', 'uncollectible'));
alter table invoices add column finalized_at timestamptz;
update invoices set finalized_at = issued_at;
alter table invoices add column auto_finalizes_at timestamptz;
alter table invoices add column voided_at timestamptz;
update invoices set voided_at = created_at where status = 'void';
alter table invoices add constraint invoices_draft_check check (
  (status = 'draft') = (number is null)
  and (number is null) = (sequence is null)
  and (number is null) = (finalized_at is null)
  and (auto_finalizes_at is null or status = 'draft' or finalized_at is not null)
  and (status = 'void') = (voided_at is not null)
);

alter table customers add column invoice_grace_period_days integer not null default 0
  check (invoice_grace_period_days between 0 and 90);

alter table customer_balance_transactions drop constraint customer_balance_transactions_kind_check;
alter table customer_balance_transactions add constraint customer_balance_transactions_kind_check
  check (kind in ('proration_credit', 'applied_to_invoice', 'credit_note', 'overpayment', 'invoice_voided'));
drop index customer_balance_transactions_once_per_invoice;
create unique index customer_balance_transactions_once_per_invoice on customer_balance_transactions (invoice_id, kind)
  where kind in ('proration_credit', 'applied_to_invoice', 'invoice_voided');

alter table revenue_obligations add column voided_at timestamptz;
alter table revenue_obligations drop constraint revenue_obligations_check1;
alter table revenue_obligations add constraint revenue_obligations_completed_check
  check (voided_at is not null or (completed_at is not null) = (recognized_revenue = revenue and recognized_discount = discount));
drop index revenue_obligations_open_idx;
create index revenue_obligations_open_idx on revenue_obligations (issued_at) where completed_at is null and voided_at is null;
`);
  }
}
