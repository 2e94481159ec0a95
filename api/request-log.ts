import type { NextFunction, Request, Response } from 'express';
import { withRequestId } from '../observability/log-context';
import type { Logger } from '../observability/logger';
import type { ApiMetrics } from './prometheus';
import { routePattern } from './route-pattern';

declare module 'express-serve-static-core' {
  interface Request {
    /** The logger of this request; lines written while it is handled carry its id (observability/log-context.ts). */
    log: Logger;
  }
}

/** Probes and scrapes arrive every few seconds and say nothing about the business: debug lines. */
const QUIET_ROUTES = new Set(['/health', '/metrics']);

/**
 * One JSON line per request once its answer is sent (or the client has gone: status 499, nginx's
 * name for it), and its latency in the histogram, both named by route pattern. Runs after request-id
 * so every line of the request, this one and any error's, carries the id the caller got.
 */
export function requestLog(log: Logger, metrics: ApiMetrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    // Routers rewrite req.url while they run and may not restore it before the answer is sent.
    const path = req.path;
    req.log = log;
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const status = res.writableFinished ? res.statusCode : 499;
      const route = routePattern(req.method, path);
      metrics.requestDuration.observe({ method: req.method, route, status: String(status) }, seconds);
      const line = {
        method: req.method,
        route,
        // /v1 paths name ids, which is what one looks for in a log; pages' paths may carry portal tokens.
        ...(path.startsWith('/v1/') ? { path } : {}),
        status,
        durationMs: Math.round(seconds * 10_000) / 10,
        ...(req.principal ? { keyId: req.principal.keyId, role: req.principal.role } : {}),
      };
      // Named here: a socket's close is outside the request's context.
      if (QUIET_ROUTES.has(route)) log.debug({ requestId: req.requestId, ...line }, `${req.method} ${route} ${status}`);
      else log.info({ requestId: req.requestId, ...line }, `${req.method} ${route} ${status}`);
    });
    withRequestId(req.requestId, next);
  };
}
