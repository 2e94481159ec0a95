import express, { Router } from 'express';
import type Stripe from 'stripe';
import { forkEm } from '../../db/orm';
import { BillingError } from '../../domain/errors';
import { handleStripeEvent } from '../../services/stripe-events';
import type { ApiDeps } from '../deps';
import { stripeEventJson } from '../serializers';

/**
 * POST /webhooks/stripe. The signature is checked on the raw body with Stripe's tolerance (5
 * minutes): a missing, forged or stale signature is a 400 and changes nothing. Processing is
 * idempotent (a payment is recorded once per PaymentIntent, read from Stripe rather than from the
 * payload), so a duplicate, a late or an out-of-order event is harmless and answered 200; an event
 * that could not be processed (Stripe or Postgres unreachable) is a 5xx, which Stripe retries.
 * Errors are answered by the app's one error mapping (api/errors.ts).
 */
export function stripeWebhooksRouter({ orm, temporal, stripe }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/', express.raw({ type: '*/*', limit: '1mb' }), async (req, res) => {
    if (!stripe?.webhookSecret) throw new BillingError('not_found_error', 'webhooks_not_configured', 'STRIPE_WEBHOOK_SECRET is not set; this endpoint takes no events');
    const signature = req.get('stripe-signature');
    if (!signature) throw new BillingError('invalid_request_error', 'signature_missing', 'The Stripe-Signature header is missing');
    let event: Stripe.Event;
    try {
      event = stripe.gateway.stripe.webhooks.constructEvent(req.body as Buffer, signature, stripe.webhookSecret);
    } catch (error) {
      throw new BillingError('invalid_request_error', 'signature_invalid', `The Stripe-Signature does not verify: ${error instanceof Error ? error.message : String(error)}`);
    }
    res.json(stripeEventJson(await handleStripeEvent(em(), temporal, stripe.gateway, event)));
  });

  return router;
}
