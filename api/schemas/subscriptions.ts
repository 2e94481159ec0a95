import { z } from 'zod';
import { CANCELLATION_COMMENT_MAX, CANCELLATION_REASONS } from '../../domain/cancellation';
import { MAX_QUANTITY } from '../../domain/subscription';
import { amountField, idField, timestampField, whenField } from './fields';
import { listQuery } from './pagination';

export const SUBSCRIPTION_STATUSES = ['scheduled', 'trialing', 'active', 'paused', 'past_due', 'suspended', 'billing_error', 'canceled'] as const;

/** Seats the recurring fee is priced on. */
const quantityField = z.number().int().min(1).max(MAX_QUANTITY).describe(`Seats (licences, units) the recurring fee is priced on, 1 to ${MAX_QUANTITY}`);

/** A customer's contract prices, used instead of its plan's; each charge keeps the plan's model, its properties are checked for it. */
export const OverridesBody = z
  .object({
    amount: amountField.optional(),
    minimum_amount: amountField.optional(),
    charges: z
      .array(z.object({ metric_code: z.string().min(1), properties: z.record(z.string(), z.unknown()) }).strict())
      .max(50)
      .optional(),
  })
  .strict();

export const CreateSubscriptionBody = z
  .object({
    customer_id: idField,
    plan_code: z.string().min(1),
    start_at: timestampField.optional(),
    external_id: z.string().min(1).max(255).optional(),
    billing_alignment: z.enum(['anniversary', 'calendar']).optional(),
    quantity: quantityField.optional(),
    overrides: OverridesBody.optional(),
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
    /** The contract prices on the new plan; null ends them. Absent: kept on another version of the same plan, ended on another plan. */
    overrides: OverridesBody.nullable().optional(),
  })
  .strict();

export const ChangeQuantityBody = z
  .object({
    quantity: quantityField,
    at: whenField(true).default('now'),
    proration: z.enum(['prorate', 'none']).default('prorate'),
  })
  .strict();

/** Why the cancellation was asked for (the portal asks the customer); kept on the subscription. */
const CancellationDetailsBody = z
  .object({ reason: z.enum(CANCELLATION_REASONS), comment: z.string().trim().max(CANCELLATION_COMMENT_MAX).optional() })
  .strict();

export const CancelBody = z.object({ at: whenField(true), prorate: z.boolean().optional(), cancellation_details: CancellationDetailsBody.optional() }).strict();

/** Pause and resume: now (the default) or at a future instant. */
export const AtBody = z.object({ at: whenField(false).default('now') }).strict();

export const ExtendTrialBody = z.object({ trial_end: whenField(false) }).strict();
