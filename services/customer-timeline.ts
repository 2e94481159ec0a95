import type { EntityManager } from '@mikro-orm/postgresql';
import type { Page, PageRequest } from '../db/pagination';
import { BillingError } from '../domain/errors';
import { displayAmount } from '../domain/money';
import { customerOf } from './lookups';

/** What a timeline event points at: the resource a support person opens to see more. */
export const TIMELINE_RESOURCES = ['customer', 'subscription', 'invoice', 'wallet', 'email'] as const;
export type TimelineResource = (typeof TIMELINE_RESOURCES)[number];

export const TIMELINE_EVENT_TYPES = [
  'customer.created',
  'subscription.created',
  'subscription.plan_changed',
  'subscription.paused',
  'subscription.canceled',
  'invoice.drafted',
  'invoice.issued',
  'invoice.paid',
  'invoice.voided',
  'invoice.marked_uncollectible',
  'payment.succeeded',
  'payment.failed',
  'payment.requires_action',
  'refund.created',
  'credit_note.issued',
  'credit.granted',
  'credit.applied',
  'wallet.credited',
  'wallet.debited',
  'email.sent',
  'email.failed',
  'email.queued',
] as const;

export type TimelineEventType = (typeof TIMELINE_EVENT_TYPES)[number];

export interface TimelineEvent {
  /** `<type>:<source row id>`: stable, so it serves as a list cursor. */
  id: string;
  type: TimelineEventType;
  occurredAt: Date;
  summary: string;
  resource: { object: TimelineResource; id: string };
}

interface EventRow {
  id: string;
  type: TimelineEventType;
  occurred_at: Date | string;
  object: TimelineResource;
  resource_id: string;
  amount: string | null;
  currency: string | null;
  label: string | null;
  detail: string | null;
}

/**
 * Every table that records something happening to a customer, as one list of rows of the same
 * shape. Each branch reads one fact from the table that owns it (no copy of the history is kept),
 * so the timeline can never disagree with the invoices, payments or e-mails it summarises.
 */
const EVENTS_SQL = `
select 'customer.created:' || c.id as id, 'customer.created' as type, c.created_at as occurred_at, 'customer' as object, c.id as resource_id,
       null::text as amount, c.currency::text as currency, c.name as label, null::text as detail
  from customers c where c.id = :customer
union all
select 'subscription.created:' || s.id, 'subscription.created', s.created_at, 'subscription', s.id, p.amount::text, p.currency::text, p.name, p.code || ' v' || p.version
  from subscriptions s join plans p on p.id = s.plan_id where s.customer_id = :customer
union all
select 'subscription.paused:' || s.id, 'subscription.paused', s.paused_at, 'subscription', s.id, null, null, p.name, null
  from subscriptions s join plans p on p.id = s.plan_id where s.customer_id = :customer and s.paused_at is not null
union all
select 'subscription.canceled:' || s.id, 'subscription.canceled', s.canceled_at, 'subscription', s.id, null, null, p.name, null
  from subscriptions s join plans p on p.id = s.plan_id where s.customer_id = :customer and s.canceled_at is not null
union all
select 'subscription.plan_changed:' || i.id, 'subscription.plan_changed', i.created_at, 'subscription', i.subscription_id, i.total::text, i.currency::text, i.number, null
  from invoices i where i.customer_id = :customer and i.billing_key like 'change:%'
union all
select 'invoice.drafted:' || i.id, 'invoice.drafted', i.created_at, 'invoice', i.id, i.total::text, i.currency::text, i.number, null
  from invoices i where i.customer_id = :customer and (i.status = 'draft' or i.finalized_at > i.created_at)
union all
select 'invoice.issued:' || i.id, 'invoice.issued', coalesce(i.finalized_at, i.issued_at), 'invoice', i.id, i.total::text, i.currency::text, i.number, i.billing_reason
  from invoices i where i.customer_id = :customer and i.status <> 'draft'
union all
select 'invoice.paid:' || i.id, 'invoice.paid', i.paid_at, 'invoice', i.id, i.total::text, i.currency::text, i.number, null
  from invoices i where i.customer_id = :customer and i.paid_at is not null
union all
select 'invoice.voided:' || i.id, 'invoice.voided', i.voided_at, 'invoice', i.id, i.total::text, i.currency::text, i.number, null
  from invoices i where i.customer_id = :customer and i.voided_at is not null
union all
select 'invoice.marked_uncollectible:' || i.id, 'invoice.marked_uncollectible', i.written_off_at, 'invoice', i.id, i.amount_due::text, i.currency::text, i.number, null
  from invoices i where i.customer_id = :customer and i.written_off_at is not null
union all
select 'payment.succeeded:' || pm.id, 'payment.succeeded', pm.received_at, 'invoice', i.id, pm.amount::text, pm.currency::text, i.number, pm.method
  from payments pm join invoices i on i.id = pm.invoice_id where i.customer_id = :customer
union all
select (case a.status when 'failed' then 'payment.failed:' else 'payment.requires_action:' end) || a.id,
       case a.status when 'failed' then 'payment.failed' else 'payment.requires_action' end, a.updated_at, 'invoice', i.id, a.amount::text, a.currency::text, i.number,
       coalesce(a.decline_code, a.failure_code, a.failure_message)
  from payment_attempts a join invoices i on i.id = a.invoice_id where i.customer_id = :customer and a.status in ('failed', 'requires_action')
union all
select 'refund.created:' || r.id, 'refund.created', r.created_at, 'invoice', i.id, r.amount::text, r.currency::text, i.number, r.reason
  from refunds r join invoices i on i.id = r.invoice_id where i.customer_id = :customer
union all
select 'credit_note.issued:' || n.id, 'credit_note.issued', n.created_at, 'invoice', n.invoice_id, n.amount::text, n.currency::text, n.number, n.kind
  from credit_notes n where n.customer_id = :customer
union all
select (case when b.amount > 0 then 'credit.granted:' else 'credit.applied:' end) || b.id,
       case when b.amount > 0 then 'credit.granted' else 'credit.applied' end, b.created_at, 'invoice', b.invoice_id, abs(b.amount)::text, b.currency::text, i.number, b.kind
  from customer_balance_transactions b join invoices i on i.id = b.invoice_id where b.customer_id = :customer
union all
select (case when t.kind in ('purchased', 'granted', 'restored') then 'wallet.credited:' else 'wallet.debited:' end) || t.id,
       case when t.kind in ('purchased', 'granted', 'restored') then 'wallet.credited' else 'wallet.debited' end, t.created_at, 'wallet', w.id,
       t.amount::text, w.currency::text, coalesce(w.name, w.id), t.kind
  from wallet_transactions t join wallets w on w.id = t.wallet_id where w.customer_id = :customer and t.status <> 'failed'
union all
select (case e.status when 'sent' then 'email.sent:' when 'failed' then 'email.failed:' else 'email.queued:' end) || e.id,
       case e.status when 'sent' then 'email.sent' when 'failed' then 'email.failed' else 'email.queued' end, coalesce(e.sent_at, e.created_at), 'email', e.id,
       null, null, e.subject, e.to_address
  from email_outbox e where e.customer_id = :customer
`;

const REASONS: Record<string, string> = {
  subscription_cycle: 'renewal',
  subscription_update: 'plan change',
  subscription_pause: 'pause',
  subscription_cancel: 'cancellation',
  manual: 'one-off',
};

const amountOf = (row: EventRow): string => (row.amount !== null && row.currency ? displayAmount(row.amount, row.currency) : '');
const invoiceName = (row: EventRow): string => (row.label ? `Invoice ${row.label}` : 'Draft invoice');

/** One sentence a support person reads at a glance; amounts in the currency's own decimals. */
function summaryOf(row: EventRow): string {
  switch (row.type) {
    case 'customer.created':
      return `Customer ${row.label} created, billed in ${row.currency}`;
    case 'subscription.created':
      return `Subscribed to ${row.label} (${row.detail}) at ${amountOf(row)} per period`;
    case 'subscription.plan_changed':
      return `Subscription changed; ${invoiceName(row)} for ${amountOf(row)}`;
    case 'subscription.paused':
      return `Subscription to ${row.label} paused`;
    case 'subscription.canceled':
      return `Subscription to ${row.label} canceled`;
    case 'invoice.drafted':
      return `Draft invoice created for ${amountOf(row)}`;
    case 'invoice.issued':
      return `${invoiceName(row)} issued for ${amountOf(row)}${row.detail && REASONS[row.detail] ? ` (${REASONS[row.detail]})` : ''}`;
    case 'invoice.paid':
      return `${invoiceName(row)} paid`;
    case 'invoice.voided':
      return `${invoiceName(row)} voided`;
    case 'invoice.marked_uncollectible':
      return `${invoiceName(row)} marked uncollectible with ${amountOf(row)} unpaid`;
    case 'payment.succeeded':
      return `Payment of ${amountOf(row)} received on ${invoiceName(row)}${row.detail === 'card' ? ' by card' : row.detail === 'manual' ? ' (recorded by hand)' : ''}`;
    case 'payment.failed':
      return `Payment of ${amountOf(row)} on ${invoiceName(row)} failed${row.detail ? `: ${row.detail}` : ''}`;
    case 'payment.requires_action':
      return `Payment of ${amountOf(row)} on ${invoiceName(row)} needs the customer's authentication`;
    case 'refund.created':
      return `Refund of ${amountOf(row)} on ${invoiceName(row)}${row.detail ? ` (${row.detail})` : ''}`;
    case 'credit_note.issued':
      return `Credit note ${row.label} for ${amountOf(row)}${row.detail === 'customer_balance' ? ', added to the credit balance' : ''}`;
    case 'credit.granted':
      return `Credit of ${amountOf(row)} granted (${(row.detail ?? '').replace(/_/g, ' ')})`;
    case 'credit.applied':
      return `Credit of ${amountOf(row)} applied to ${invoiceName(row)}`;
    case 'wallet.credited':
      return `Wallet ${row.label}: ${amountOf(row)} ${row.detail ?? 'credited'}`;
    case 'wallet.debited':
      return `Wallet ${row.label}: ${amountOf(row)} ${row.detail ?? 'debited'}`;
    case 'email.sent':
      return `E-mail "${row.label}" sent to ${row.detail}`;
    case 'email.failed':
      return `E-mail "${row.label}" to ${row.detail} could not be sent`;
    case 'email.queued':
      return `E-mail "${row.label}" to ${row.detail} waiting to be sent`;
  }
}

/**
 * Everything that happened to a customer, newest first, paged like every list. The cursor is an
 * event's id; its place is compared in Postgres on (occurred_at, id), as db/pagination.ts does.
 */
export async function customerTimeline(em: EntityManager, customerId: string, page: PageRequest): Promise<Page<TimelineEvent>> {
  await customerOf(em, customerId);
  const events = `with events as (${EVENTS_SQL.replace(/:customer/g, '?')})`;
  const customerParams = Array<string>((EVENTS_SQL.match(/:customer/g) ?? []).length).fill(customerId);
  const backward = page.endingBefore !== undefined && page.startingAfter === undefined;
  const cursor = page.startingAfter ?? page.endingBefore;
  if (cursor !== undefined) {
    const [{ found }] = await em.execute<Array<{ found: boolean }>>(`${events} select exists (select 1 from events where id = ?) as found`, [...customerParams, cursor]);
    if (!found) throw new BillingError('invalid_request_error', 'resource_missing', `No such timeline event: '${cursor}'`, page.startingAfter !== undefined ? 'starting_after' : 'ending_before');
  }
  const order = backward ? 'asc' : 'desc';
  const rows = await em.execute<EventRow[]>(
    `${events} select e.* from events e
      where ${cursor === undefined ? 'true' : `(e.occurred_at, e.id) ${backward ? '>' : '<'} (select occurred_at, id from events where id = ?)`}
      order by e.occurred_at ${order}, e.id ${order} limit ?`,
    [...customerParams, ...(cursor === undefined ? [] : [cursor]), page.limit + 1],
  );
  const data = rows.slice(0, page.limit).map((row) => ({
    id: row.id,
    type: row.type,
    occurredAt: new Date(row.occurred_at),
    summary: summaryOf(row),
    resource: { object: row.object, id: row.resource_id },
  }));
  return { data: backward ? data.reverse() : data, hasMore: rows.length > page.limit };
}
