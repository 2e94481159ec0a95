import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { invoiceFinalizedSignal, invoicePaidSignal, invoiceVoidedSignal, invoiceWorkflowId, paymentMethodUpdatedSignal } from '../workflows/messages';

/**
 * Tells an invoice's collection workflow what happened outside it. An invoice without one (issued
 * before collection existed, or already settled and finished) has nothing to tell.
 */
async function signalCollection(temporal: Client, invoiceId: string, send: (handle: ReturnType<Client['workflow']['getHandle']>) => Promise<void>): Promise<void> {
  try {
    await send(temporal.workflow.getHandle(invoiceWorkflowId(invoiceId)));
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return;
    throw error;
  }
}

export const collectionPaid = (temporal: Client, invoiceId: string, source: string) => signalCollection(temporal, invoiceId, (h) => h.signal(invoicePaidSignal, { source }));

export const collectionPaymentMethodUpdated = (temporal: Client, invoiceId: string) => signalCollection(temporal, invoiceId, (h) => h.signal(paymentMethodUpdatedSignal));

/** A draft was finalised before its grace end: collect it now. */
export const collectionFinalized = (temporal: Client, invoiceId: string) => signalCollection(temporal, invoiceId, (h) => h.signal(invoiceFinalizedSignal));

/** The invoice was voided: stop collecting it. */
export const collectionVoided = (temporal: Client, invoiceId: string) => signalCollection(temporal, invoiceId, (h) => h.signal(invoiceVoidedSignal));
