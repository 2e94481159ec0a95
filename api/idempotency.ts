import { createHash } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { NextFunction, Request, Response } from 'express';
import { BillingError } from '../domain/errors';

/**
 * Stripe-style `Idempotency-Key` on POST: the first request with a key runs and its response is
 * stored; a retry with the same key and body gets the stored response and changes nothing; the same
 * key with another body is refused. 5xx outcomes are not stored, so a retry may succeed later.
 */
export function idempotency(em: () => EntityManager) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const key = req.get('idempotency-key');
    if (req.method !== 'POST' || key === undefined) return next();
    if (key.length === 0 || key.length > 255) {
      throw new BillingError('invalid_request_error', 'idempotency_key_invalid', 'Idempotency-Key must be 1 to 255 characters', 'Idempotency-Key');
    }
    const principal = req.principal?.keyId ?? 'anonymous';
    const requestHash = createHash('sha256').update(`${req.method} ${req.originalUrl}\n${JSON.stringify(req.body ?? null)}`).digest('hex');
    const inserted = await em().execute<Array<{ key: string }>>(
      `insert into idempotency_keys (principal, key, method, path, request_hash) values (?, ?, ?, ?, ?)
       on conflict do nothing returning key`,
      [principal, key, req.method, req.originalUrl, requestHash],
    );
    if (inserted.length === 0) {
      const [stored] = await em().execute<Array<{ request_hash: string; status_code: number | null; response_body: unknown }>>(
        'select request_hash, status_code, response_body from idempotency_keys where principal = ? and key = ?',
        [principal, key],
      );
      if (stored.request_hash !== requestHash) {
        throw new BillingError('idempotency_error', 'idempotency_key_reused', `Idempotency-Key "${key}" was already used with a different request`, 'Idempotency-Key');
      }
      if (stored.status_code === null) {
        throw new BillingError('conflict_error', 'idempotency_key_in_use', `A request with Idempotency-Key "${key}" is still being processed; retry shortly`);
      }
      res.set('Idempotent-Replayed', 'true').status(stored.status_code).json(stored.response_body);
      return;
    }
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      const done = res.statusCode >= 500
        ? em().execute('delete from idempotency_keys where principal = ? and key = ?', [principal, key])
        : em().execute('update idempotency_keys set status_code = ?, response_body = ? where principal = ? and key = ?', [res.statusCode, JSON.stringify(body), principal, key]);
      // The response waits for the record, so a client that retries after it has the answer replays it.
      done.then(
        () => json(body),
        (error: unknown) => {
          console.error('storing idempotent response failed:', error);
          json(body);
        },
      );
      return res;
    };
    next();
  };
}
