import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CollectionState } from '../domain/collection';
import type { AttemptVerdict } from '../domain/webhook-schedule';
import type { PlanMigrationProgress } from '../domain/plan-migration';
import type { Alignment, Cadence } from '../domain/period';
import type {
  CancelRequest,
  ChangePlanRequest,
  ChangeQuantityRequest,
  CollectionLag,
  ContractOverrides,
  PlanSnapshot,
  ScheduledChange,
  SubscriptionState,
  When,
} from '../domain/subscription';
import type * as registered from './index';

/**
 * The contract between the API (the client side), the activities and the workflows: the task queue,
 * every workflow's name, id and input, and every update, signal and query, each defined once. It
 * loads no workflow body at run time (the workflow types below are type-only), so the API imports
 * it freely; the records the messages carry are `domain/` types.
 */

export const TASK_QUEUE = 'billing';

// The records the messages carry, defined in domain/ and named here too, so a caller needs one import.
export type { CollectionState } from '../domain/collection';
export type { PlanMigrationInput, PlanMigrationProgress } from '../domain/plan-migration';
export type {
  BillingErrorInfo,
  CancelRequest,
  ChangePlanRequest,
  ChangeQuantityRequest,
  CollectionLag,
  ContractOverrides,
  InvoiceSummary,
  PlanSnapshot,
  Proration,
  ScheduledChange,
  SubscriptionState,
  SubscriptionStatus,
  UpcomingEvent,
  When,
} from '../domain/subscription';

// ---- the workflows, by the names the worker registers them under (workflows/index.ts) ---------------

/** Start it as `client.workflow.start<SubscriptionWorkflow>(SUBSCRIPTION_WORKFLOW, ...)`: arguments and result are checked. */
export const SUBSCRIPTION_WORKFLOW = 'subscriptionWorkflow' satisfies keyof typeof registered;
export type SubscriptionWorkflow = typeof registered.subscriptionWorkflow;
export const INVOICE_COLLECTION_WORKFLOW = 'invoiceCollectionWorkflow' satisfies keyof typeof registered;
export type InvoiceCollectionWorkflow = typeof registered.invoiceCollectionWorkflow;
export const PLAN_MIGRATION_WORKFLOW = 'planMigrationWorkflow' satisfies keyof typeof registered;
export type PlanMigrationWorkflow = typeof registered.planMigrationWorkflow;
export const REVENUE_RECOGNITION_WORKFLOW = 'revenueRecognitionWorkflow' satisfies keyof typeof registered;
export type RevenueRecognitionWorkflow = typeof registered.revenueRecognitionWorkflow;
export const WALLET_MAINTENANCE_WORKFLOW = 'walletMaintenanceWorkflow' satisfies keyof typeof registered;
export type WalletMaintenanceWorkflow = typeof registered.walletMaintenanceWorkflow;
export const USAGE_PARTITIONS_WORKFLOW = 'usagePartitionsWorkflow' satisfies keyof typeof registered;
export type UsagePartitionsWorkflow = typeof registered.usagePartitionsWorkflow;

/** One subscription's workflow: `subscription-<subscriptionId>`, started with the subscription. */
export const subscriptionWorkflowId = (subscriptionId: string): string => `subscription-${subscriptionId}`;

/** Collection of one invoice: `invoice-<invoiceId>`, started by the subscription for each invoice that asks money. */
export const invoiceWorkflowId = (invoiceId: string): string => `invoice-${invoiceId}`;

/** One plan migration: `plan-migration-<migrationId>`, started by the API once per migration id. */
export const planMigrationWorkflowId = (migrationId: string): string => `plan-migration-${migrationId}`;

/** The Temporal Schedule that starts the revenue recognition workflow daily (the worker creates it). */
export const REVENUE_RECOGNITION_SCHEDULE_ID = 'revenue-recognition';

/** The id of a revenue recognition run the schedule did not start (started by hand, or by a test). */
export const revenueRecognitionWorkflowId = (label: string): string => `revenue-recognition-${label}`;

/** The Temporal Schedule that starts the wallet run daily (the worker creates it). */
export const WALLET_MAINTENANCE_SCHEDULE_ID = 'wallet-maintenance';

/** The id of a wallet run the schedule did not start (started by hand, or by a test). */
export const walletMaintenanceWorkflowId = (label: string): string => `wallet-maintenance-${label}`;

/** The Temporal Schedule that starts the usage partition run daily (the worker creates it). */
export const USAGE_PARTITIONS_SCHEDULE_ID = 'usage-partitions';

export interface UsagePartitionsInput {
  /** Months after the current one that must have a partition; default USAGE_PARTITION_MONTHS_AHEAD (db/usage-partitions.ts). */
  monthsAhead?: number;
}

export interface UsagePartitionsResult {
  /** The partitions this run made (usage_events_YYYY_MM); none when all existed. */
  created: string[];
}

export interface WalletMaintenanceInput {
  /** ISO 8601: expire what has expired by then; default the workflow's now, never later. */
  at?: string;
}

export interface WalletMaintenanceResult {
  at: string;
  /** Wallets whose credit was forfeited, and purchase invoices whose collection was made sure of. */
  expired: number;
  collecting: number;
}

export interface RevenueRecognitionInput {
  /** ISO 8601: recognise every day (or month) that has ended by then; default the workflow's now, never later. */
  through?: string;
  /** Carried across continue-as-new. */
  progress?: RevenueRecognitionProgress;
}

export interface RevenueRecognitionProgress {
  through: string;
  /** Periods looked at, those found posted already, and the ledger transactions posted. */
  periods: number;
  skipped: number;
  transactions: number;
  /** The last period handled, `YYYY-MM-DD` or `YYYY-MM`; null before the first. */
  lastPeriod: string | null;
}

export interface SubscriptionWorkflowInput {
  subscriptionId: string;
  customerId: string;
  planCode: string;
  planName: string;
  cadence: Cadence;
  /** ISO 8601 instants; JSON payloads carry no Date objects. */
  startAt: string;
  trialEnd: string | null;
  billingAnchor: string;
  /** The next period this run bills; 0 for the first run, +1 at each continue-as-new. */
  periodIndex: number;
  cancelAtPeriodEnd: boolean;
  /** Increases with every published change, so a late state write never overwrites a newer one. */
  stateVersion: number;

  // Carried by the lifecycle workflow across runs; absent in runs started by its first version.
  plan?: PlanSnapshot;
  /** The IANA zone and alignment that period boundaries follow. */
  zone?: string;
  alignment?: Alignment;
  /** Periods are counted from `anchor`: cycle `firstCycle + i` is period i of this schedule. */
  segment?: { anchor: string; firstCycle: number };
  scheduled?: ScheduledChange[];
  /** The plan whose prices the usage not billed yet is at (a change took effect at the boundary). */
  usagePlanId?: string | null;
  /** Usage since the period start was partly billed already (a change mid-period), so no minimum applies. */
  usageCut?: boolean;
  /** The run starts paused since this instant. */
  pausedAt?: string | null;
  /** The run's first invoice reopens usage (the first period after a resume). */
  reopenUsage?: boolean;
  /** Invoices whose collection is behind, and the one the subscription is suspended for. */
  unpaid?: Record<string, CollectionLag>;
  suspendedFor?: string | null;
  /** Seats the recurring fee is priced on; absent: 1 (runs from before seats). */
  quantity?: number;
  /** The customer's contract prices; absent or null: the plan's. */
  overrides?: ContractOverrides | null;
  /** The contract prices the usage not billed yet is at (set with `usagePlanId` when a change took effect at the boundary). */
  usageOverrides?: ContractOverrides | null;
}

export interface InvoiceCollectionInput {
  invoiceId: string;
  /** Null for an invoice of the customer alone (a one-off invoice): nobody is signalled. */
  subscriptionId: string | null;
}

// ---- the subscription's messages ------------------------------------------------------------------

export const cancelUpdate = defineUpdate<SubscriptionState, [CancelRequest]>('cancel');
export const changePlanUpdate = defineUpdate<SubscriptionState, [ChangePlanRequest]>('changePlan');
/** A new number of seats, now (prorated or not), at period end or at an instant. */
export const changeQuantityUpdate = defineUpdate<SubscriptionState, [ChangeQuantityRequest]>('changeQuantity');
export const pauseUpdate = defineUpdate<SubscriptionState, [{ at: When }]>('pause');
export const resumeUpdate = defineUpdate<SubscriptionState, [{ at: When }]>('resume');
/** Ends the trial now, or moves its end to another future instant (extends or shortens it). */
export const setTrialEndUpdate = defineUpdate<SubscriptionState, [{ at: When }]>('setTrialEnd');
/** Removes a scheduled change before it happens (a scheduled cancellation: reactivates). */
export const unscheduleUpdate = defineUpdate<SubscriptionState, [{ changeId: string }]>('unschedule');
export const getStateQuery = defineQuery<SubscriptionState>('getState');
/** After the cause of a billing_error has been fixed (data corrected, a deploy): try the stopped step again. */
export const retryBillingSignal = defineSignal('retryBilling');

/** What an invoice's collection tells its subscription. */
export const invoiceOverdueSignal = defineSignal<[{ invoiceId: string }]>('invoiceOverdue');
export const invoiceCollectionFailedSignal = defineSignal<[{ invoiceId: string }]>('invoiceCollectionFailed');
export const invoiceSettledSignal = defineSignal<[{ invoiceId: string }]>('invoiceSettled');

// ---- an invoice's collection's messages -------------------------------------------------------------

/** The invoice was paid another way (a webhook, a manual payment): stop collecting. */
export const invoicePaidSignal = defineSignal<[{ source: string }]>('invoicePaid');
/** The draft invoice was finalised before its grace period ended: collect it now. */
export const invoiceFinalizedSignal = defineSignal('invoiceFinalized');
/** The invoice was voided: stop collecting (the subscription is told it is settled). */
export const invoiceVoidedSignal = defineSignal('invoiceVoided');
/** The customer attached a new payment method: charge it at once. */
export const paymentMethodUpdatedSignal = defineSignal('paymentMethodUpdated');
export const collectionStateQuery = defineQuery<CollectionState>('collectionState');

// ---- a plan migration's messages ----------------------------------------------------------------------

/** How far a plan migration has got: the subscriptions handled so far and what happened to each. */
export const planMigrationProgressQuery = defineQuery<PlanMigrationProgress>('planMigrationProgress');

// ---- revenue recognition's messages ----------------------------------------------------------------------

/** How far a revenue recognition run has got. */
export const revenueRecognitionProgressQuery = defineQuery<RevenueRecognitionProgress>('revenueRecognitionProgress');

// ---- webhook deliveries ---------------------------------------------------------------------------------

export const WEBHOOK_DELIVERY_WORKFLOW = 'webhookDeliveryWorkflow' satisfies keyof typeof registered;
export type WebhookDeliveryWorkflow = typeof registered.webhookDeliveryWorkflow;

/**
 * One run of a delivery's schedule: `webhook-delivery-<whd_id>`, started by the relay once per
 * delivery (the id dedupes a start repeated after a crash); a resend by hand is a run of its own,
 * `webhook-delivery-<whd_id>-resend-<n>`.
 */
export const webhookDeliveryWorkflowId = (deliveryId: string, resend = 0): string => (resend === 0 ? `webhook-delivery-${deliveryId}` : `webhook-delivery-${deliveryId}-resend-${resend}`);

export interface WebhookDeliveryInput {
  deliveryId: string;
  /** 0 for the first run, n for the n-th resend: an older run finding a newer one owns the delivery stops. */
  resend: number;
  /** The number of this run's first attempt: attempts are numbered across runs (a resend goes on from the last). */
  firstAttempt: number;
}

export interface WebhookDeliveryResult {
  status: 'succeeded' | 'failed' | 'stopped';
  attempts: number;
}

export interface WebhookAttemptRequest {
  deliveryId: string;
  resend: number;
  attempt: number;
  /** When the next attempt comes if this one fails; null for the last attempt of the schedule. */
  retryInMs: number | null;
}

export interface WebhookAttemptResult {
  /** `stopped`: nothing was sent (delivered already, its endpoint disabled or deleted, or a newer run owns it). */
  verdict: AttemptVerdict | 'stopped';
  statusCode: number | null;
}
