import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { Invoice } from '../db/entities/invoice';
import { INVOICE_COLLECTION_WORKFLOW, invoiceWorkflowId, type InvoiceCollectionWorkflow } from '../workflows/messages';

/**
 * Starts collecting an invoice issued outside a subscription's workflow (a one-off invoice, an
 * add-on's), as the workflow does for its own: `invoice-<id>`, once. A retried request finds it
 * started, or finished (a collected invoice is never collected again), and starts nothing.
 * An invoice that asks nothing, or waits for a payment by hand, has nothing to collect.
 */
export async function startCollection(temporal: Client, taskQueue: string, invoice: Pick<Invoice, 'id' | 'subscriptionId' | 'amountDue' | 'collectionMethod'>): Promise<void> {
  if (invoice.amountDue.isZero() || invoice.collectionMethod !== 'charge_automatically') return;
  try {
    await temporal.workflow.start<InvoiceCollectionWorkflow>(INVOICE_COLLECTION_WORKFLOW, {
      taskQueue,
      workflowId: invoiceWorkflowId(invoice.id),
      args: [{ invoiceId: invoice.id, subscriptionId: invoice.subscriptionId }],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}
