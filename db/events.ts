import type { EntityManager } from '@mikro-orm/postgresql';
import type { EventType } from '../domain/events';
import { newId } from './ids';

export interface RecordEventRequest {
  type: EventType;
  /**
   * Names the fact, not the call: `${type}:${object id}` for a fact that happens once per object
   * (`invoice.paid:in_…`), with whatever else makes it unique otherwise (`subscription.updated:sub_…:<change id>`).
   * Reporting the same fact again (a retried activity, a replayed request) adds nothing.
   */
  key: string;
  /** The object as the API shows it (api/serializers.ts); becomes the event's `data.object`. */
  object: { id: string } & Record<string, unknown>;
  customerId?: string | null;
}

export interface EventRow {
  id: string;
  type: EventType;
  object_id: string | null;
  customer_id: string | null;
  data: { object: Record<string, unknown> };
  created_at: Date;
}

/**
 * Writes an event to the outbox. Call it with the EntityManager of the transaction that writes the
 * fact (inside `em.transactional`, or a forked em whose flush commits the fact), so the event commits
 * or rolls back with it: never sent for a fact that rolled back, never lost for one that committed.
 * Returns the event's id (the existing one when the fact was reported before).
 */
export async function recordEvent(em: EntityManager, request: RecordEventRequest): Promise<string> {
  const rows = await em.execute<Array<{ id: string }>>(
    `insert into events (id, idempotency_key, type, object_id, customer_id, data)
     values (?, ?, ?, ?, ?, ?)
     on conflict (idempotency_key) do update set idempotency_key = excluded.idempotency_key
     returning id`,
    [newId('evt'), request.key, request.type, request.object.id, request.customerId ?? null, JSON.stringify({ object: request.object })],
  );
  return rows[0].id;
}
