import type { EntityManager } from '@mikro-orm/postgresql';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, type UpdateDefinition } from '@temporalio/common';
import { Plan } from '../db/entities/plan';
import { Subscription } from '../db/entities/subscription';
import { findPage, type PageRequest } from '../db/pagination';
import { subscriptionAddOns } from '../db/subscription-add-on-store';
import { BillingError } from '../domain/errors';
import type { InvoiceDraft } from '../domain/invoice';
import type { CancellationDetails } from '../domain/cancellation';
import type { SubscriptionState, SubscriptionStatus } from '../domain/subscription';
import { cancelUpdate, unscheduleUpdate } from '../workflows/messages';
import { contractOf, feeFor, invoiceScope, previewInvoice } from './preview-invoice';
import type { AttachedAddOn } from './subscription-add-ons';
import { liveState, loadSubscription, nextPeriodOf } from './subscription-state';

export interface SubscriptionView {
  subscription: Subscription;
  plan: Plan;
  /** As its workflow answered now; null when it could not (the row is then the answer). */
  live: SubscriptionState | null;
  /** The add-ons it has now. */
  addOns?: AttachedAddOn[];
}

export async function getSubscription(em: EntityManager, temporal: Client, id: string): Promise<SubscriptionView> {
  const { subscription, plan } = await loadSubscription(em, id);
  return { subscription, plan, live: await liveState(temporal, subscription.workflowId), addOns: await subscriptionAddOns(em, [subscription.id], true) };
}

/**
 * Newest first, as the database holds them (the state each workflow last mirrored): a list does
 * not ask every workflow. `planCode` matches every version of the plan.
 */
export async function listSubscriptions(em: EntityManager, filter: { customerId?: string; status?: SubscriptionStatus; planCode?: string }, page: PageRequest) {
  const planIds = filter.planCode ? (await em.find(Plan, { code: filter.planCode })).map((p) => p.id) : null;
  const where = {
    ...(filter.customerId ? { customerId: filter.customerId } : {}),
    ...(filter.status ? { status: filter.status } : {}),
    ...(planIds ? { planId: { $in: planIds } } : {}),
  };
  const found = await findPage(em, Subscription, where, { keys: ['createdAt', 'id'], direction: 'desc', noun: 'subscription' }, page);
  const plans = new Map((found.data.length ? await em.find(Plan, { id: found.data.map((s) => s.planId) }) : []).map((p) => [p.id, p]));
  const addOns = await subscriptionAddOns(em, found.data.map((s) => s.id), true);
  return {
    ...found,
    data: found.data.map((subscription): SubscriptionView => ({ subscription, plan: plans.get(subscription.planId)!, live: null, addOns: addOns.filter((a) => a.item.subscriptionId === subscription.id) })),
  };
}

export interface SubscriptionUsage {
  subscriptionId: string;
  currency: string;
  from: Date;
  to: Date;
  draft: InvoiceDraft;
}

/**
 * The usage not billed yet, and the next invoice as it would be issued if the period ended now
 * (fee of the next period, usage so far, minimum, coupons, taxes). Changes nothing.
 */
export async function subscriptionUsage(em: EntityManager, temporal: Client, id: string): Promise<SubscriptionUsage> {
  const { subscription, plan } = await loadSubscription(em, id);
  const live = await liveState(temporal, subscription.workflowId);
  const now = new Date();
  const ended = subscription.usageEndsAt ?? null;
  const until = ended && ended < now ? ended : now;
  const from = subscription.usageClosedUntil;
  const next = nextPeriodOf(live, plan, subscription);
  const contract = contractOf(subscription, live);
  const scope = invoiceScope({
    fees: next && !(live?.cancelAtPeriodEnd ?? subscription.cancelAtPeriodEnd) ? [feeFor(plan.id, next, next.start, next.end, contract.price)] : [],
    usage: { planId: plan.id, from, until, overrides: contract.overrides },
    wholePeriod: (live?.status ?? subscription.status) === 'active' && !ended,
    withCoupons: true,
    issue: { at: next?.start ?? until, renewal: next !== null },
  });
  return { subscriptionId: subscription.id, currency: plan.currency, from, to: until > from ? until : from, draft: await previewInvoice(em, subscription, scope) };
}

/**
 * A workflow update refused by its validator or failed by its handler carries our error code; it is
 * passed on as a state error, and api/errors.ts's table says which codes are the request's fault.
 */
export function fromUpdateFailure(error: unknown): BillingError | null {
  if (!(error instanceof WorkflowUpdateFailedError) || !(error.cause instanceof ApplicationFailure)) return null;
  return new BillingError('state_error', error.cause.type ?? 'update_rejected', error.cause.message);
}

/**
 * Sends a support action to the subscription's workflow as a Workflow Update: its validator refuses
 * what makes no sense (leaving no trace in its history), and the answer is the state the change
 * produced. `request` builds the update's argument from the stored subscription.
 */
/** Builds an update's argument from the stored subscription. */
export type UpdateArgument<A> = (s: Subscription, plan: Plan) => Promise<A> | A;

export async function changeSubscription<A>(
  em: EntityManager,
  temporal: Client,
  id: string,
  definition: UpdateDefinition<SubscriptionState, [A]>,
  request: UpdateArgument<A>,
): Promise<SubscriptionView> {
  const { subscription, plan } = await loadSubscription(em, id);
  if (subscription.status === 'canceled') throw new BillingError('state_error', 'subscription_canceled', `subscription ${subscription.id} is canceled`);
  const argument = await request(subscription, plan);
  try {
    const state = await temporal.workflow.getHandle(subscription.workflowId).executeUpdate(definition, { args: [argument] });
    await em.refresh(subscription).catch(() => undefined);
    return { subscription, plan, live: state, addOns: await subscriptionAddOns(em, [subscription.id], true) };
  } catch (error) {
    // A run on the workflow's first version has no handler for anything but cancel.
    if (error instanceof WorkflowUpdateFailedError && /No registered handler for update/.test(String(error.cause?.message))) {
      throw new BillingError(
        'state_error',
        'subscription_update_unavailable',
        `subscription ${subscription.id} still runs the workflow's first version, which only supports cancel; other changes are possible from its next renewal`,
      );
    }
    const rejection = fromUpdateFailure(error);
    if (rejection) throw rejection;
    if (error instanceof WorkflowNotFoundError) throw new BillingError('state_error', 'subscription_canceled', `subscription ${subscription.id} is canceled`);
    throw error;
  }
}

/** The id of the subscription's scheduled cancellation, to take it back. */
export function scheduledCancellation(subscription: Subscription): { changeId: string } {
  const scheduled = (subscription.scheduledChanges as Array<{ id: string; kind: string }>).find((c) => c.kind === 'cancel');
  if (!scheduled) throw new BillingError('state_error', 'cancellation_not_scheduled', `subscription ${subscription.id} has no scheduled cancellation`);
  return { changeId: scheduled.id };
}

/**
 * Cancels now, at period end or at an instant, through the workflow's update. The reason given is
 * kept on the subscription once the workflow has accepted the cancellation (a refused one records
 * nothing); the workflow never sees it.
 */
export async function cancelSubscription(
  em: EntityManager,
  temporal: Client,
  id: string,
  request: { at: string; prorate?: boolean; details?: CancellationDetails | null },
): Promise<SubscriptionView> {
  const view = await changeSubscription(em, temporal, id, cancelUpdate, () => ({ at: request.at, prorate: request.prorate }));
  if (request.details) {
    await em.nativeUpdate(Subscription, { id: view.subscription.id }, { cancellationReason: request.details.reason, cancellationComment: request.details.comment });
    view.subscription.cancellationReason = request.details.reason;
    view.subscription.cancellationComment = request.details.comment;
  }
  return view;
}

/**
 * Takes back one scheduled change. A cancellation taken back takes the reason given for it along:
 * the subscription is no longer leaving, so no reason for leaving stays on it.
 */
async function unschedule(em: EntityManager, temporal: Client, id: string, pick: (subscription: Subscription) => { changeId: string }): Promise<SubscriptionView> {
  let wasCancellation = false;
  const view = await changeSubscription(em, temporal, id, unscheduleUpdate, (subscription) => {
    const { changeId } = pick(subscription);
    wasCancellation = (subscription.scheduledChanges as Array<{ id: string; kind: string }>).some((c) => c.id === changeId && c.kind === 'cancel');
    return { changeId };
  });
  if (wasCancellation) {
    await em.nativeUpdate(Subscription, { id: view.subscription.id }, { cancellationReason: null, cancellationComment: null });
    view.subscription.cancellationReason = null;
    view.subscription.cancellationComment = null;
  }
  return view;
}

export const removeScheduledChange = (em: EntityManager, temporal: Client, id: string, changeId: string): Promise<SubscriptionView> => unschedule(em, temporal, id, () => ({ changeId }));

/** Takes back the scheduled cancellation. */
export const reactivateSubscription = (em: EntityManager, temporal: Client, id: string): Promise<SubscriptionView> => unschedule(em, temporal, id, scheduledCancellation);
