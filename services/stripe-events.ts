import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type Stripe from 'stripe';
import { completePendingRefunds } from '../db/adjustment-store';
import { fromMinorUnits, recordCardPayment } from '../db/collection-store';
import { Invoice } from '../db/entities/invoice';
import { BillingError } from '../domain/errors';
import type { StripeGateway } from '../payments/stripe-gateway';
import { collectionPaid } from './collection-signals';
import { logger } from '../observability/logger';

/**
 * A succeeded PaymentIntent, as Stripe has it now (the payload is only a hint: a late or replayed
 * event may describe an older state, and its amount is read from Stripe, not trusted). Recorded
 * once against the invoice its metadata names; what the invoice no longer needs is refunded.
 * The portal's "Complete payment" records through here too, so a webhook for the same intent,
 * before or after it, records nothing more.
 */
export async function recordSucceededIntent(
  em: EntityManager,
  temporal: Client,
  gateway: StripeGateway,
  intentId: string,
  event: { id: string; receivedAt: Date; source: string },
): Promise<string> {
  const intent = await gateway.retrieve(intentId);
  const invoiceId = intent.metadata?.invoice_id;
  const invoice = invoiceId ? await em.findOne(Invoice, { id: invoiceId }) : null;
  if (!invoice) {
    logger.warn({ stripeEventId: event.id, paymentIntentId: intent.id }, 'stripe event: the PaymentIntent names no invoice of ours; acknowledged');
    return 'unknown_object';
  }
  if (intent.status !== 'succeeded') return `not_succeeded:${intent.status}`;
  try {
    const { newlyPaid } = await recordCardPayment(em, {
      invoiceId: invoice.id,
      paymentIntentId: intent.id,
      amount: fromMinorUnits(intent.amount_received || intent.amount, invoice.currency),
      currency: intent.currency,
      fee: null,
      receivedAt: event.receivedAt,
    });
    await collectionPaid(temporal, invoice.id, event.source);
    // Not acknowledged until Stripe has taken the refund of an excess payment: Stripe sends the
    // event again, which asks again; nothing else would once the invoice's collection has ended.
    if ((await completePendingRefunds(em, gateway, invoice.id)) > 0) {
      throw new BillingError('api_error', 'refund_pending', `a refund of invoice ${invoice.number} is still pending; Stripe did not take it yet`);
    }
    return newlyPaid ? 'invoice_paid' : 'already_recorded';
  } catch (error) {
    // A payment in another currency than its invoice cannot be applied however often Stripe resends it.
    if (error instanceof BillingError && error.code === 'currency_mismatch') {
      logger.error({ stripeEventId: event.id, err: error }, `stripe event: ${error.message}`);
      return 'currency_mismatch';
    }
    throw error;
  }
}

/**
 * Processes a verified Stripe event and logs it once in `stripe_events`. Idempotent: a payment is
 * recorded once per PaymentIntent, so a duplicate, late or out-of-order event is harmless.
 */
export async function handleStripeEvent(em: EntityManager, temporal: Client, gateway: StripeGateway, event: Stripe.Event): Promise<{ duplicate: boolean; outcome: string }> {
  let outcome = 'ignored';
  const object = event.data.object as { id?: string; metadata?: Record<string, string> };
  if (event.type === 'payment_intent.succeeded') {
    outcome = await recordSucceededIntent(em, temporal, gateway, (event.data.object as Stripe.PaymentIntent).id, { id: event.id, receivedAt: new Date(event.created * 1000), source: 'stripe_webhook' });
  } else if (event.type === 'payment_intent.payment_failed' || event.type === 'payment_intent.requires_action' || event.type === 'payment_intent.canceled') {
    // The charge activity reads the intent from Stripe itself; the event only confirms it.
    outcome = 'noted';
  }
  const inserted = await em.execute<Array<{ id: string }>>(
    `insert into stripe_events (id, type, object_id, outcome) values (?, ?, ?, ?) on conflict (id) do nothing returning id`,
    [event.id, event.type, object.id ?? null, outcome],
  );
  return { duplicate: inserted.length === 0, outcome };
}
