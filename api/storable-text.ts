import type { NextFunction, Request, Response } from 'express';
import { BillingError } from '../domain/errors';

/**
 * Postgres text cannot hold U+0000: a request carrying one anywhere (the path, the query, the JSON
 * body) is refused with a 400 naming where, instead of failing in the database as a 500. Usage
 * events are checked event by event by api/usage-ingest.ts and are mounted before this.
 */
export function refuseUnstorableText(req: Request, _res: Response, next: NextFunction): void {
  if (/%00/.test(req.path)) throw unstorable(undefined, 'the path');
  const at = nulAt(req.query, []) ?? nulAt(req.body, []);
  if (at) throw unstorable(at.join('.'), at.join('.') || 'the body');
  next();
}

function unstorable(param: string | undefined, where: string): BillingError {
  return new BillingError('invalid_request_error', 'parameter_invalid', `Invalid ${where}: contains U+0000, which cannot be stored`, param);
}

/** The path to the first string (or key) holding U+0000, or null. */
function nulAt(value: unknown, path: string[]): string[] | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (typeof value !== 'object' || value === null) return null;
  for (const [key, item] of Object.entries(value)) {
    if (key.includes('\u0000')) return [...path, key];
    const found = nulAt(item, [...path, key]);
    if (found) return found;
  }
  return null;
}
