/**
 * The events Perennial tells other systems about (Stripe's and Lago's names). Each is written to the
 * outbox in the transaction of the fact it reports (db/events.ts) and delivered to every webhook
 * endpoint that asked for its type (or for "*").
 */
export const EVENT_TYPES = [
  'customer.created',
  'customer.updated',
  'subscription.created',
  'subscription.updated',
  'subscription.trial_will_end',
  'subscription.paused',
  'subscription.resumed',
  'subscription.past_due',
  'subscription.suspended',
  'subscription.canceled',
  'invoice.created',
  'invoice.finalized',
  'invoice.paid',
  'invoice.payment_failed',
  'invoice.voided',
  'invoice.marked_uncollectible',
  'payment.succeeded',
  'payment.failed',
  'refund.created',
  'credit_note.created',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export const isEventType = (value: string): value is EventType => (EVENT_TYPES as readonly string[]).includes(value);

/** Whether an endpoint subscribed to `subscribed` (event types, or ["*"]) wants an event of `type`. */
export const endpointWants = (subscribed: readonly string[], type: string): boolean => subscribed.includes('*') || subscribed.includes(type);
