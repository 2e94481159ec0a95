import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { Customer } from '../db/entities/customer';
import { Invoice } from '../db/entities/invoice';
import type { Plan } from '../db/entities/plan';
import { Subscription } from '../db/entities/subscription';
import { planSnapshot } from '../db/plan-snapshot';
import { latestPlan } from '../db/plan-store';
import { createPortalSession, portalLink, type PortalSession } from '../db/portal-sessions';
import { cachedSigningSecret } from '../db/signing-secrets';
import type { CancellationDetails } from '../domain/cancellation';
import { BillingError } from '../domain/errors';
import type Stripe from 'stripe';
import { StripeRequestRefused, type StripeGateway } from '../payments/stripe-gateway';
import { changePlanUpdate } from '../workflows/messages';
import type { Seller } from '../domain/invoice-document';
import { customerBalance } from './customers';
import { invoiceCollection } from './invoice-collection-state';
import { invoicePdf } from './invoice-pdf';
import { invoiceWithLines, listInvoices, type InvoiceWithLines } from './invoices';
import { customerOf } from './lookups';
import { attachPaymentMethod, createSetupIntent } from './payment-methods';
import { previewPlanChange, type PlanChangePreview } from './preview-plan-change';
import { recordSucceededIntent } from './stripe-events';
import { cancelSubscription, changeSubscription, getSubscription, type SubscriptionView } from './subscriptions';

/**
 * What the customer portal may read and do, always for the customer its verified session names.
 * Every invoice and subscription asked for by id is checked to belong to that customer; one that
 * does not is answered exactly as one that does not exist, so an id from another account tells the
 * visitor nothing. The actions are the services the API calls (cancel, change plan, cards), with
 * the narrower choices a customer is given: cancel at period end only, plans the operator offers.
 */

/** Where a portal link may send the customer back to: a web page, nothing else (no javascript:). */
export function checkReturnUrl(value: string | null | undefined): string | null {
  if (value === null || value === undefined || value === '') return null;
  let protocol = '';
  try {
    protocol = new URL(value).protocol;
  } catch {
    // Not a URL at all: refused below.
  }
  if (protocol !== 'http:' && protocol !== 'https:') throw new BillingError('invalid_request_error', 'return_url_invalid', `return_url must be an http or https URL, got "${value}"`, 'return_url');
  return value;
}

/** The key portal links are signed with, read from Postgres once per process. */
export const portalSigningSecret = (em: () => EntityManager): (() => Promise<Buffer>) => cachedSigningSecret(em, 'portal_sessions');

/** A portal link for the customer (support gives it out, or sends it): valid for an hour. */
export async function openPortalSession(
  em: EntityManager,
  secret: Buffer,
  request: { customerId: string; returnUrl?: string | null; publicUrl: string },
): Promise<{ session: PortalSession; url: string }> {
  const returnUrl = checkReturnUrl(request.returnUrl);
  const customer = await customerOf(em, request.customerId);
  const { session, token } = await createPortalSession(em, secret, { customerId: customer.id, returnUrl });
  return { session, url: portalLink(request.publicUrl, token) };
}

const notFound = (what: string, id: string) => new BillingError('not_found_error', 'resource_missing', `No such ${what}: '${id}'`, 'id');

/** The customer's invoice, or "no such invoice" when it is another customer's, a draft, or none at all. */
export async function portalInvoice(em: EntityManager, customerId: string, invoiceId: string): Promise<InvoiceWithLines> {
  const invoice = await em.findOne(Invoice, { id: invoiceId, customerId });
  // A draft is not the customer's to see until it is finalised (it may still change).
  if (!invoice || invoice.status === 'draft') throw notFound('invoice', invoiceId);
  return invoiceWithLines(em, invoice.id);
}

/** The customer's subscription, read live from its workflow; "no such subscription" otherwise. */
export async function portalSubscription(em: EntityManager, temporal: Client, customerId: string, subscriptionId: string): Promise<SubscriptionView> {
  const owned = await em.findOne(Subscription, { id: subscriptionId, customerId });
  if (!owned) throw notFound('subscription', subscriptionId);
  return getSubscription(em, temporal, owned.id);
}

/** The customer's invoices, newest first, drafts left out. */
export async function portalInvoices(em: EntityManager, customerId: string, limit = 100): Promise<InvoiceWithLines[]> {
  const page = await listInvoices(em, { customerId }, { limit });
  return page.data.filter(({ invoice }) => invoice.status !== 'draft');
}

export interface AmountByCurrency {
  currency: string;
  amount: string;
}

export interface PortalHome {
  customer: Customer;
  /** Open invoices with something left to pay, oldest due first. */
  due: Invoice[];
  /** What the open invoices ask for, in the customer's currency (services/customers.ts customerBalance). */
  amountDue: AmountByCurrency[];
  /** Credit the customer holds, taken off its next invoices; empty when none. */
  credit: AmountByCurrency[];
  /** Subscriptions not canceled, each read live from its workflow. */
  subscriptions: SubscriptionView[];
}

/** The portal's first page: what is due, the credit held, and the subscriptions running. */
export async function portalHome(em: EntityManager, temporal: Client, customerId: string): Promise<PortalHome> {
  const balance = await customerBalance(em, customerId);
  const due = (await em.find(Invoice, { customerId, status: 'open' }, { orderBy: { dueAt: 'asc', id: 'asc' } })).filter((i) => i.amountDue.gt(0));
  const running = await em.find(Subscription, { customerId, status: { $ne: 'canceled' } }, { orderBy: { createdAt: 'asc', id: 'asc' } });
  const subscriptions = await Promise.all(running.map((s) => getSubscription(em, temporal, s.id)));
  const currency = balance.customer.currency;
  return {
    customer: balance.customer,
    due,
    amountDue: balance.amountDue.gt(0) ? [{ currency, amount: balance.amountDue.toFixed() }] : [],
    credit: balance.creditBalance.gt(0) ? [{ currency, amount: balance.creditBalance.toFixed() }] : [],
    subscriptions: subscriptions.filter((v) => (v.live?.status ?? v.subscription.status) !== 'canceled'),
  };
}

/** Cancels at the end of the period already paid for, with the customer's reason. */
export async function portalCancel(em: EntityManager, temporal: Client, customerId: string, subscriptionId: string, details: CancellationDetails): Promise<SubscriptionView> {
  const { subscription } = await portalSubscription(em, temporal, customerId, subscriptionId);
  return cancelSubscription(em, temporal, subscription.id, { at: 'period_end', details });
}

/**
 * The plans a subscription may move to from the portal: the operator's list (PORTAL_PLAN_CODES),
 * newest version of each, in the subscription's currency, other than the one it is on.
 */
export async function portalPlanChoices(em: EntityManager, view: SubscriptionView, offered: readonly string[]): Promise<Plan[]> {
  const currentCode = view.live?.plan?.code ?? view.plan.code;
  const plans: Plan[] = [];
  for (const code of offered) {
    const plan = await latestPlan(em, code);
    if (plan && plan.code !== currentCode && plan.currency === view.plan.currency) plans.push(plan);
  }
  return plans;
}

async function offeredPlan(em: EntityManager, view: SubscriptionView, offered: readonly string[], code: string): Promise<Plan> {
  const plan = (await portalPlanChoices(em, view, offered)).find((p) => p.code === code);
  if (!plan) throw new BillingError('invalid_request_error', 'plan_not_offered', 'This plan cannot be chosen here; choose one of the plans listed.', 'plan_code');
  return plan;
}

/** The customer's own subscription and the plan they chose, refused unless the operator offers it. */
async function offeredChange(em: EntityManager, temporal: Client, customerId: string, subscriptionId: string, offered: readonly string[], planCode: string) {
  const view = await portalSubscription(em, temporal, customerId, subscriptionId);
  return { view, next: await offeredPlan(em, view, offered, planCode) };
}

/** A plan change now, prorated, as the API previews it: what it would bill; changes nothing. */
export async function portalPreviewPlanChange(
  em: EntityManager,
  temporal: Client,
  customerId: string,
  subscriptionId: string,
  offered: readonly string[],
  planCode: string,
): Promise<PlanChangePreview> {
  const { view, next } = await offeredChange(em, temporal, customerId, subscriptionId, offered, planCode);
  return previewPlanChange(em, temporal, view.subscription.id, next, { at: 'now', proration: 'prorate' });
}

/** Applies the plan change the customer previewed (now, prorated), through the workflow's update. */
export async function portalChangePlan(
  em: EntityManager,
  temporal: Client,
  customerId: string,
  subscriptionId: string,
  offered: readonly string[],
  planCode: string,
): Promise<SubscriptionView> {
  const { view, next } = await offeredChange(em, temporal, customerId, subscriptionId, offered, planCode);
  return changeSubscription(em, temporal, view.subscription.id, changePlanUpdate, () => ({ plan: planSnapshot(next), at: 'now', proration: 'prorate' }));
}

export interface PortalCard {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

/** The card invoices are charged to, as the customer knows it; null when there is none (or no Stripe). */
export async function portalCard(em: EntityManager, gateway: StripeGateway | null, customerId: string): Promise<PortalCard | null> {
  const customer = await customerOf(em, customerId);
  if (!gateway || !customer.defaultPaymentMethod) return null;
  return gateway.cardOf(customer.defaultPaymentMethod);
}

/** A SetupIntent for the customer's browser to collect a new card with Stripe.js. */
export async function portalSetupIntent(em: EntityManager, gateway: StripeGateway | null, customerId: string): Promise<{ id: string; clientSecret: string }> {
  const { intent } = await createSetupIntent(em, gateway, customerId);
  return intent;
}

/**
 * Makes the card a SetupIntent collected the customer's default, once Stripe says the intent
 * succeeded for this customer (the browser only says which intent); open invoices are retried with it.
 */
export async function portalCompleteSetup(em: EntityManager, gateway: StripeGateway | null, temporal: Client, customerId: string, setupIntentId: string): Promise<PortalCard | null> {
  const customer = await customerOf(em, customerId);
  if (!gateway || !customer.stripeCustomerId) throw new BillingError('state_error', 'stripe_not_configured', 'Cards are not taken here.');
  const card = /^seti_\w+$/.test(setupIntentId) ? await gateway.setupIntentCard(setupIntentId, customer.stripeCustomerId) : null;
  if (!card) throw new BillingError('invalid_request_error', 'setup_intent_incomplete', 'The card was not confirmed; enter it again.', 'card');
  const { attached } = await attachPaymentMethod(em, gateway, temporal, customer.id, card);
  return gateway.cardOf(attached);
}


/** The PDF of the customer's invoice, the same bytes as the API's; "no such invoice" for anyone else's. */
export async function portalInvoicePdf(em: EntityManager, customerId: string, invoiceId: string, seller?: Seller): Promise<{ fileName: string; bytes: Buffer }> {
  const { invoice } = await portalInvoice(em, customerId, invoiceId);
  return invoicePdf(em, invoice.id, seller);
}

/**
 * The PaymentIntent an open invoice's latest card attempt left waiting for the customer's
 * authentication (3-D Secure), as the collection recorded it; null when none waits.
 */
async function intentAwaitingCustomer(em: EntityManager, temporal: Client, invoice: Invoice): Promise<string | null> {
  if (invoice.status !== 'open' || !invoice.amountDue.gt(0)) return null;
  const latest = (await invoiceCollection(em, temporal, invoice.id)).attempts.at(-1);
  return latest?.status === 'requires_action' ? latest.paymentIntentId : null;
}

/** Which of the customer's invoices wait for the customer to complete a card payment (shown as "Complete payment"). */
export async function portalInvoicesAwaitingPayment(em: EntityManager, temporal: Client, customerId: string, invoices: Invoice[]): Promise<Set<string>> {
  const waiting = new Set<string>();
  for (const invoice of invoices) {
    if (invoice.customerId === customerId && (await intentAwaitingCustomer(em, temporal, invoice))) waiting.add(invoice.id);
  }
  return waiting;
}

/**
 * The intent a Stripe PaymentIntent id names, when it is the one collection made for this invoice
 * of this customer (its metadata names the invoice, its Stripe customer is the customer's); null otherwise.
 */
async function intentOfInvoice(em: EntityManager, gateway: StripeGateway, customerId: string, invoice: Invoice, paymentIntentId: string): Promise<Stripe.PaymentIntent | null> {
  const customer = await customerOf(em, customerId);
  if (!customer.stripeCustomerId || !/^pi_\w+$/.test(paymentIntentId)) return null;
  const intent = await gateway.retrieve(paymentIntentId).catch((error: unknown) => {
    if (error instanceof StripeRequestRefused) return null;
    throw error;
  });
  const owner = typeof intent?.customer === 'string' ? intent.customer : (intent?.customer?.id ?? null);
  return intent && intent.metadata?.invoice_id === invoice.id && owner === customer.stripeCustomerId ? intent : null;
}

export interface PortalPaymentAction {
  invoice: Invoice;
  paymentIntentId: string;
  /** For Stripe.js in the customer's browser; read from Stripe for this invoice's own intent only. */
  clientSecret: string;
}

/**
 * What the customer's browser needs to complete the card payment of their invoice that waits for
 * authentication; null when it waits for nothing (paid, or no attempt asks for it). Another
 * customer's invoice is "no such invoice".
 */
export async function portalPaymentAction(em: EntityManager, temporal: Client, gateway: StripeGateway | null, customerId: string, invoiceId: string): Promise<PortalPaymentAction | null> {
  const { invoice } = await portalInvoice(em, customerId, invoiceId);
  const intentId = gateway ? await intentAwaitingCustomer(em, temporal, invoice) : null;
  if (!gateway || !intentId) return null;
  const intent = await intentOfInvoice(em, gateway, customerId, invoice, intentId);
  if (!intent?.client_secret || (intent.status !== 'requires_action' && intent.status !== 'requires_confirmation')) return null;
  return { invoice, paymentIntentId: intent.id, clientSecret: intent.client_secret };
}

/**
 * Records the payment the customer's browser completed, once Stripe says that intent, one of this
 * invoice's collection attempts, succeeded: through the webhook's own recording (one payment per
 * intent), so a payment_intent.succeeded event before or after, or a second post, records nothing more.
 */
export async function portalCompletePayment(
  em: EntityManager,
  temporal: Client,
  gateway: StripeGateway | null,
  customerId: string,
  invoiceId: string,
  paymentIntentId: string,
): Promise<{ invoice: Invoice; newlyPaid: boolean }> {
  const { invoice } = await portalInvoice(em, customerId, invoiceId);
  if (!gateway) throw new BillingError('state_error', 'stripe_not_configured', 'Cards are not taken here.');
  const ours = (await invoiceCollection(em, temporal, invoice.id)).attempts.some((a) => a.paymentIntentId === paymentIntentId);
  const intent = ours ? await intentOfInvoice(em, gateway, customerId, invoice, paymentIntentId) : null;
  if (!intent || intent.status !== 'succeeded') {
    throw new BillingError('invalid_request_error', 'payment_not_completed', 'The payment was not completed; authenticate it again with your bank.', 'payment_intent');
  }
  const outcome = await recordSucceededIntent(em, temporal, gateway, intent.id, { id: `portal:${invoice.id}`, receivedAt: new Date(), source: 'customer_portal' });
  return { invoice: await em.fork().findOneOrFail(Invoice, { id: invoice.id }), newlyPaid: outcome === 'invoice_paid' };
}
