import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { ApiMetrics } from '../prometheus';
import type { UsageIngest } from '../usage-ingest';
import { eventsOf } from '../usage-ingest';
import { usageEventBatchJson } from '../serializers';

/**
 * POST /v1/usage_events: 202 once the valid events are durably stored, with per-event rejections
 * (by index) and duplicates counted; a repeated transaction_id is never counted twice, and one that
 * names a different event is refused for that event (transaction_id_conflict).
 */
export function usageEventsHandler(ingest: UsageIngest, metrics: ApiMetrics): RequestHandler {
  return async (req, res) => {
    const result = await ingest.ingest(eventsOf(req.body));
    metrics.countUsage({ accepted: result.accepted, duplicate: result.duplicates, rejected: result.rejected.length });
    res.status(202).json(usageEventBatchJson(result));
  };
}

/**
 * The given middleware one after another, as a route of their own: the hottest route of the API
 * goes through the same steps as every /v1 write (headers, key, rate, body, role) without walking
 * the router's layers for each request. An error, thrown or passed on, goes to the app's error
 * handler as anywhere else.
 */
export function inSequence(...handlers: RequestHandler[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    let at = 0;
    const step = (error?: unknown): void => {
      if (error !== undefined && error !== null) return next(error);
      const handler = handlers[at++];
      if (!handler) return next();
      try {
        const returned = handler(req, res, step) as unknown;
        if (returned instanceof Promise) returned.catch((e: unknown) => step(e ?? new Error('rejected without a reason')));
      } catch (e) {
        step(e ?? new Error('thrown without a reason'));
      }
    };
    step();
  };
}
