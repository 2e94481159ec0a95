import { Router } from 'express';
import { z } from 'zod';
import { Customer } from '../../db/entities/customer';
import { Invoice } from '../../db/entities/invoice';
import { forkEm } from '../../db/orm';
import { BillingError } from '../../domain/errors';
import { allow } from '../auth';
import { collectionPaymentMethodUpdated } from '../collection-signals';
import type { ApiDeps } from '../deps';
import { customerJson } from '../serializers';
import { parse } from '../validation';

export const AttachPaymentMethod = z.object({ payment_method: z.string().regex(/^pm_[A-Za-z0-9_]+$/, 'must be a Stripe payment method id such as "pm_card_visa"') }).strict();

/**
 * Cards, through Stripe: a SetupIntent's client secret for the customer's browser to collect one,
 * or (test mode, and for cards collected elsewhere) a payment method id to attach. A new card is
 * tried at once on every invoice still being collected.
 */
export function paymentMethodsRouter({ orm, temporal, stripe }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  async function stripeCustomer(id: string) {
    if (!stripe) throw new BillingError('state_error', 'stripe_not_configured', 'Card payments need STRIPE_SECRET_KEY; without it invoices are paid by recording payments');
    const customer = await em().findOne(Customer, { id });
    if (!customer) throw new BillingError('not_found_error', 'resource_missing', `No such customer: '${id}'`, 'id');
    if (!customer.stripeCustomerId) {
      customer.stripeCustomerId = await stripe.gateway.ensureCustomer(customer);
      await em().nativeUpdate(Customer, { id: customer.id }, { stripeCustomerId: customer.stripeCustomerId });
    }
    return { customer, gateway: stripe.gateway, stripeCustomerId: customer.stripeCustomerId };
  }

  router.post('/:id/setup_intents', allow('admin', 'support'), async (req, res) => {
    const { customer, gateway, stripeCustomerId } = await stripeCustomer(String(req.params.id));
    const intent = await gateway.setupIntent(stripeCustomerId);
    res.status(201).json({ object: 'setup_intent', id: intent.id, customer_id: customer.id, client_secret: intent.clientSecret });
  });

  router.post('/:id/payment_methods', allow('admin', 'support'), async (req, res) => {
    const body = parse(AttachPaymentMethod, req.body);
    const { customer, gateway, stripeCustomerId } = await stripeCustomer(String(req.params.id));
    const attached = await gateway.attachPaymentMethod(stripeCustomerId, body.payment_method);
    await em().nativeUpdate(Customer, { id: customer.id }, { defaultPaymentMethod: attached });
    customer.defaultPaymentMethod = attached;
    const open = await em().find(Invoice, { customerId: customer.id, status: { $in: ['open', 'uncollectible'] } });
    for (const invoice of open) await collectionPaymentMethodUpdated(temporal, invoice.id);
    res.status(201).json({ ...customerJson(customer), default_payment_method: attached, retried_invoices: open.map((i) => i.id) });
  });

  return router;
}
