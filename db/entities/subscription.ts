import { EntitySchema } from '@mikro-orm/core';
import type { ContractOverrides } from '../../domain/subscription';

export type SubscriptionStatus = 'scheduled' | 'trialing' | 'active' | 'past_due' | 'suspended' | 'paused' | 'canceled' | 'billing_error';

/** The stored record of a subscription; its timeline is owned by its workflow, which keeps this row current. */
export class Subscription {
  id!: string;
  customerId!: string;
  planId!: string;
  status!: SubscriptionStatus;
  startAt!: Date;
  trialEnd?: Date | null;
  billingAnchor!: Date;
  currentPeriodStart?: Date | null;
  currentPeriodEnd?: Date | null;
  cancelAtPeriodEnd = false;
  canceledAt?: Date | null;
  workflowId!: string;
  /** The producer's own id for the subscription, so usage events can name it without ours. */
  externalId?: string | null;
  /** Usage before this instant is billed (or precedes billing); written only under the usage lock. */
  usageClosedUntil!: Date;
  usageEndsAt?: Date | null;
  billingAlignment: 'anniversary' | 'calendar' = 'anniversary';
  timezone = 'UTC';
  /** What the workflow will change and when (mirrored, as the API shows it). */
  scheduledChanges: unknown[] = [];
  pausedAt?: Date | null;
  /** Seats: the recurring fee is priced on this many (mirrored from the workflow). */
  quantity = 1;
  /** The customer's contract prices, used instead of the plan's; null: the plan's (mirrored from the workflow). */
  overrides?: ContractOverrides | null;
  /** Version of the workflow state last written here; older writes are ignored. */
  stateVersion = 0;
  /** Why a cancellation was asked for (domain/cancellation.ts); written by the API, never by the workflow. */
  cancellationReason?: string | null;
  cancellationComment?: string | null;
  createdAt: Date = new Date();
}

export const SubscriptionSchema = new EntitySchema<Subscription>({
  class: Subscription,
  tableName: 'subscriptions',
  properties: {
    id: { type: 'string', primary: true },
    customerId: { type: 'string' },
    planId: { type: 'string' },
    status: { type: 'string' },
    startAt: { type: 'Date' },
    trialEnd: { type: 'Date', nullable: true },
    billingAnchor: { type: 'Date' },
    currentPeriodStart: { type: 'Date', nullable: true },
    currentPeriodEnd: { type: 'Date', nullable: true },
    cancelAtPeriodEnd: { type: 'boolean' },
    canceledAt: { type: 'Date', nullable: true },
    workflowId: { type: 'string' },
    externalId: { type: 'string', nullable: true },
    usageClosedUntil: { type: 'Date' },
    usageEndsAt: { type: 'Date', nullable: true },
    billingAlignment: { type: 'string' },
    timezone: { type: 'string' },
    scheduledChanges: { type: 'json' },
    pausedAt: { type: 'Date', nullable: true },
    quantity: { type: 'integer' },
    overrides: { type: 'json', nullable: true },
    stateVersion: { type: 'integer' },
    cancellationReason: { type: 'string', nullable: true },
    cancellationComment: { type: 'string', nullable: true },
    createdAt: { type: 'Date' },
  },
});
