import type { Client } from '@temporalio/client';
import type { EntityManager } from '@mikro-orm/postgresql';
import { finaliseDraft, type DraftLine } from '../db/draft-invoice-store';
import { addDraftLine } from '../db/draft-invoice-store';
import type { Invoice, InvoiceLine } from '../db/entities/invoice';
import { voidInvoice } from '../db/void-invoice-store';
import { collectionFinalized, collectionVoided } from './collection-signals';
import type { InvoiceWithLines } from './invoices';

type Stored = (tx: EntityManager, outcome: { invoice: Invoice; lines: InvoiceLine[] }) => Promise<void>;

/** Adds a one-off line (or, with a negative unit amount, a credit line) to a draft invoice; `stored` records the request. */
export function addInvoiceLine(em: EntityManager, invoiceId: string, line: DraftLine, stored: Stored): Promise<void> {
  return addDraftLine(em, invoiceId, line, stored);
}

/**
 * Finalises a draft now (numbered, posted, credit applied) and tells its collection to collect at
 * once rather than at the grace end. A finalised invoice is answered as it stands.
 */
export async function finalizeInvoice(em: EntityManager, temporal: Client, invoiceId: string): Promise<InvoiceWithLines> {
  const { invoice, lines } = await finaliseDraft(em, invoiceId, new Date());
  // Sent again when asked again: the collection may have missed it, and a second signal changes nothing.
  if (invoice.status === 'open' || invoice.status === 'paid') await collectionFinalized(temporal, invoiceId);
  return { invoice, lines };
}

/** Voids an open invoice nothing was paid on (db/void-invoice-store.ts); `stored` records the request. */
export function voidOpenInvoice(em: EntityManager, invoiceId: string, stored: Stored): Promise<void> {
  return voidInvoice(em, invoiceId, new Date(), stored);
}

/** Stops a voided invoice's collection (sent again by a retried request; a second signal changes nothing). */
export const voidedCollectionStops = (temporal: Client, invoiceId: string) => collectionVoided(temporal, invoiceId);
