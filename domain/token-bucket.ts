/** A rate: `perSecond` tokens flow in, up to `burst` held; a request takes one. */
export interface Rate {
  perSecond: number;
  burst: number;
}

export interface Bucket {
  tokens: number;
  at: number;
}

/**
 * Takes a token from `bucket` at time `now` (ms): the bucket as it is after, and either nothing to
 * wait or the whole seconds until a token is there (what Retry-After says).
 */
export function take(bucket: Bucket | undefined, rate: Rate, now: number): { bucket: Bucket; retryAfterSeconds: number | null } {
  const held = bucket ? Math.min(rate.burst, bucket.tokens + ((now - bucket.at) / 1000) * rate.perSecond) : rate.burst;
  if (held >= 1) return { bucket: { tokens: held - 1, at: now }, retryAfterSeconds: null };
  return { bucket: { tokens: held, at: now }, retryAfterSeconds: Math.max(1, Math.ceil((1 - held) / rate.perSecond)) };
}
