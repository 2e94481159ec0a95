import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { attachPaymentMethod, createSetupIntent } from '../../services/payment-methods';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { AttachPaymentMethodBody } from '../schemas/customers';
import { paymentMethodAttachedJson, setupIntentJson } from '../serializers';
import { parse } from '../validation';

/**
 * Cards, through Stripe: a SetupIntent's client secret for the customer's browser to collect one,
 * or (test mode, and for cards collected elsewhere) a payment method id to attach. A new card is
 * tried at once on every invoice still being collected.
 */
export function paymentMethodsRouter({ orm, temporal, stripe }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();
  const gateway = stripe?.gateway ?? null;

  router.post('/:id/setup_intents', allow('admin', 'support'), async (req, res) => {
    const { customer, intent } = await createSetupIntent(em(), gateway, String(req.params.id));
    res.status(201).json(setupIntentJson(intent, customer.id));
  });

  router.post('/:id/payment_methods', allow('admin', 'support'), async (req, res) => {
    const body = parse(AttachPaymentMethodBody, req.body);
    const { customer, attached, retried } = await attachPaymentMethod(em(), gateway, temporal, String(req.params.id), body.payment_method);
    res.status(201).json(paymentMethodAttachedJson(customer, attached, retried));
  });

  return router;
}
