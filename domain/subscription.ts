import type { Alignment, Cadence } from './period';

/**
 * What a subscription is, as its workflow reports it: the records the workflow's messages carry, the
 * stores keep and the API serialises. Declared here so that none of them has to import workflow code.
 */

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

/**
 * A customer's contract prices, used instead of its plan's: the fee per seat for a whole period,
 * the minimum commitment, and charges' properties (each charge keeps the plan's model). Amounts are
 * decimal strings; charge properties are stored as the plan stores them. Absent fields: the plan's.
 */
export interface ContractOverrides {
  amount?: string;
  minimumAmount?: string;
  charges?: Array<{ metricCode: string; properties: Record<string, unknown> }>;
}

/** A change the workflow will make at `at` (ISO 8601), listed on the subscription until it happens. */
export type ScheduledChange = { id: string; at: string; atPeriodEnd: boolean } & (
  /** `overrides`: the contract prices on the new plan (null: none); absent: kept on another version of the same plan, dropped on another plan. */
  | { kind: 'change_plan'; plan: PlanSnapshot; proration: Proration; overrides?: ContractOverrides | null }
  | { kind: 'change_quantity'; quantity: number; proration: Proration }
  | { kind: 'pause' }
  | { kind: 'resume' }
  | { kind: 'cancel'; prorate: boolean }
);

/** How far an invoice's collection is behind: overdue (a charge failed) or failed (the dunning schedule ran out). */
export type CollectionLag = 'overdue' | 'failed';

export interface UpcomingEvent {
  at: string;
  event: 'start' | 'trial_end' | 'renewal' | 'cancellation' | 'plan_change' | 'quantity_change' | 'pause' | 'resume';
  /** The scheduled change behind the event, when there is one (to replace or remove it). */
  changeId?: string;
}

export interface InvoiceSummary {
  invoiceId: string;
  /** Null while the invoice is a draft. */
  number: string | null;
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
  /** Seats the recurring fee is priced on; absent in states published before quantities (1). */
  quantity?: number;
  /** Contract prices in effect; absent in states published before them (none). */
  overrides?: ContractOverrides | null;
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
  /** The contract prices on the new plan (null: none); absent: see ScheduledChange. */
  overrides?: ContractOverrides | null;
}

/** The most seats a subscription may have. */
export const MAX_QUANTITY = 1_000_000;

/** A new number of seats: now (credit and charge the rest of the period, with proration), at period end or at an instant. */
export interface ChangeQuantityRequest {
  quantity: number;
  at: When;
  proration: Proration;
}
