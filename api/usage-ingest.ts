import type { EntityManager } from '@mikro-orm/postgresql';
import { Pool } from 'pg';
import { Subscription } from '../db/entities/subscription';
import { BillableMetric } from '../db/entities/usage';
import { storeUsageEvents, type StoreOutcome, type UsageEventRow } from '../db/usage-store';
import { BillingError } from '../domain/errors';
import { eventValue } from '../domain/usage';
import { isExactTimestamp } from './validation';

/**
 * Usage ingestion: validates a batch event by event, resolves metrics and subscriptions (cached:
 * neither a metric's definition nor a subscription's ids ever change), and stores the valid events
 * through a group-committing writer. The answer is sent only after the commit, so an acknowledged
 * event survives a crash right after it.
 */
export const MAX_EVENTS_PER_REQUEST = 1000;

export interface Rejection {
  index: number;
  transaction_id: string | null;
  code: string;
  message: string;
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: Rejection[];
}

const EVENT_FIELDS = new Set(['transaction_id', 'subscription_id', 'external_subscription_id', 'code', 'timestamp', 'properties']);

const STORE_MESSAGES: Record<Exclude<StoreOutcome, 'accepted' | 'duplicate'>, string> = {
  subscription_missing: 'the subscription does not exist',
  timestamp_before_billing_start: "timestamp is before the subscription's first billing period (its start, or the end of its trial)",
  period_already_invoiced: 'timestamp falls in a period whose usage has already been invoiced',
  subscription_ended: 'timestamp is at or after the end of the subscription',
  subscription_paused: 'the subscription is paused: usage from its pause until it resumes is not billed',
};

interface Pending {
  rows: UsageEventRow[];
  resolve(outcomes: StoreOutcome[]): void;
  reject(error: unknown): void;
}

/**
 * Requests arriving while earlier batches are being committed are combined into one statement and
 * one commit (group commit): no timer, so a lone request is written at once, and under load each
 * fsync carries many requests' events.
 */
export class GroupCommitWriter {
  private queue: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly pool: Pool,
    private readonly maxInFlight = 4,
    private readonly maxRows = 5000,
  ) {}

  write(rows: UsageEventRow[]): Promise<StoreOutcome[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ rows, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch: Pending[] = [];
      let size = 0;
      while (this.queue.length > 0 && (batch.length === 0 || size + this.queue[0].rows.length <= this.maxRows)) {
        const next = this.queue.shift()!;
        batch.push(next);
        size += next.rows.length;
      }
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    // The same transaction id twice in one statement: the first is stored, the rest are duplicates.
    // Rows go in transaction-id order so that concurrent statements never wait on each other in a cycle.
    const first = new Map<string, UsageEventRow>();
    for (const p of batch) for (const row of p.rows) if (!first.has(row.transaction_id)) first.set(row.transaction_id, row);
    const rows = [...first.values()].sort((a, b) => (a.transaction_id < b.transaction_id ? -1 : 1));
    try {
      const stored = await storeUsageEvents(this.pool, rows);
      const outcome = new Map(rows.map((row, i) => [row, stored[i]]));
      for (const p of batch) p.resolve(p.rows.map((row) => outcome.get(row) ?? 'duplicate'));
    } catch (error) {
      for (const p of batch) p.reject(error);
    }
  }
}

export function usagePool(databaseUrl: string): Pool {
  const pool = new Pool({ connectionString: databaseUrl, max: 4, allowExitOnIdle: true });
  // An idle connection can be cut (a restart, a dropped test database); the pool replaces it.
  pool.on('error', (error) => console.warn('usage ingest connection lost:', error.message));
  return pool;
}

const invalidBody = (message: string, param = 'events') => new BillingError('invalid_request_error', 'parameter_invalid', message, param);

/** The events of a request: {events: [...]} (up to 1,000) or {event: {...}}. */
export function eventsOf(body: unknown): unknown[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidBody('The body must be an object with "events": [...] or "event": {...}');
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).find((k) => k !== 'events' && k !== 'event');
  if (unknown) throw new BillingError('invalid_request_error', 'parameter_unknown', `Received unknown parameter: ${unknown}`, unknown);
  if ('event' in b && 'events' in b) throw invalidBody('Send either "events" or "event", not both');
  if ('event' in b) return [b.event];
  if (!Array.isArray(b.events)) throw new BillingError('invalid_request_error', b.events === undefined ? 'parameter_missing' : 'parameter_invalid_type', 'events must be an array of usage events', 'events');
  if (b.events.length === 0) throw invalidBody('events must contain at least one event');
  if (b.events.length > MAX_EVENTS_PER_REQUEST) {
    throw new BillingError('invalid_request_error', 'too_many_events', `At most ${MAX_EVENTS_PER_REQUEST} events per request; got ${b.events.length}`, 'events');
  }
  return b.events;
}

interface Checked {
  index: number;
  transactionId: string;
  metricCode: string;
  subscriptionRef: { by: 'id' | 'external_id'; value: string };
  timestamp: string;
  properties: Record<string, unknown>;
}

const isText = (v: unknown, max = 255): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

/** Shape checks of one event; a string is the reason it is rejected. */
function checkShape(event: unknown, index: number, now: string): Checked | Rejection {
  const reject = (code: string, message: string): Rejection => ({
    index,
    transaction_id: typeof event === 'object' && event !== null && isText((event as Record<string, unknown>).transaction_id) ? ((event as Record<string, unknown>).transaction_id as string) : null,
    code,
    message,
  });
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return reject('parameter_invalid', 'each event must be an object');
  const e = event as Record<string, unknown>;
  for (const key of Object.keys(e)) if (!EVENT_FIELDS.has(key)) return reject('parameter_unknown', `unknown parameter: ${key}`);
  if (!isText(e.transaction_id)) return reject(e.transaction_id === undefined ? 'parameter_missing' : 'parameter_invalid', 'transaction_id must be a string of 1 to 255 characters');
  if (!isText(e.code)) return reject(e.code === undefined ? 'parameter_missing' : 'parameter_invalid', 'code (the metric code) must be a non-empty string');
  const hasId = e.subscription_id !== undefined;
  const hasExternal = e.external_subscription_id !== undefined;
  if (hasId === hasExternal) return reject(hasId ? 'parameter_invalid' : 'parameter_missing', 'give exactly one of subscription_id and external_subscription_id');
  const ref = hasId ? { by: 'id' as const, value: e.subscription_id } : { by: 'external_id' as const, value: e.external_subscription_id };
  if (!isText(ref.value)) return reject('parameter_invalid', `${hasId ? 'subscription_id' : 'external_subscription_id'} must be a non-empty string`);
  if (e.timestamp !== undefined && !(typeof e.timestamp === 'string' && isExactTimestamp(e.timestamp))) {
    return reject('parameter_invalid', 'timestamp must be an ISO 8601 timestamp with a time zone, such as "2026-01-31T12:00:00Z"');
  }
  if (e.properties !== undefined && (typeof e.properties !== 'object' || e.properties === null || Array.isArray(e.properties))) {
    return reject('parameter_invalid', 'properties must be an object');
  }
  return {
    index,
    transactionId: e.transaction_id,
    metricCode: e.code,
    subscriptionRef: { by: ref.by, value: ref.value as string },
    timestamp: e.timestamp === undefined ? now : new Date(e.timestamp as string).toISOString(),
    properties: (e.properties as Record<string, unknown> | undefined) ?? {},
  };
}

export class UsageIngest {
  private readonly metrics = new Map<string, BillableMetric>();
  private readonly subscriptions = new Map<string, string>();
  private readonly writer: GroupCommitWriter;

  constructor(
    private readonly em: () => EntityManager,
    pool: Pool,
  ) {
    this.writer = new GroupCommitWriter(pool);
  }

  private async resolveMetrics(codes: Set<string>): Promise<void> {
    const missing = [...codes].filter((c) => !this.metrics.has(c));
    if (missing.length === 0) return;
    for (const m of await this.em().find(BillableMetric, { code: missing })) this.metrics.set(m.code, m);
  }

  private async resolveSubscriptions(refs: Array<Checked['subscriptionRef']>): Promise<void> {
    const ids = refs.filter((r) => r.by === 'id' && !this.subscriptions.has(`id:${r.value}`)).map((r) => r.value);
    const externals = refs.filter((r) => r.by === 'external_id' && !this.subscriptions.has(`external_id:${r.value}`)).map((r) => r.value);
    if (ids.length === 0 && externals.length === 0) return;
    const found = await this.em().find(Subscription, { $or: [{ id: [...new Set(ids)] }, { externalId: [...new Set(externals)] }] }, { fields: ['id', 'externalId'] });
    // Bounded: a cache miss costs one query per batch, not a wrong answer.
    if (this.subscriptions.size > 100_000) this.subscriptions.clear();
    for (const s of found) {
      this.subscriptions.set(`id:${s.id}`, s.id);
      if (s.externalId) this.subscriptions.set(`external_id:${s.externalId}`, s.id);
    }
  }

  async ingest(events: unknown[], receivedAt: Date = new Date()): Promise<IngestResult> {
    const now = receivedAt.toISOString();
    const rejected: Rejection[] = [];
    const checked: Checked[] = [];
    events.forEach((event, index) => {
      const result = checkShape(event, index, now);
      if ('code' in result && !('metricCode' in result)) rejected.push(result);
      else checked.push(result as Checked);
    });
    await this.resolveMetrics(new Set(checked.map((c) => c.metricCode)));
    await this.resolveSubscriptions(checked.map((c) => c.subscriptionRef));

    const rows: UsageEventRow[] = [];
    const rowIndex: number[] = [];
    for (const c of checked) {
      const reject = (code: string, message: string) => rejected.push({ index: c.index, transaction_id: c.transactionId, code, message });
      const metric = this.metrics.get(c.metricCode);
      if (!metric) {
        reject('metric_not_found', `No such billable metric: '${c.metricCode}'`);
        continue;
      }
      const subscriptionId = this.subscriptions.get(`${c.subscriptionRef.by}:${c.subscriptionRef.value}`);
      if (!subscriptionId) {
        reject('subscription_not_found', `No such subscription: '${c.subscriptionRef.value}' (by ${c.subscriptionRef.by === 'id' ? 'subscription_id' : 'external_subscription_id'})`);
        continue;
      }
      const value = eventValue(metric.aggregation, metric.field ?? null, c.properties);
      if ('error' in value) {
        reject(value.code, value.error);
        continue;
      }
      rows.push({ transaction_id: c.transactionId, subscription_id: subscriptionId, metric_id: metric.id, timestamp: c.timestamp, value: value.value, properties: c.properties });
      rowIndex.push(c.index);
    }

    const outcomes = await this.writer.write(rows);
    let accepted = 0;
    let duplicates = 0;
    outcomes.forEach((outcome, i) => {
      if (outcome === 'accepted') accepted++;
      else if (outcome === 'duplicate') duplicates++;
      else rejected.push({ index: rowIndex[i], transaction_id: rows[i].transaction_id, code: outcome, message: STORE_MESSAGES[outcome] });
    });
    rejected.sort((a, b) => a.index - b.index);
    return { accepted, duplicates, rejected };
  }
}
