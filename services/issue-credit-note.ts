import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import { issueCreditNote as issueInStore } from '../db/adjustment-store';
import type { CreditNote } from '../db/entities/refund';
import { requestAmount } from './amounts';
import { collectionPaid } from './collection-signals';
import { withLines, type InvoiceWithLines } from './invoices';

/**
 * A credit note on an invoice: it lowers what an open invoice asks, or credits the customer for a
 * paid one. `stored` runs inside the note's transaction. Returns whether it settled the invoice.
 */
export async function issueCreditNote(
  em: EntityManager,
  request: { invoiceId: string; amount: string; reason?: string; operationKey: string },
  stored: (tx: EntityManager, outcome: { creditNote: CreditNote; settled: boolean } & InvoiceWithLines) => Promise<void>,
): Promise<void> {
  await issueInStore(
    em,
    { invoiceId: request.invoiceId, amount: requestAmount(request.amount), reason: request.reason ?? null, idempotencyKey: request.operationKey },
    async (tx, { creditNote, invoice, settled }) => {
      const [after] = await withLines(tx, [invoice]);
      await stored(tx, { creditNote, settled, ...after });
    },
  );
}

/** Nothing is left to collect: the invoice's collection stops chasing it (again, after a retry: harmless). */
export const creditNoteSettled = (temporal: Client, invoiceId: string) => collectionPaid(temporal, invoiceId, 'credit_note');
