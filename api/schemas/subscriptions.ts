import { z } from 'zod';
import { idField, timestampField, whenField } from './fields';
import { listQuery } from './pagination';

export const SUBSCRIPTION_STATUSES = ['scheduled', 'trialing', 'active', 'paused', 'past_due', 'suspended', 'billing_error', 'canceled'] as const;

export const CreateSubscriptionBody = z
  .object({
    customer_id: idField,
    plan_code: z.string().min(1),
    start_at: timestampField.optional(),
    external_id: z.string().min(1).max(255).optional(),
    billing_alignment: z.enum(['anniversary', 'calendar']).optional(),
  })
  .strict();

export const ListSubscriptionsQuery = listQuery({
  customer_id: idField.optional(),
  status: z.enum(SUBSCRIPTION_STATUSES).optional(),
  plan_code: z.string().min(1).optional(),
});

export const ChangePlanBody = z
  .object({
    plan_code: z.string().min(1),
    plan_version: z.number().int().min(1).optional(),
    at: whenField(true).default('now'),
    proration: z.enum(['prorate', 'none']).default('prorate'),
  })
  .strict();

export const CancelBody = z.object({ at: whenField(true), prorate: z.boolean().optional() }).strict();

/** Pause and resume: now (the default) or at a future instant. */
export const AtBody = z.object({ at: whenField(false).default('now') }).strict();

export const ExtendTrialBody = z.object({ trial_end: whenField(false) }).strict();
