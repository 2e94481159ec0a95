import { Router } from 'express';
import { z } from 'zod';
import { WorkflowIdConflictPolicy } from '@temporalio/client';
import { Customer } from '../../db/entities/customer';
import { Subscription } from '../../db/entities/subscription';
import { newId } from '../../db/ids';
import { BillingError } from '../../domain/errors';
import { MAX_ELAPSED_PERIODS, positionAt, subscriptionTimeline } from '../../domain/timeline';
import { planSnapshot } from '../../db/plan-snapshot';
import { SUBSCRIPTION_WORKFLOW, subscriptionWorkflowId, type SubscriptionWorkflow, type SubscriptionWorkflowInput } from '../../workflows/messages';
import { CustomerIdKey, NextBillingAtKey, PlanCodeKey, SubscriptionStatusKey } from '../../workflows/search-attributes';
import { allow } from '../auth';
import { atomicPhase, IdempotencyKeyLost } from '../idempotency';
import { forkEm } from '../../db/orm';
import type { ApiDeps } from '../deps';
import { draftInvoiceJson, subscriptionJson } from '../serializers';
import { computeInvoice } from '../../db/invoice-store';
import { tierPartsJson } from '../../domain/charge-properties';
import { decimalString, formatAmount } from '../../domain/money';
import { liveState as queryState, loadSubscription, nextPeriodOf } from '../subscription-state';
import { latestPlan } from './plans';
import { subscriptionChangesRouter } from './subscription-changes';
import Decimal from 'decimal.js';
import { parse, timestampField } from '../validation';

export const CreateSubscription = z
  .object({
    customer_id: z.string().min(1),
    plan_code: z.string().min(1),
    start_at: timestampField.optional(),
    external_id: z.string().min(1).max(255).optional(),
    billing_alignment: z.enum(['anniversary', 'calendar']).optional(),
  })
  .strict();


export function subscriptionsRouter({ orm, temporal, taskQueue }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();
  router.use(subscriptionChangesRouter({ orm, temporal }));

  const load = (id: string) => loadSubscription(em(), id);
  const liveState = (workflowId: string) => queryState(temporal, workflowId);

  router.post('/', allow('admin', 'support'), async (req, res) => {
    const body = parse(CreateSubscription, req.body);
    const customer = await em().findOne(Customer, { id: body.customer_id });
    if (!customer) throw new BillingError('invalid_request_error', 'resource_missing', `No such customer: '${body.customer_id}'`, 'customer_id');
    const plan = await latestPlan(em(), body.plan_code);
    if (!plan) throw new BillingError('invalid_request_error', 'resource_missing', `No such plan: '${body.plan_code}'`, 'plan_code');
    if (plan.currency !== customer.currency) {
      throw new BillingError(
        'invalid_request_error',
        'currency_mismatch',
        `Plan ${plan.code} is billed in ${plan.currency} but customer ${customer.id} pays in ${customer.currency}`,
        'plan_code',
      );
    }
    // Chosen once per Idempotency-Key: a retry after a crash between the workflow's start and the
    // row's commit starts the same workflow id with the same clock, which USE_EXISTING then adopts.
    const reserved = await atomicPhase<{ id: string; now: string }>(req, 'subscription_reserved', (record) => record(null, { id: newId('sub'), now: new Date().toISOString() }));
    const now = new Date(reserved.now);
    const startAt = body.start_at ?? now;
    const timeline = subscriptionTimeline(startAt, plan.trialDays);
    const cadence = { interval: plan.interval, intervalCount: plan.intervalCount };
    const clock = { zone: customer.timezone, alignment: body.billing_alignment ?? ('anniversary' as const) };
    const position = positionAt(startAt, timeline, cadence, now, clock);
    if (position.elapsedPeriods > MAX_ELAPSED_PERIODS) {
      throw new BillingError(
        'invalid_request_error',
        'start_at_too_far_back',
        `start_at lies more than ${MAX_ELAPSED_PERIODS} ${plan.interval} periods in the past; at most ${MAX_ELAPSED_PERIODS} elapsed periods are billed at once`,
        'start_at',
      );
    }
    const id = reserved.id;
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
      billingAlignment: clock.alignment,
      timezone: clock.zone,
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
      plan: planSnapshot(plan),
      zone: clock.zone,
      alignment: clock.alignment,
    };
    if (body.external_id && (await em().count(Subscription, { externalId: body.external_id, id: { $ne: id } })) > 0) {
      throw new BillingError('conflict_error', 'resource_already_exists', `A subscription with external_id "${body.external_id}" already exists`, 'external_id');
    }
    // The row commits only once its workflow has started: a failed start leaves no orphan row, and
    // USE_EXISTING makes a repeated start find the same workflow instead of a second one. If the
    // commit fails after the start, the workflow is terminated so it bills nothing, unless another
    // attempt with the same key took over: that one owns the workflow now.
    let started = false;
    const created = await atomicPhase<ReturnType<typeof subscriptionJson>>(req, 'subscription_created', (record) =>
      em().transactional(async (tx) => {
        tx.persist(subscription);
        await tx.flush();
        started = true;
        await temporal.workflow.start<SubscriptionWorkflow>(SUBSCRIPTION_WORKFLOW, {
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
        await record(tx, subscriptionJson(subscription, plan, null));
      }),
    ).catch(async (error: unknown) => {
      if (started && !(error instanceof IdempotencyKeyLost)) {
        await temporal.workflow
          .getHandle(subscription.workflowId)
          .terminate('the subscription row was not stored')
          .catch(() => undefined); // never started, or already gone
      }
      throw error;
    });
    res.status(201).json(created);
  });

  router.get('/:id', async (req, res) => {
    const { subscription, plan } = await load(String(req.params.id));
    res.json(subscriptionJson(subscription, plan, await liveState(subscription.workflowId)));
  });

  /**
   * The usage not billed yet, per charge, and the next invoice as it would be issued if the period
   * ended now (fee of the next period, usage so far, minimum, coupons, taxes). Changes nothing.
   */
  router.get('/:id/usage', async (req, res) => {
    const { subscription, plan } = await load(String(req.params.id));
    const live = await liveState(subscription.workflowId);
    const now = new Date();
    const ended = subscription.usageEndsAt ?? null;
    const until = ended && ended < now ? ended : now;
    const from = subscription.usageClosedUntil;
    const next = nextPeriodOf(live, plan, subscription);
    const computed = await computeInvoice(
      em(),
      subscription,
      {
        fees: next && !(live?.cancelAtPeriodEnd ?? subscription.cancelAtPeriodEnd) ? [{ planId: plan.id, period: next, from: next.start, to: next.end, credit: false }] : [],
        usageWindow: { start: from, end: until > from ? until : from },
        usagePlanId: plan.id,
        wholePeriod: (live?.status ?? subscription.status) === 'active' && !ended,
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

  return router;
}
