import { Migration } from '@mikro-orm/migrations';

/**
 * Payment terms and the prices MRR is read from.
 *
 * - customers.net_terms_days: days a customer has to pay; each invoice copies it (days_until_due)
 *   when it is issued, and due_at = issued_at + days_until_due. Invoices from before this migration
 *   were due on issue, so they get 0 days and due_at = issued_at.
 * - invoice_lines.plan_id, price_amount, price_interval, price_interval_count: the plan a fee line
 *   bills and its full-period price, whatever share of the period the line covers (a proration or a
 *   credit still names the whole price), so MRR needs no plan history.
 *
 * Back-fill of fee lines stored before this migration: a line names its plan in its description
 * ("<plan name>", "<plan name> from … (prorated)", "Unused time on <plan name> from …"). Among the
 * plans of that name and of the invoice's currency that existed when the invoice was stored, a whole-period
 * line takes the plan whose amount equals its own, then the subscription's plan, then the newest
 * version. A line no plan matches keeps null prices; the MRR report counts such lines in
 * `unpriced_fee_lines` and leaves them out, and this migration raises a notice with their number.
 */
export class Migration20261201200000_payment_terms extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
alter table customers add column net_terms_days integer not null default 0 check (net_terms_days between 0 and 365);

alter table invoices add column days_until_due integer not null default 0 check (days_until_due between 0 and 365);
alter table invoices add column due_at timestamptz;
update invoices set due_at = issued_at + make_interval(days => days_until_due);
alter table invoices alter column due_at set not null;
alter table invoices add constraint invoices_due_at_check check (due_at >= issued_at);
-- AR aging reads open invoices only.
create index invoices_open_due_idx on invoices (currency, due_at) where status = 'open';

alter table invoice_lines add column plan_id text references plans (id);
alter table invoice_lines add column price_amount numeric(30, 6) check (price_amount >= 0);
alter table invoice_lines add column price_interval text check (price_interval in ('day', 'week', 'month', 'year'));
alter table invoice_lines add column price_interval_count integer check (price_interval_count between 1 and 1000);
alter table invoice_lines add constraint invoice_lines_price_check check (
  (price_amount is null and price_interval is null and price_interval_count is null)
  or (kind = 'fee' and price_amount is not null and price_interval is not null and price_interval_count is not null)
);
-- MRR at a month end: the fee lines whose period covers it.
create index invoice_lines_fee_period_idx on invoice_lines (period_start, period_end) where kind = 'fee';

update invoice_lines l
set plan_id = matched.plan_id
from (
  select l2.id,
    (select p.id
       from plans p
      where p.currency = i.currency
        and p.created_at <= i.created_at
        and (l2.description = p.name
             or left(l2.description, length(p.name) + 6) = p.name || ' from '
             or left(l2.description, length(p.name) + 21) = 'Unused time on ' || p.name || ' from ')
      order by (l2.description = p.name and l2.amount = p.amount) desc, (p.id = s.plan_id) desc, p.created_at desc, p.id
      limit 1) as plan_id
  from invoice_lines l2
  join invoices i on i.id = l2.invoice_id
  join subscriptions s on s.id = i.subscription_id
  where l2.kind = 'fee'
) matched
where matched.id = l.id and matched.plan_id is not null;

update invoice_lines l
set price_amount = p.amount, price_interval = p.interval, price_interval_count = p.interval_count
from plans p
where p.id = l.plan_id;

do $$
declare unmatched integer;
begin
  select count(*) into unmatched from invoice_lines where kind = 'fee' and plan_id is null;
  if unmatched > 0 then
    raise notice '% fee line(s) name no plan of their currency; they keep no price and MRR leaves them out', unmatched;
  end if;
end
$$;
`);
  }
}
