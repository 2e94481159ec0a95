import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { Cadence } from '../domain/period';

/** Shared by the API (client side) and the workflows: the default task queue and every message definition. */
export const TASK_QUEUE = 'billing';

export const subscriptionWorkflowId = (subscriptionId: string): string => `subscription-${subscriptionId}`;

export type SubscriptionStatus = 'scheduled' | 'trialing' | 'active' | 'canceled';

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
}

export interface UpcomingEvent {
  at: string;
  event: 'start' | 'trial_end' | 'renewal' | 'cancellation';
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
}

export type CancelAt = 'now' | 'period_end';

export interface CancelRequest {
  at: CancelAt;
}

export const cancelUpdate = defineUpdate<SubscriptionState, [CancelRequest]>('cancel');
export const getStateQuery = defineQuery<SubscriptionState>('getState');
