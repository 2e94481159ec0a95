import express, { Router } from 'express';
import type Stripe from 'stripe';
import { fromMinorUnits, recordCardPayment } from '../../db/collection-store';
import { Invoice } from '../../db/entities/invoice';
import { forkEm } from '../../db/orm';
import { collectionPaid } from '../collection-signals';
import type { ApiDeps } from '../deps';

const answer = (res: express.Response, status: number, code: string, message: string) => res.status(status).json({ error: { type: 'invalid_request_error', code, message } });

/**
 * POST /webhooks/stripe. The signature is checked on the raw body with Stripe's tolerance (5
 * minutes): a missing, forged or stale signature is a 400 and changes nothing. Processing is
 * idempotent (a payment is recorded once per PaymentIntent), so a duplicate, a late or an
 * out-of-order event is harmless and answered 200; `stripe_events` logs each event once.
 */
export function stripeWebhooksRouter({ orm, temporal, stripe }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

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
    if (event.type === 'payment_intent.succeeded') {
      const intent = event.data.object as Stripe.PaymentIntent;
      const invoiceId = intent.metadata?.invoice_id;
      const invoice = invoiceId ? await em().findOne(Invoice, { id: invoiceId }) : null;
      if (!invoice) {
        outcome = 'unknown_object';
        console.warn(`stripe event ${event.id}: PaymentIntent ${intent.id} names no invoice of ours; acknowledged`);
      } else {
        const { newlyPaid } = await recordCardPayment(em(), {
          invoiceId: invoice.id,
          paymentIntentId: intent.id,
          amount: fromMinorUnits(intent.amount_received || intent.amount, invoice.currency),
          fee: null,
          receivedAt: new Date(event.created * 1000),
        });
        outcome = newlyPaid ? 'invoice_paid' : 'already_recorded';
        await collectionPaid(temporal, invoice.id, 'stripe_webhook');
      }
    } else if (event.type === 'payment_intent.payment_failed' || event.type === 'payment_intent.requires_action') {
      // The charge activity already has Stripe's answer; the event only confirms it.
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
