import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import Decimal from 'decimal.js';
import { AddOn, SubscriptionAddOn } from '../db/entities/add-on';
import { findPage, type Page, type PageRequest } from '../db/pagination';
import { Invoice, type InvoiceLine } from '../db/entities/invoice';
import { newId } from '../db/ids';
import { attachAddOn, billedForPeriod, removeAddOn, subscriptionAddOns, type AttachBilling, type ServedPeriod } from '../db/subscription-add-on-store';
import { isRecurring, sameCadenceAs } from '../domain/add-ons';
import { BillingError } from '../domain/errors';
import type { Subscription } from '../db/entities/subscription';
import { addOnOf } from './add-ons';
import { assertStorableAmount } from './amounts';
import { startCollection } from './invoice-collection';
import { withLines } from './invoices';
import type { Phase } from './phases';
import { liveState, loadSubscription } from './subscription-state';

export interface AttachedAddOn {
  item: SubscriptionAddOn;
  addOn: AddOn;
}

export interface AddOnChange extends AttachedAddOn {
  /** What it billed or credited at once, if anything. */
  invoice: { invoice: Invoice; lines: InvoiceLine[] } | null;
}

type Deps = { em: EntityManager; temporal: Client; taskQueue: string };

/** The add-ons a subscription has now (recurring ones not removed, one-time ones not billed yet), oldest first. */
export async function currentAddOns(em: EntityManager, subscriptionId: string): Promise<AttachedAddOn[]> {
  return subscriptionAddOns(em, [subscriptionId], true);
}

/** Every add-on ever attached to the subscription, removed and billed ones included, oldest first. */
export async function addOnHistory(em: EntityManager, subscriptionId: string, page: PageRequest): Promise<Page<AttachedAddOn>> {
  await loadSubscription(em, subscriptionId);
  const found = await findPage(em, SubscriptionAddOn, { subscriptionId }, { keys: ['addedAt', 'id'], direction: 'asc', noun: 'subscription add-on' }, page);
  const addOns = new Map((found.data.length ? await em.find(AddOn, { id: [...new Set(found.data.map((i) => i.addOnId))] }) : []).map((a) => [a.id, a]));
  return { ...found, data: found.data.map((item) => ({ item, addOn: addOns.get(item.addOnId)! })) };
}

/**
 * The period whose fee the subscription has billed and is serving at `at`, if it is billing (an
 * active or past-due subscription): only then does an add-on change mid-period bill or credit. The
 * workflow's own state says so best (its period and the basis a short first calendar period is
 * prorated over); the stored row, kept by the workflow a moment later, answers when it cannot.
 */
async function servedPeriod(deps: Deps, subscription: Subscription, at: Date): Promise<ServedPeriod | null> {
  const state = await liveState(deps.temporal, subscription.workflowId);
  if (!['active', 'past_due', 'suspended'].includes(state?.status ?? subscription.status)) return null;
  const start = state?.currentPeriod ? new Date(state.currentPeriod.start) : subscription.currentPeriodStart;
  const end = state?.currentPeriod ? new Date(state.currentPeriod.end) : subscription.currentPeriodEnd;
  if (!start || !end) return null;
  if (at < start || at >= end) {
    throw new BillingError(
      'invalid_request_error',
      'invalid_date',
      `at must lie in the subscription's current period, ${start.toISOString()} to ${end.toISOString()} (default: now)`,
      'at',
    );
  }
  const basis = state?.periodBasis ? { start: new Date(state.periodBasis.start), end: new Date(state.periodBasis.end) } : { start, end };
  return { span: { start, end }, basis };
}

async function collected(deps: Deps, invoice: Invoice | null): Promise<AddOnChange['invoice']> {
  if (!invoice) return null;
  await startCollection(deps.temporal, deps.taskQueue, invoice);
  const [found] = await withLines(deps.em, [invoice]);
  return found;
}

/**
 * Attaches an add-on to a subscription. A recurring one must bill on the plan's cadence; with
 * `bill: 'now'` (its default) the rest of the current period is invoiced at once (prorated), and it
 * rides every renewal from the next. A one-time one is billed on the subscription's next invoice
 * (its default) or at once, on an invoice of its own.
 */
export async function attachToSubscription(
  deps: Deps,
  subscriptionId: string,
  input: { addOnCode: string; quantity: string; bill?: 'now' | 'next_invoice'; at?: Date },
  phase: Phase,
): Promise<AddOnChange> {
  const { em } = deps;
  const { subscription, plan } = await loadSubscription(em, subscriptionId);
  if (subscription.status === 'canceled') throw new BillingError('state_error', 'subscription_canceled', `subscription ${subscription.id} is canceled`);
  const addOn = await addOnOf(em, input.addOnCode, 'add_on_code');
  if (addOn.currency !== plan.currency) {
    throw new BillingError('invalid_request_error', 'currency_mismatch', `Add-on ${addOn.code} is priced in ${addOn.currency} but subscription ${subscription.id} is billed in ${plan.currency}`, 'add_on_code');
  }
  const recurring = isRecurring(addOn);
  if (recurring && !sameCadenceAs(addOn, plan)) {
    throw new BillingError(
      'invalid_request_error',
      'add_on_interval_mismatch',
      `Add-on ${addOn.code} bills every ${addOn.intervalCount} ${addOn.interval} but subscription ${subscription.id}'s plan ${plan.code} bills every ${plan.intervalCount} ${plan.interval}; a recurring add-on must bill on its subscription's cadence`,
      'add_on_code',
    );
  }
  assertStorableAmount(input.quantity, 'quantity');
  const bill = input.bill ?? (recurring ? 'now' : 'next_invoice');
  const reserved = await phase<{ itemId: string; now: string }>('add_on_reserved', (record) => record(null, { itemId: newId('si'), now: new Date().toISOString() }));
  const at = input.at ?? new Date(reserved.now);
  const period = await servedPeriod(deps, subscription, at);
  const billing: AttachBilling = bill === 'next_invoice' ? null : recurring ? (period ? { kind: 'prorate', period } : null) : { kind: 'once' };
  const attached = await phase<{ itemId: string; invoiceId: string | null }>('add_on_attached', async (record) => {
    const { item, invoice } = await attachAddOn(em, { itemId: reserved.itemId, subscriptionId: subscription.id, customerId: subscription.customerId, addOn, quantity: new Decimal(input.quantity), addedAt: at, billing });
    await record(null, { itemId: item.id, invoiceId: invoice?.id ?? null });
  });
  const [found] = (await subscriptionAddOns(em, [subscription.id], false)).filter((a) => a.item.id === attached.itemId);
  const invoice = attached.invoiceId ? await em.findOneOrFail(Invoice, { id: attached.invoiceId }) : null;
  return { ...found, invoice: await collected(deps, invoice) };
}

/**
 * Removes an add-on at `at` (default now). A recurring one billed for the current period has the
 * unused part credited at once (customer credit, as a plan change's proration); a one-time one not
 * billed yet is simply never billed.
 */
export async function removeFromSubscription(deps: Deps, subscriptionId: string, itemId: string, input: { at?: Date }, phase: Phase): Promise<AddOnChange> {
  const { em } = deps;
  const { subscription } = await loadSubscription(em, subscriptionId);
  const [attached] = (await subscriptionAddOns(em, [subscription.id], false)).filter((a) => a.item.id === itemId);
  if (!attached) throw new BillingError('not_found_error', 'resource_missing', `No such add-on on subscription ${subscription.id}: '${itemId}'`, 'item_id');
  const removed = await phase<{ invoiceId: string | null }>('add_on_removed', async (record) => {
    if (attached.item.removedAt) throw new BillingError('state_error', 'add_on_removed', `add-on ${itemId} was removed on ${attached.item.removedAt.toISOString()}`);
    const at = input.at ?? new Date();
    if (at < attached.item.addedAt) throw new BillingError('invalid_request_error', 'invalid_date', `at must not be before the add-on was attached (${attached.item.addedAt.toISOString()})`, 'at');
    const period = subscription.status === 'canceled' ? null : await servedPeriod(deps, subscription, at);
    const creditPeriod = period && isRecurring(attached.addOn) && (await billedForPeriod(em, attached.item, period.span.start)) ? period : null;
    const { invoice } = await removeAddOn(em, { itemId, customerId: subscription.customerId, removedAt: at, creditPeriod });
    await record(null, { invoiceId: invoice?.id ?? null });
  });
  const [found] = (await subscriptionAddOns(em.fork(), [subscription.id], false)).filter((a) => a.item.id === itemId);
  const invoice = removed.invoiceId ? await em.findOneOrFail(Invoice, { id: removed.invoiceId }) : null;
  return { ...found, invoice: await collected(deps, invoice) };
}
