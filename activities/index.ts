import { ApplicationFailure } from '@temporalio/activity';
import { issueInvoice, issuePeriodInvoice, recognizeRevenue } from '../db/invoice-store';
import { forkEm, type Orm } from '../db/orm';
import { recordSubscriptionState } from '../db/subscription-store';
import { BillingError } from '../domain/errors';
import { decimalString } from '../domain/money';
import type { SubscriptionState } from '../workflows/messages';

export interface ActivityDeps {
  orm: Orm;
}

export interface IssuedInvoice {
  invoiceId: string;
  number: string;
  total: string;
  currency: string;
}

/** A BillingError will not go away by retrying; tell Temporal so, with its code as the failure type. */
async function nonRetryableOnBillingError<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof BillingError) throw ApplicationFailure.nonRetryable(error.message, error.code);
    throw error;
  }
}

/** Side effects of the billing workflows, built from their dependencies (real Postgres in tests too). */
export function createActivities({ orm }: ActivityDeps) {
  const em = forkEm(orm);
  return {
    async issuePeriodInvoice(request: {
      subscriptionId: string;
      periodIndex: number;
      periodStart: string;
      periodEnd: string;
    }): Promise<IssuedInvoice> {
      return nonRetryableOnBillingError(async () => {
        const invoice = await issuePeriodInvoice(em(), {
          subscriptionId: request.subscriptionId,
          periodIndex: request.periodIndex,
          periodStart: new Date(request.periodStart),
          periodEnd: new Date(request.periodEnd),
          // The invoice is dated at its period's start, also when a backdated period is issued late.
          issuedAt: new Date(request.periodStart),
        });
        return { invoiceId: invoice.id, number: invoice.number, total: decimalString(invoice.total), currency: invoice.currency };
      });
    },

    /** The last invoice: usage since the last period invoice, up to the end; null when there was none. */
    async issueClosingInvoice(request: { subscriptionId: string; periodIndex: number; endsAt: string }): Promise<IssuedInvoice | null> {
      return nonRetryableOnBillingError(async () => {
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
        return invoice && { invoiceId: invoice.id, number: invoice.number, total: decimalString(invoice.total), currency: invoice.currency };
      });
    },

    async recognizeRevenue(request: { invoiceId: string; at: string }): Promise<void> {
      return nonRetryableOnBillingError(() => recognizeRevenue(em(), request.invoiceId, new Date(request.at)));
    },

    async recordSubscriptionState(state: SubscriptionState): Promise<void> {
      return recordSubscriptionState(em(), state);
    },
  };
}

export type BillingActivities = ReturnType<typeof createActivities>;
