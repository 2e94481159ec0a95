import type { EntityManager } from '@mikro-orm/postgresql';
import type { Role } from '../config/env';
import type { Page, PageRequest } from './pagination';
import { newestFirstPage } from './row-pages';
import { newId } from './ids';

export interface AuditEntry {
  actorKeyId: string;
  actorRole: Role;
  method: string;
  route: string;
  resourceType: string | null;
  resourceId: string | null;
  requestId: string;
  idempotencyKey: string | null;
  before: unknown;
  after: unknown;
}

export interface AuditEventRecord extends AuditEntry {
  id: string;
  createdAt: Date;
}

/** Raw rows: the driver may give timestamps as text. */
interface AuditEventRow {
  id: string;
  actor_key_id: string;
  actor_role: Role;
  method: string;
  route: string;
  resource_type: string | null;
  resource_id: string | null;
  request_id: string;
  idempotency_key: string | null;
  before: unknown;
  after: unknown;
  created_at: Date | string;
}

const record = (r: AuditEventRow): AuditEventRecord => ({
  id: r.id,
  actorKeyId: r.actor_key_id,
  actorRole: r.actor_role,
  method: r.method,
  route: r.route,
  resourceType: r.resource_type,
  resourceId: r.resource_id,
  requestId: r.request_id,
  idempotencyKey: r.idempotency_key,
  before: r.before,
  after: r.after,
  createdAt: new Date(r.created_at),
});

/**
 * Appends one event. A mutation retried under the same Idempotency-Key (its first attempt died after
 * committing, or after this very insert) is still one mutation: the second insert adds nothing.
 */
export async function appendAuditEvent(em: EntityManager, entry: AuditEntry): Promise<void> {
  await em.execute(
    `insert into audit_events (id, actor_key_id, actor_role, method, route, resource_type, resource_id, request_id, idempotency_key, before, after)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb)
     on conflict (actor_key_id, idempotency_key) where idempotency_key is not null do nothing`,
    [
      newId('aud'),
      entry.actorKeyId,
      entry.actorRole,
      entry.method,
      entry.route,
      entry.resourceType,
      entry.resourceId,
      entry.requestId,
      entry.idempotencyKey,
      entry.before === undefined || entry.before === null ? null : JSON.stringify(entry.before),
      entry.after === undefined || entry.after === null ? null : JSON.stringify(entry.after),
    ],
  );
}

export interface AuditFilter {
  resourceId?: string;
  actor?: string;
  from?: Date;
  to?: Date;
}

export async function listAuditEvents(em: EntityManager, filter: AuditFilter, page: PageRequest): Promise<Page<AuditEventRecord>> {
  const conditions: Array<[string, unknown]> = [];
  if (filter.resourceId !== undefined) conditions.push(['resource_id = ?', filter.resourceId]);
  if (filter.actor !== undefined) conditions.push(['actor_key_id = ?', filter.actor]);
  if (filter.from !== undefined) conditions.push(['created_at >= ?', filter.from]);
  if (filter.to !== undefined) conditions.push(['created_at < ?', filter.to]);
  const where = conditions.map(([sql]) => sql);
  const params = conditions.map(([, value]) => value);
  const found = await newestFirstPage<AuditEventRow>(em, { table: 'audit_events', where, params, noun: 'audit event' }, page);
  return { data: found.data.map(record), hasMore: found.hasMore };
}
