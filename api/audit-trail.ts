import type { EntityManager } from '@mikro-orm/postgresql';
import type { NextFunction, Request, Response } from 'express';
import { appendAuditEvent } from '../db/audit-log';
import { logger } from '../observability/logger';
import type { ResourceReader } from './audit-readers';

/**
 * The audit log of every change made through /v1: each successful (2xx) POST, DELETE or PATCH,
 * the console's included (its forms are /v1 calls over loopback), records who (the key id and its
 * role), what (the route pattern, the resource's type and id), the request id and Idempotency-Key,
 * the resource before (when the change is to an existing resource the path names) and the answer.
 *
 * What is and is not atomic with the change: the row is written after the change committed and
 * before its answer is sent, in a transaction of its own (the services' transactions know nothing
 * of HTTP). So an answered change is always in the log; a process that dies between the commit and
 * this insert leaves the change unlogged, unless the request carried an Idempotency-Key: its retry
 * resumes the request (api/idempotency.ts), answers again, and writes the row then. The same key
 * never makes two rows (a unique index), and a replay of a stored answer never reaches this code.
 * A failed insert is logged and the answer still sent: the change has happened and the caller
 * must learn of it.
 *
 * Not recorded: usage events (each is a deduplicated record of its own, and producers send them by
 * the thousand; they are mounted before this), previews (POST …/preview changes nothing), refusals.
 */
export function auditTrail(em: () => EntityManager, readers: Record<string, ResourceReader>) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method) || /\/preview\/?$/.test(req.path)) return next();
    const principal = req.principal;
    if (!principal) return next();
    // The path as mounted under /v1: /customers/cus_…/tax_rates names the customer cus_….
    const [collection, key] = req.path.split('/').filter(Boolean);
    const reader = key === undefined ? undefined : readers[collection];
    // A resource that cannot be read (missing: the route answers 404 itself) has no before.
    const before = reader ? await Promise.resolve().then(() => reader(em(), decodeURIComponent(key))).catch(() => null) : null;

    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      if (res.statusCode < 200 || res.statusCode >= 300) return json(body);
      const after = recordable(body);
      const afterId = idOf(after);
      appendAuditEvent(em(), {
        actorKeyId: principal.keyId,
        actorRole: principal.role,
        method: req.method,
        route: `${req.method} ${`${req.baseUrl}${req.route?.path ?? ''}`.replace(/\/$/, '')}`,
        resourceType: typeOf(after) ?? singular(collection),
        resourceId: afterId ?? (key === undefined ? null : decodeURIComponent(key)),
        requestId: req.requestId,
        idempotencyKey: req.get('idempotency-key') ?? null,
        // Only a change of the resource the path names has a before: an attached card is not its customer.
        before: before !== null && afterId !== null && idOf(before) === afterId ? before : null,
        after,
      }).then(
        () => json(body),
        (error: unknown) => {
          (req.log ?? logger).error({ err: error, method: req.method, requestId: req.requestId }, 'recording the audit event of a change failed; the change stands');
          json(body);
        },
      );
      return res;
    };
    next();
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const idOf = (v: unknown): string | null => (isObject(v) && typeof v.id === 'string' ? v.id : null);

const typeOf = (v: unknown): string | null => (isObject(v) && typeof v.object === 'string' && v.object !== 'list' ? v.object : null);

const singular = (collection: string | undefined): string | null => (collection ? collection.replace(/ies$/, 'y').replace(/s$/, '') : null);

/** The answer as the log keeps it: never a secret shown once, nor a portal link (it signs a customer in). */
function recordable(body: unknown): unknown {
  if (!isObject(body)) return body ?? null;
  const kept = { ...body };
  delete kept.secret;
  if (kept.object === 'portal_session') delete kept.url;
  return kept;
}
