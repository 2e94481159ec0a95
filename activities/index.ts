import type { EmailTransport } from '../mail/smtp';
import type { StripeGateway } from '../payments/stripe-gateway';
import { createCollectionActivities } from './collection';
import { createPlanMigrationActivities } from './plan-migration';
import { createRevenueRecognitionActivities } from './revenue-recognition';
import { createUsagePartitionActivities } from './usage-partitions';
import { collectTopUpsOf, createWalletActivities } from './wallets';
import { createWebhookActivities } from './webhooks';
import { failingPermanently } from './failures';
import { issueInvoice, issuePeriodInvoice } from '../db/invoice-store';
import { forkEm, type Orm } from '../db/orm';
import { recordSubscriptionState } from '../db/subscription-store';
import { subscriptionEvent } from '../db/resource-events';
import { formatAmount } from '../domain/money';
import { Plan } from '../db/entities/plan';
import { Subscription } from '../db/entities/subscription';
import { planSnapshot } from '../db/plan-snapshot';
import type { BillingReason } from '../db/entities/invoice';
import type { RecognitionMethod } from '../domain/revenue-recognition';
import type { FeeSpec } from '../domain/plan-change';
import type { ContractOverrides, PlanSnapshot, SubscriptionState } from '../domain/subscription';
import Decimal from 'decimal.js';

export interface ActivityDeps {
  orm: Orm;
  /** Card collection and e-mail; absent ones are not configured. */
  stripe?: StripeGateway | null;
  mail?: EmailTransport | null;
  customerPaymentUrl?: string | null;
  /** PUBLIC_URL: the base of the portal links collection e-mails carry; none when absent. */
  publicUrl?: string | null;
  /** REVENUE_RECOGNITION_METHOD; by day when not given. */
  revenueRecognitionMethod?: RecognitionMethod;
}

/** InvoiceRequest (db/invoice-store.ts) as a workflow sends it: instants as ISO strings. */
export interface BillingRequest {
  subscriptionId: string;
  periodIndex: number | null;
  billingKey: string | null;
  reason: BillingReason;
  /** `quantity` and `unitAmount` (decimal strings): seats and a contract price per seat; absent in runs from before them. */
  fees: FeeSpec[];
  usage: { until: string; planId: string | null; wholePeriod: boolean | null; ends: boolean; overrides?: ContractOverrides | null } | null;
  reopenUsageAt: string | null;
  issuedAt: string;
}

export interface IssuedInvoice {
  invoiceId: string;
  /** Null for a draft, which is numbered when it is finalised. */
  number: string | null;
  total: string;
  currency: string;
  /** What is left to collect (after customer credit); absent in results recorded before collection existed. */
  amountDue?: string;
  /** A draft (no number yet): its collection waits for the grace end, finalises it, then collects. */
  draft?: true;
}

/**
 * Side effects of the billing workflows, built from their dependencies (real Postgres in tests too).
 * A failure retrying cannot fix leaves every activity as non-retryable (activities/failures.ts).
 */
export function createActivities({ orm, stripe = null, mail = null, customerPaymentUrl = null, publicUrl = null, revenueRecognitionMethod = 'daily' }: ActivityDeps) {
  const em = forkEm(orm);
  return failingPermanently({
    ...createCollectionActivities({ orm, stripe, mail, customerPaymentUrl, publicUrl }),
    ...createPlanMigrationActivities({ orm }),
    ...createRevenueRecognitionActivities({ orm, method: revenueRecognitionMethod }),
    ...createWalletActivities({ orm }),
    ...createUsagePartitionActivities({ orm }),
    ...createWebhookActivities({ orm }),
    async issuePeriodInvoice(request: {
      subscriptionId: string;
      periodIndex: number;
      periodStart: string;
      periodEnd: string;
    }): Promise<IssuedInvoice> {
      const invoice = await issuePeriodInvoice(em(), {
        subscriptionId: request.subscriptionId,
        periodIndex: request.periodIndex,
        periodStart: new Date(request.periodStart),
        periodEnd: new Date(request.periodEnd),
        // The invoice is dated at its period's start, also when a backdated period is issued late.
        issuedAt: new Date(request.periodStart),
      });
      await collectTopUpsOf(orm, invoice.customerId);
      return { invoiceId: invoice.id, number: invoice.number ?? null, total: formatAmount(invoice.total, invoice.currency), currency: invoice.currency };
    },

    /** The last invoice: usage since the last period invoice, up to the end; null when there was none. */
    async issueClosingInvoice(request: { subscriptionId: string; periodIndex: number; endsAt: string }): Promise<IssuedInvoice | null> {
      const endsAt = new Date(request.endsAt);
      const invoice = await issueInvoice(em(), {
        subscriptionId: request.subscriptionId,
        periodIndex: request.periodIndex,
        billingKey: null,
        reason: 'subscription_cancel',
        fees: [],
        usage: { until: endsAt, planId: null, wholePeriod: null, ends: true },
        issuedAt: endsAt,
      });
      if (invoice) await collectTopUpsOf(orm, invoice.customerId);
      return invoice && { invoiceId: invoice.id, number: invoice.number ?? null, total: formatAmount(invoice.total, invoice.currency), currency: invoice.currency };
    },

    /** Any invoice of the lifecycle workflow: renewal, plan change, pause, resume or cancellation. */
    async billSubscription(request: BillingRequest): Promise<IssuedInvoice | null> {
      const invoice = await issueInvoice(em(), {
        subscriptionId: request.subscriptionId,
        periodIndex: request.periodIndex,
        billingKey: request.billingKey,
        reason: request.reason,
        fees: request.fees.map((f) => ({
          planId: f.planId,
          period: { start: new Date(f.period.start), end: new Date(f.period.end) },
          from: new Date(f.from),
          to: new Date(f.to),
          credit: f.credit,
          quantity: new Decimal(f.quantity ?? 1),
          unitAmount: f.unitAmount ? new Decimal(f.unitAmount) : null,
        })),
        usage: request.usage && {
          until: new Date(request.usage.until),
          planId: request.usage.planId,
          wholePeriod: request.usage.wholePeriod,
          ends: request.usage.ends,
          overrides: request.usage.overrides ?? null,
        },
        reopenUsageAt: request.reopenUsageAt ? new Date(request.reopenUsageAt) : null,
        issuedAt: new Date(request.issuedAt),
        // The workflow starts a draft's collection, which finalises it at its grace end.
        renewalDrafts: true,
      });
      // Wallet credit the invoice spent may have started automatic top-ups: collect them now.
      if (invoice) await collectTopUpsOf(orm, invoice.customerId);
      return (
        invoice && {
          invoiceId: invoice.id,
          number: invoice.number ?? null,
          total: formatAmount(invoice.total, invoice.currency),
          currency: invoice.currency,
          amountDue: formatAmount(invoice.amountDue, invoice.currency),
          // Only when true, so results stay as they were for every invoice that is not a draft.
          ...(invoice.status === 'draft' ? { draft: true } : {}),
        }
      );
    },

    /** The plan a subscription is on, for a workflow run that started before runs carried it. */
    async loadPlan(request: { subscriptionId: string }): Promise<PlanSnapshot> {
      const subscription = await em().findOne(Subscription, { id: request.subscriptionId });
      if (!subscription) throw new Error(`subscription ${request.subscriptionId} is not in the database (yet)`);
      return planSnapshot(await em().findOneOrFail(Plan, { id: subscription.planId }));
    },

    /**
     * Kept for workflow histories scheduled before ratable recognition (and for runs of the first
     * version), which still call it when a period ends: it does nothing. Every fee line is a revenue
     * obligation (the migration made one for each line issued before), recognised day by day by the
     * revenue recognition workflow; posting the old lump as well would recognise the fees twice.
     */
    async recognizeRevenue(_request: { invoiceId: string; at: string }): Promise<void> {},

    async recordSubscriptionState(state: SubscriptionState): Promise<void> {
      return recordSubscriptionState(em(), state);
    },

    /** subscription.trial_will_end, once per trial end (a trial moved later is reported again). */
    async reportTrialWillEnd(request: { subscriptionId: string; trialEnd: string }): Promise<void> {
      await em().transactional((tx) => subscriptionEvent(tx, 'subscription.trial_will_end', `subscription.trial_will_end:${request.subscriptionId}:${request.trialEnd}`, request.subscriptionId));
    },
  });
}

export type BillingActivities = ReturnType<typeof createActivities>;
