import express, { Router } from 'express';
import type Stripe from 'stripe';
import { completePendingRefunds } from '../../db/adjustment-store';
import { fromMinorUnits, recordCardPayment } from '../../db/collection-store';
import { BillingError } from '../../domain/errors';
import { Invoice } from '../../db/entities/invoice';
import { forkEm } from '../../db/orm';
import { collectionPaid } from '../collection-signals';
import type { ApiDeps } from '../deps';

const answer = (res: express.Response, status: number, code: string, message: string) => res.status(status).json({ error: { type: 'invalid_request_error', code, message } });

/**
 * POST /webhooks/stripe. The signature is checked on the raw body with Stripe's tolerance (5
 * minutes): a missing, forged or stale signature is a 400 and changes nothing. Processing is
 * idempotent (a payment is recorded once per PaymentIntent, read from Stripe rather than from the
 * payload), so a duplicate, a late or an out-of-order event is harmless and answered 200; an event
 * that could not be processed (Stripe or Postgres unreachable) is a 500, which Stripe retries.
 * `stripe_events` logs each event once.
 */
export function stripeWebhooksRouter({ orm, temporal, stripe }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  /**
   * A succeeded PaymentIntent, as Stripe has it now (the payload is only a hint: a late or replayed
   * event may describe an older state, and its amount is read from Stripe, not trusted). Recorded
   * once against the invoice its metadata names; what the invoice no longer needs is refunded.
   */
  async function paymentSucceeded(intentId: string, event: Stripe.Event): Promise<string> {
    if (!stripe) return 'ignored';
    const intent = await stripe.gateway.retrieve(intentId);
    const invoiceId = intent.metadata?.invoice_id;
    const invoice = invoiceId ? await em().findOne(Invoice, { id: invoiceId }) : null;
    if (!invoice) {
      console.warn(`stripe event ${event.id}: PaymentIntent ${intent.id} names no invoice of ours; acknowledged`);
      return 'unknown_object';
    }
    if (intent.status !== 'succeeded') return `not_succeeded:${intent.status}`;
    try {
      const { newlyPaid } = await recordCardPayment(em(), {
        invoiceId: invoice.id,
        paymentIntentId: intent.id,
        amount: fromMinorUnits(intent.amount_received || intent.amount, invoice.currency),
        currency: intent.currency,
        fee: null,
        receivedAt: new Date(event.created * 1000),
      });
      await collectionPaid(temporal, invoice.id, 'stripe_webhook');
      // Not acknowledged until Stripe has taken the refund of an excess payment: Stripe sends the
      // event again, which asks again; nothing else would once the invoice's collection has ended.
      if ((await completePendingRefunds(em(), stripe.gateway, invoice.id)) > 0) {
        throw new BillingError('api_error', 'refund_pending', `a refund of invoice ${invoice.number} is still pending; Stripe did not take it yet`);
      }
      return newlyPaid ? 'invoice_paid' : 'already_recorded';
    } catch (error) {
      // A payment in another currency than its invoice cannot be applied however often Stripe resends it.
      if (error instanceof BillingError && error.code === 'currency_mismatch') {
        console.error(`stripe event ${event.id}: ${error.message}`);
        return 'currency_mismatch';
      }
      throw error;
    }
  }

  router.post('/', express.raw({ type: '*/*', limit: '1mb' }), async (req, res) => {
    if (!stripe?.webhookSecret) return answer(res, 404, 'webhooks_not_configured', 'STRIPE_WEBHOOK_SECRET is not set; this endpoint takes no events');
    const signature = req.get('stripe-signature');
    if (!signature) return answer(res, 400, 'signature_missing', 'The Stripe-Signature header is missing');
    let event: Stripe.Event;
    try {
      event = stripe.gateway.stripe.webhooks.constructEvent(req.body as Buffer, signature, stripe.webhookSecret);
    } catch (error) {
      return answer(res, 400, 'signature_invalid', `The Stripe-Signature does not verify: ${error instanceof Error ? error.message : String(error)}`);
    }

    let outcome = 'ignored';
    const object = event.data.object as { id?: string; metadata?: Record<string, string> };
    if (event.type === 'payment_intent.succeeded') outcome = await paymentSucceeded((event.data.object as Stripe.PaymentIntent).id, event);
    else if (event.type === 'payment_intent.payment_failed' || event.type === 'payment_intent.requires_action' || event.type === 'payment_intent.canceled') {
      // The charge activity reads the intent from Stripe itself; the event only confirms it.
      outcome = 'noted';
    }
    const inserted = await em().execute<Array<{ id: string }>>(
      `insert into stripe_events (id, type, object_id, outcome) values (?, ?, ?, ?) on conflict (id) do nothing returning id`,
      [event.id, event.type, object.id ?? null, outcome],
    );
    res.json({ received: true, duplicate: inserted.length === 0, outcome });
  });

  return router;
}
