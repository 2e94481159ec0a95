import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import Decimal from 'decimal.js';
import type { Invoice } from '../db/entities/invoice';
import { Subscription } from '../db/entities/subscription';
import type { PaymentAttemptFields } from '../db/resource-json';
import type { CollectionState } from '../domain/collection';
import { collectionStateQuery, invoiceWorkflowId } from '../workflows/messages';
import { invoiceOf } from './lookups';

/** How long a read waits for the collection's workflow before answering without its live state. */
const QUERY_DEADLINE_MS = 5_000;

/** One charge of the invoice's card, and when it last changed. */
export interface PaymentAttemptView extends PaymentAttemptFields {
  updatedAt: Date;
}

export interface InvoiceCollectionView {
  invoice: Invoice;
  attempts: PaymentAttemptView[];
  /** As the invoice's collection workflow answers now; null when it has none or cannot answer in time. */
  live: CollectionState | null;
  /** The status of the invoice's subscription (suspended when its dunning ran out), null for an invoice of the customer alone. */
  subscriptionStatus: string | null;
}

interface AttemptRow {
  attempt: number;
  amount: string;
  currency: string;
  status: string;
  payment_intent_id: string | null;
  failure_code: string | null;
  decline_code: string | null;
  failure_message: string | null;
  hard_decline: boolean;
  created_at: Date;
  updated_at: Date;
}

/**
 * Where the collection of an invoice stands: every card attempt with its decline codes (stored by
 * the collection's activities), the dunning state its workflow holds (next retry, attempts so far),
 * and whether the subscription was suspended for it. Reads only.
 */
export async function invoiceCollection(em: EntityManager, temporal: Client, invoiceId: string): Promise<InvoiceCollectionView> {
  const invoice = await invoiceOf(em, invoiceId);
  const rows = await em.execute<AttemptRow[]>(
    `select attempt, amount::text as amount, currency, status, payment_intent_id, failure_code, decline_code, failure_message, hard_decline, created_at, updated_at
       from payment_attempts where invoice_id = ? order by attempt`,
    [invoice.id],
  );
  const subscription = invoice.subscriptionId ? await em.findOne(Subscription, { id: invoice.subscriptionId }) : null;
  return {
    invoice,
    attempts: rows.map((r) => ({
      attempt: r.attempt,
      amount: new Decimal(r.amount),
      currency: r.currency,
      status: r.status,
      paymentIntentId: r.payment_intent_id,
      failureCode: r.failure_code,
      declineCode: r.decline_code,
      failureMessage: r.failure_message,
      hardDecline: r.hard_decline,
      createdAt: new Date(r.created_at),
      updatedAt: new Date(r.updated_at),
    })),
    live: await collectionState(temporal, invoice.id),
    subscriptionStatus: subscription?.status ?? null,
  };
}

async function collectionState(temporal: Client, invoiceId: string): Promise<CollectionState | null> {
  try {
    return await temporal.connection.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => temporal.workflow.getHandle(invoiceWorkflowId(invoiceId)).query(collectionStateQuery));
  } catch {
    // No collection workflow (a manual invoice, a draft) or none reachable: the attempts still answer.
    return null;
  }
}
