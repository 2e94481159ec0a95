import { Migration } from '@mikro-orm/migrations';

/**
 * Ratable revenue recognition: every fee line (a service period billed in advance) is a performance
 * obligation, recognised day by day (or by the millisecond, or month by month) over its service
 * period by the revenue recognition workflow, instead of in one lump when the period ends.
 *
 * `revenue` is the line's amount net of tax included in it; `discount` what coupons took off it.
 * `recognized_*` say how much of each has been posted to the ledger so far; an obligation is open
 * until both are whole (`completed_at`). `revenue_recognition_periods` records each day (or month)
 * the workflow has posted, including those that had nothing to post, so a re-run skips them.
 *
 * Back-fill: one obligation per existing fee line. Invoices recognised by the old lump posting
 * (`revenue_recognized_at` set) have theirs fully recognised. The others stay open with a discount of
 * 0: their issue posting already debited the whole discount to `discounts`, so only the revenue
 * remains to move from deferred revenue to revenue.
 */
export class Migration20261201000000_revenue_recognition extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
create table revenue_obligations (
  id text primary key,
  invoice_line_id text not null unique references invoice_lines (id),
  invoice_id text not null references invoices (id),
  customer_id text not null references customers (id),
  currency char(3) not null,
  service_start timestamptz not null,
  service_end timestamptz not null,
  issued_at timestamptz not null,
  revenue numeric(30, 6) not null,
  discount numeric(30, 6) not null,
  recognized_revenue numeric(30, 6) not null default 0,
  recognized_discount numeric(30, 6) not null default 0,
  recognized_through timestamptz,
  completed_at timestamptz,
  created_at timestamptz not null default now(),
  check (service_end >= service_start),
  check ((completed_at is not null) = (recognized_revenue = revenue and recognized_discount = discount))
);
create index revenue_obligations_open_idx on revenue_obligations (issued_at) where completed_at is null;
create index revenue_obligations_invoice_idx on revenue_obligations (invoice_id);

create table revenue_recognition_periods (
  period text primary key,
  method text not null check (method in ('daily', 'millisecond', 'monthly')),
  period_start timestamptz not null,
  period_end timestamptz not null,
  obligations integer not null,
  transactions integer not null,
  posted_at timestamptz not null default now(),
  check (period_end > period_start)
);
create index revenue_recognition_periods_end_idx on revenue_recognition_periods (period_end);

insert into revenue_obligations
  (id, invoice_line_id, invoice_id, customer_id, currency, service_start, service_end, issued_at,
   revenue, discount, recognized_revenue, recognized_discount, recognized_through, completed_at)
select 'rob_' || substr(md5(l.id), 1, 24), l.id, i.id, i.customer_id, i.currency, l.period_start, l.period_end, i.issued_at,
       r.revenue, 0,
       case when i.revenue_recognized_at is null then 0 else r.revenue end, 0,
       i.revenue_recognized_at,
       case when i.revenue_recognized_at is not null or r.revenue = 0 then coalesce(i.revenue_recognized_at, i.issued_at) end
  from invoice_lines l
  join invoices i on i.id = l.invoice_id
  cross join lateral (
    select case when exists (select from jsonb_array_elements(i.taxes) t where (t->>'inclusive')::boolean)
                then l.amount - l.tax_amount else l.amount end as revenue
  ) r
 where l.kind = 'fee';
`);
  }
}
