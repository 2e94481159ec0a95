import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { createActivities } from '../../activities';
import type { Orm } from '../../db/orm';
import { fullPeriodOf, periodOf, type Schedule } from '../../domain/period';
import { feePrice, feeSpec } from '../../domain/plan-change';
import type { SubscriptionState } from '../../domain/subscription';
import type { StripeGateway } from '../../payments/stripe-gateway';
import { getStateQuery, subscriptionWorkflowId } from '../../workflows/messages';
import { inParallel } from './workload';

/**
 * The ceiling: what one renewal costs without Temporal in between. The same activity functions the
 * worker runs (createActivities, over the bench's own connection pool and the same Stripe front),
 * called in the order one renewal calls them: the subscription's state written, its renewal invoice
 * issued and posted to the ledger, the state written again, then the invoice's collection (its
 * context, the card charge through the emulator, the receipt). `withCharge: false` stops after the
 * second state write: Postgres alone.
 */
export interface CeilingFigures {
  renewals: number;
  concurrency: number;
  withCharge: boolean;
  seconds: number;
  perSecond: number;
}

interface Prepared {
  state: SubscriptionState;
  request: Parameters<ReturnType<typeof createActivities>['billSubscription']>[0];
}

/** Reads each subscription's state from its workflow (not timed), and the renewal request its workflow would send. */
export async function prepareCeiling(temporal: Client, subscriptionIds: string[]): Promise<Prepared[]> {
  const prepared: Prepared[] = [];
  await inParallel(subscriptionIds, 8, async (id, i) => {
    const state = await temporal.workflow.getHandle(subscriptionWorkflowId(id)).query(getStateQuery);
    if (!state.schedule || !state.currentPeriod) throw new Error(`subscription ${id} is ${state.status}, not billing`);
    const schedule: Schedule = { anchor: new Date(state.schedule.anchor), cadence: state.plan!.cadence, zone: state.schedule.zone, alignment: state.schedule.alignment };
    const cycle = state.currentPeriod.index + 1;
    const period = periodOf(schedule, cycle - state.schedule.firstCycle);
    const basis = fullPeriodOf(schedule, cycle - state.schedule.firstCycle);
    prepared[i] = {
      state: { ...state, currentPeriod: { index: cycle, start: period.start.toISOString(), end: period.end.toISOString() } },
      request: {
        subscriptionId: id,
        periodIndex: cycle,
        billingKey: null,
        reason: 'subscription_cycle',
        fees: [feeSpec(state.plan!.id, basis, period.start, period.end, false, feePrice(state.quantity ?? 1, state.overrides?.amount))],
        usage: { until: period.start.toISOString(), planId: state.plan!.id, wholePeriod: true, ends: false },
        reopenUsageAt: null,
        issuedAt: period.start.toISOString(),
      },
    };
  });
  return prepared;
}

export async function runCeiling(options: { orm: Orm; stripe: StripeGateway; prepared: Prepared[]; concurrency: number; withCharge: boolean }): Promise<CeilingFigures> {
  const activities = createActivities({ orm: options.orm, stripe: options.stripe });
  const started = performance.now();
  await inParallel(options.prepared, options.concurrency, async ({ state, request }) => {
    await activities.recordSubscriptionState({ ...state, stateVersion: state.stateVersion + 1 });
    const invoice = await activities.billSubscription(request);
    if (!invoice) throw new Error(`no renewal invoice for ${request.subscriptionId}`);
    await activities.recordSubscriptionState({ ...state, stateVersion: state.stateVersion + 2, latestInvoice: { invoiceId: invoice.invoiceId, number: invoice.number, total: invoice.total, currency: invoice.currency } });
    if (!options.withCharge) return;
    await activities.collectionContext({ invoiceId: invoice.invoiceId });
    const outcome = await activities.chargeInvoice({ invoiceId: invoice.invoiceId, attempt: 1 });
    if (outcome.status !== 'succeeded') throw new Error(`charging ${invoice.invoiceId}: ${outcome.status}`);
    await activities.notifyCustomer({ invoiceId: invoice.invoiceId, template: 'payment_receipt', key: `receipt:${invoice.invoiceId}` });
  });
  const seconds = (performance.now() - started) / 1000;
  return { renewals: options.prepared.length, concurrency: options.concurrency, withCharge: options.withCharge, seconds, perSecond: options.prepared.length / seconds };
}
