import type { NextFunction, Request, Response } from 'express';
import { BillingError } from '../domain/errors';
import type { RateLimits } from '../config/env';
import { take, type Bucket } from '../domain/token-bucket';


/**
 * A token bucket per key, in this process's memory: the limit holds per API replica (N replicas
 * behind a balancer let a key through N times as fast), and a restart refills every bucket. That
 * is enough to stop one runaway client from starving the others, which is what it is for; a limit
 * that must hold cluster-wide belongs at the load balancer. Mounted after authentication (the key
 * is what is limited) and before the body is read (a refused request costs no parsing).
 */
export function rateLimit(limits: RateLimits, now: () => number = Date.now) {
  const buckets = new Map<string, Bucket>();
  return (req: Request, res: Response, next: NextFunction): void => {
    // Mounted under /v1 and on the usage route itself (api/app.ts): the path from the top either way.
    const usage = `${req.baseUrl}${req.path}`.startsWith('/v1/usage_events');
    const name = `${usage ? 'usage' : 'api'}:${req.principal?.keyId ?? ''}`;
    const rate = usage ? limits.usage : limits.api;
    const { bucket, retryAfterSeconds } = take(buckets.get(name), rate, now());
    buckets.set(name, bucket);
    if (retryAfterSeconds !== null) {
      res.set('Retry-After', String(retryAfterSeconds));
      throw new BillingError('rate_limit_error', 'rate_limited', `Too many requests with this key (${rate.perSecond} a second, bursts of ${rate.burst}); retry in ${retryAfterSeconds} s`);
    }
    next();
  };
}
