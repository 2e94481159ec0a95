import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { invoiceCollection, type InvoiceCollectionView } from '../../services/invoice-collection-state';
import type { ApiDeps } from '../deps';
import { iso, paymentAttemptFieldsJson } from '../serializers';

/** An invoice's collection: the card attempts with their decline codes, and the dunning state its workflow holds. */
export function invoiceCollectionJson(v: InvoiceCollectionView) {
  return {
    object: 'invoice_collection',
    invoice_id: v.invoice.id,
    invoice_status: v.invoice.status,
    collection_method: v.invoice.collectionMethod,
    // Null: no collection workflow answered (a manual or draft invoice, or none reachable now).
    state: v.live
      ? { status: v.live.status, attempts: v.live.attempts, last_outcome: v.live.lastOutcome, first_failure_at: v.live.firstFailureAt, next_retry_at: v.live.nextRetryAt }
      : null,
    subscription_status: v.subscriptionStatus,
    attempts: v.attempts.map((a) => ({ ...paymentAttemptFieldsJson(a), updated_at: iso(a.updatedAt) })),
  };
}

/** GET /v1/invoices/:id/collection (any key): read only. */
export function invoiceCollectionRouter({ orm, temporal }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();
  router.get('/:id/collection', async (req, res) => {
    res.json(invoiceCollectionJson(await invoiceCollection(em(), temporal, String(req.params.id))));
  });
  return router;
}
