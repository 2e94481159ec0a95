import { Router } from 'express';
import { z } from 'zod';
import { WorkflowIdConflictPolicy, WorkflowNotFoundError } from '@temporalio/client';
import { Customer } from '../../db/entities/customer';
import { Plan } from '../../db/entities/plan';
import { Subscription } from '../../db/entities/subscription';
import { newId } from '../../db/ids';
import { BillingError } from '../../domain/errors';
import { MAX_ELAPSED_PERIODS, positionAt, subscriptionTimeline } from '../../domain/timeline';
import { cancelUpdate, getStateQuery, subscriptionWorkflowId, type SubscriptionState, type SubscriptionWorkflowInput } from '../../workflows/messages';
import { CustomerIdKey, NextBillingAtKey, PlanCodeKey, SubscriptionStatusKey } from '../../workflows/search-attributes';
import { allow } from '../auth';
import { forkEm } from '../../db/orm';
import type { ApiDeps } from '../deps';
import { fromUpdateFailure } from '../errors';
import { draftInvoiceJson, subscriptionJson } from '../serializers';
import { computeInvoice } from '../../db/invoice-store';
import { tierPartsJson } from '../../domain/charge-properties';
import { decimalString, formatAmount } from '../../domain/money';
import { periodAt } from '../../domain/period';
import Decimal from 'decimal.js';
import { parse, timestampField } from '../validation';

const CreateSubscription = z
  .object({
    customer_id: z.string().min(1),
    plan_code: z.string().min(1),
    start_at: timestampField.optional(),
    external_id: z.string().min(1).max(255).optional(),
  })
  .strict();

const CancelSubscription = z.object({ at: z.enum(['now', 'period_end']) }).strict();

/** How long a read waits for the workflow before answering from the database. */
const QUERY_DEADLINE_MS = 5_000;

export function subscriptionsRouter({ orm, temporal, taskQueue }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  async function load(id: string): Promise<{ subscription: Subscription; plan: Plan }> {
    const subscription = await em().findOne(Subscription, { id });
    if (!subscription) throw new BillingError('not_found_error', 'resource_missing', `No such subscription: '${id}'`, 'id');
    const plan = await em().findOneOrFail(Plan, { id: subscription.planId });
    return { subscription, plan };
  }

  async function liveState(workflowId: string): Promise<SubscriptionState | null> {
    try {
      return await temporal.connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
        temporal.workflow.getHandle(workflowId).query(getStateQuery),
      );
    } catch (error) {
      console.warn(`query of ${workflowId} failed; answering from the database:`, error instanceof Error ? error.message : error);
      return null;
    }
  }

  router.post('/', allow('admin', 'support'), async (req, res) => {
    const body = parse(CreateSubscription, req.body);
    const customer = await em().findOne(Customer, { id: body.customer_id });
    if (!customer) throw new BillingError('invalid_request_error', 'resource_missing', `No such customer: '${body.customer_id}'`, 'customer_id');
    const plan = await em().findOne(Plan, { code: body.plan_code });
    if (!plan) throw new BillingError('invalid_request_error', 'resource_missing', `No such plan: '${body.plan_code}'`, 'plan_code');
    if (plan.currency !== customer.currency) {
      throw new BillingError(
        'invalid_request_error',
        'currency_mismatch',
        `Plan ${plan.code} is billed in ${plan.currency} but customer ${customer.id} pays in ${customer.currency}`,
        'plan_code',
      );
    }
    const now = new Date();
    const startAt = body.start_at ?? now;
    const timeline = subscriptionTimeline(startAt, plan.trialDays);
    const cadence = { interval: plan.interval, intervalCount: plan.intervalCount };
    const position = positionAt(startAt, timeline, cadence, now);
    if (position.elapsedPeriods > MAX_ELAPSED_PERIODS) {
      throw new BillingError(
        'invalid_request_error',
        'start_at_too_far_back',
        `start_at lies more than ${MAX_ELAPSED_PERIODS} ${plan.interval} periods in the past; at most ${MAX_ELAPSED_PERIODS} elapsed periods are billed at once`,
        'start_at',
      );
    }
    const id = newId('sub');
    const subscription = Object.assign(new Subscription(), {
      id,
      customerId: customer.id,
      planId: plan.id,
      status: position.status,
      startAt,
      trialEnd: timeline.trialEnd,
      billingAnchor: timeline.billingAnchor,
      currentPeriodStart: position.currentPeriodStart,
      currentPeriodEnd: position.currentPeriodEnd,
      workflowId: subscriptionWorkflowId(id),
      externalId: body.external_id ?? null,
      // Usage is billed from the first billing period on (after any trial).
      usageClosedUntil: timeline.billingAnchor,
    });
    const input: SubscriptionWorkflowInput = {
      subscriptionId: id,
      customerId: customer.id,
      planCode: plan.code,
      planName: plan.name,
      cadence,
      startAt: startAt.toISOString(),
      trialEnd: timeline.trialEnd?.toISOString() ?? null,
      billingAnchor: timeline.billingAnchor.toISOString(),
      periodIndex: 0,
      cancelAtPeriodEnd: false,
      stateVersion: 0,
    };
    if (body.external_id && (await em().count(Subscription, { externalId: body.external_id })) > 0) {
      throw new BillingError('conflict_error', 'resource_already_exists', `A subscription with external_id "${body.external_id}" already exists`, 'external_id');
    }
    // The row commits only once its workflow has started: a failed start leaves no orphan row, and
    // USE_EXISTING makes a repeated start find the same workflow instead of a second one. If the
    // commit fails after the start, the workflow is terminated so it bills nothing.
    let started = false;
    await em().transactional(async (tx) => {
      tx.persist(subscription);
      await tx.flush();
      started = true;
      await temporal.workflow.start('subscriptionWorkflow', {
        workflowId: subscription.workflowId,
        taskQueue,
        args: [input],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        typedSearchAttributes: [
          { key: CustomerIdKey, value: customer.id },
          { key: SubscriptionStatusKey, value: position.status },
          { key: PlanCodeKey, value: plan.code },
          { key: NextBillingAtKey, value: timeline.billingAnchor },
        ],
        memo: { summary: `Subscription ${id} of customer ${customer.id} (${customer.name}) on plan ${plan.code}` },
      });
    }).catch(async (error: unknown) => {
      if (started) {
        await temporal.workflow
          .getHandle(subscription.workflowId)
          .terminate('the subscription row was not stored')
          .catch(() => undefined); // never started, or already gone
      }
      throw error;
    });
    res.status(201).json(subscriptionJson(subscription, plan.code, null));
  });

  router.get('/:id', async (req, res) => {
    const { subscription, plan } = await load(String(req.params.id));
    res.json(subscriptionJson(subscription, plan.code, await liveState(subscription.workflowId)));
  });

  /**
   * The usage not billed yet, per charge, and the next invoice as it would be issued if the period
   * ended now (fee of the next period, usage so far, minimum, coupons, taxes). Changes nothing.
   */
  router.get('/:id/usage', async (req, res) => {
    const { subscription, plan } = await load(String(req.params.id));
    const now = new Date();
    const timeline = { trialEnd: subscription.trialEnd ?? null, billingAnchor: subscription.billingAnchor };
    const position = positionAt(subscription.startAt, timeline, { interval: plan.interval, intervalCount: plan.intervalCount }, now);
    const ended = subscription.usageEndsAt ?? null;
    const until = ended && ended < now ? ended : now;
    const from = subscription.usageClosedUntil;
    const nextIndex = position.status === 'active' ? position.elapsedPeriods + 1 : 0;
    const next = periodAt(subscription.billingAnchor, { interval: plan.interval, intervalCount: plan.intervalCount }, nextIndex);
    const computed = await computeInvoice(
      em(),
      subscription,
      {
        fees: ended || subscription.cancelAtPeriodEnd ? [] : [{ planId: plan.id, period: next, from: next.start, to: next.end, credit: false }],
        usageWindow: { start: from, end: until > from ? until : from },
        usagePlanId: plan.id,
        wholePeriod: position.status === 'active' && !ended,
        withCoupons: true,
      },
      false,
    );
    const usage = computed.draft.lines.filter((l) => l.kind === 'usage');
    res.json({
      object: 'subscription_usage',
      subscription_id: subscription.id,
      currency: plan.currency,
      from_datetime: from.toISOString(),
      to_datetime: (until > from ? until : from).toISOString(),
      charges: usage.map((l) => ({
        metric_code: l.metricCode,
        charge_model: l.chargeModel,
        quantity: decimalString(l.quantity),
        amount: formatAmount(l.amount, plan.currency),
        tiers: tierPartsJson(l.tiers ?? []),
      })),
      amount: formatAmount(usage.reduce((t, l) => t.plus(l.amount), new Decimal(0)), plan.currency),
      upcoming_invoice: draftInvoiceJson(computed.draft),
    });
  });

  router.post('/:id/cancel', allow('admin', 'support'), async (req, res) => {
    const body = parse(CancelSubscription, req.body);
    const { subscription, plan } = await load(String(req.params.id));
    if (subscription.status === 'canceled') {
      throw new BillingError('state_error', 'subscription_canceled', `subscription ${subscription.id} is already canceled`);
    }
    try {
      const state = await temporal.workflow.getHandle(subscription.workflowId).executeUpdate(cancelUpdate, { args: [{ at: body.at }] });
      res.json(subscriptionJson(subscription, plan.code, state));
    } catch (error) {
      const rejection = fromUpdateFailure(error);
      if (rejection) throw rejection;
      // The workflow has already ended: the subscription was canceled a moment ago.
      if (error instanceof WorkflowNotFoundError) {
        throw new BillingError('state_error', 'subscription_canceled', `subscription ${subscription.id} is already canceled`);
      }
      throw error;
    }
  });

  return router;
}
