import { Router } from 'express';
import type { ApiMetrics } from '../prometheus';
import type { UsageIngest } from '../usage-ingest';
import { eventsOf } from '../usage-ingest';
import { usageEventBatchJson } from '../serializers';

/**
 * POST /v1/usage_events: 202 once the valid events are durably stored, with per-event rejections
 * (by index) and duplicates counted; a repeated transaction_id is never counted twice, and one that
 * names a different event is refused for that event (transaction_id_conflict).
 */
export function usageEventsRouter(ingest: UsageIngest, metrics: ApiMetrics): Router {
  const router = Router();
  router.post('/', async (req, res) => {
    const result = await ingest.ingest(eventsOf(req.body));
    metrics.countUsage({ accepted: result.accepted, duplicate: result.duplicates, rejected: result.rejected.length });
    res.status(202).json(usageEventBatchJson(result));
  });
  return router;
}
