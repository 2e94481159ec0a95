/**
 * An event as the API lists it (GET /v1/events) and as a webhook delivers it, the same bytes for
 * every endpoint and every attempt: `{ id, object: "event", type, created_at, data: { object } }`.
 */
export interface EventEnvelope {
  id: string;
  object: 'event';
  type: string;
  created_at: string;
  data: { object: Record<string, unknown> };
}

export function eventEnvelope(row: { id: string; type: string; created_at: Date; data: { object: Record<string, unknown> } }): EventEnvelope {
  return { id: row.id, object: 'event', type: row.type, created_at: row.created_at.toISOString(), data: { object: row.data.object } };
}
