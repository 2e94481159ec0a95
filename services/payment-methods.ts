import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import { Customer } from '../db/entities/customer';
import { Invoice } from '../db/entities/invoice';
import { BillingError } from '../domain/errors';
import type { StripeGateway } from '../payments/stripe-gateway';
import { collectionPaymentMethodUpdated } from './collection-signals';
import { customerOf } from './lookups';

/** The customer as Stripe knows it, created there on first use. */
async function stripeCustomer(em: EntityManager, gateway: StripeGateway | null, id: string) {
  if (!gateway) throw new BillingError('state_error', 'stripe_not_configured', 'Card payments need STRIPE_SECRET_KEY; without it invoices are paid by recording payments');
  const customer = await customerOf(em, id);
  if (!customer.stripeCustomerId) {
    customer.stripeCustomerId = await gateway.ensureCustomer(customer);
    await em.nativeUpdate(Customer, { id: customer.id }, { stripeCustomerId: customer.stripeCustomerId });
  }
  return { customer, gateway, stripeCustomerId: customer.stripeCustomerId };
}

/** A SetupIntent whose client secret lets the customer's browser collect a card. */
export async function createSetupIntent(em: EntityManager, gateway: StripeGateway | null, customerId: string) {
  const { customer, gateway: stripe, stripeCustomerId } = await stripeCustomer(em, gateway, customerId);
  return { customer, intent: await stripe.setupIntent(stripeCustomerId) };
}

/** Makes a card the customer's default and tries it at once on every invoice still being collected. */
export async function attachPaymentMethod(em: EntityManager, gateway: StripeGateway | null, temporal: Client, customerId: string, paymentMethod: string) {
  const { customer, gateway: stripe, stripeCustomerId } = await stripeCustomer(em, gateway, customerId);
  const attached = await stripe.attachPaymentMethod(stripeCustomerId, paymentMethod);
  await em.nativeUpdate(Customer, { id: customer.id }, { defaultPaymentMethod: attached });
  customer.defaultPaymentMethod = attached;
  const open = await em.find(Invoice, { customerId: customer.id, status: { $in: ['open', 'uncollectible'] } });
  for (const invoice of open) await collectionPaymentMethodUpdated(temporal, invoice.id);
  return { customer, attached, retried: open.map((i) => i.id) };
}
