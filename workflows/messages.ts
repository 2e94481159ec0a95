import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Alignment, Cadence } from '../domain/period';

/** Shared by the API (client side) and the workflows: the default task queue and every message definition. */
export const TASK_QUEUE = 'billing';

export const subscriptionWorkflowId = (subscriptionId: string): string => `subscription-${subscriptionId}`;

/** billing_error: billing stopped on a failure retrying cannot fix; `billingError` says which, `retryBilling` resumes it. */
export type SubscriptionStatus = 'scheduled' | 'trialing' | 'active' | 'past_due' | 'suspended' | 'paused' | 'canceled' | 'billing_error';

/** Why a subscription's billing stopped: the activity, its failure's type and message, and when. */
export interface BillingErrorInfo {
  activity: string;
  code: string;
  message: string;
  at: string;
}

/** What the workflow knows of a plan version: enough to validate a change without the database. */
export interface PlanSnapshot {
  id: string;
  code: string;
  version: number;
  name: string;
  currency: string;
  /** Decimal string. */
  amount: string;
  cadence: Cadence;
}

export type Proration = 'prorate' | 'none';

/** A change the workflow will make at `at` (ISO 8601), listed on the subscription until it happens. */
export type ScheduledChange = { id: string; at: string; atPeriodEnd: boolean } & (
  | { kind: 'change_plan'; plan: PlanSnapshot; proration: Proration }
  | { kind: 'pause' }
  | { kind: 'resume' }
  | { kind: 'cancel'; prorate: boolean }
);

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
  unpaid?: Record<string, 'overdue' | 'failed'>;
  suspendedFor?: string | null;
}

export interface UpcomingEvent {
  at: string;
  event: 'start' | 'trial_end' | 'renewal' | 'cancellation' | 'plan_change' | 'pause' | 'resume';
  /** The scheduled change behind the event, when there is one (to replace or remove it). */
  changeId?: string;
}

export interface InvoiceSummary {
  invoiceId: string;
  number: string;
  total: string;
  currency: string;
  amountDue?: string;
}

export interface SubscriptionState {
  subscriptionId: string;
  customerId: string;
  planCode: string;
  status: SubscriptionStatus;
  startAt: string;
  trialEnd: string | null;
  currentPeriod: { index: number; start: string; end: string } | null;
  cancelAtPeriodEnd: boolean;
  canceledAt: string | null;
  nextBillingAt: string | null;
  /** What the workflow will do next and when, for support staff and operators. */
  upcoming: UpcomingEvent[];
  stateVersion: number;
  plan?: PlanSnapshot;
  scheduledChanges?: ScheduledChange[];
  pausedAt?: string | null;
  /** The invoice the last change issued (or the last renewal's). */
  latestInvoice?: InvoiceSummary | null;
  /** The whole period the current period's price is for (longer than it for a short first calendar period). */
  periodBasis?: { start: string; end: string } | null;
  /** Periods are counted from `anchor`: cycle `firstCycle + i` is period i; with the zone and alignment, every boundary. */
  schedule?: { anchor: string; firstCycle: number; zone: string; alignment: Alignment };
  /** Set while billing is stopped (status billing_error). */
  billingError?: BillingErrorInfo | null;
}

/** "now", "period_end", or an ISO 8601 instant in the future. */
export type When = string;

export interface CancelRequest {
  at: When;
  prorate?: boolean;
}

export interface ChangePlanRequest {
  plan: PlanSnapshot;
  at: When;
  proration: Proration;
}

export const cancelUpdate = defineUpdate<SubscriptionState, [CancelRequest]>('cancel');
export const changePlanUpdate = defineUpdate<SubscriptionState, [ChangePlanRequest]>('changePlan');
export const pauseUpdate = defineUpdate<SubscriptionState, [{ at: When }]>('pause');
export const resumeUpdate = defineUpdate<SubscriptionState, [{ at: When }]>('resume');
/** Ends the trial now, or moves its end to another future instant (extends or shortens it). */
export const setTrialEndUpdate = defineUpdate<SubscriptionState, [{ at: When }]>('setTrialEnd');
/** Removes a scheduled change before it happens (a scheduled cancellation: reactivates). */
export const unscheduleUpdate = defineUpdate<SubscriptionState, [{ changeId: string }]>('unschedule');
export const getStateQuery = defineQuery<SubscriptionState>('getState');
/** After the cause of a billing_error has been fixed (data corrected, a deploy): try the stopped step again. */
export const retryBillingSignal = defineSignal('retryBilling');
