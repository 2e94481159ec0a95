import type { EntityManager } from '@mikro-orm/postgresql';
import { Pool } from 'pg';
import { Subscription } from '../db/entities/subscription';
import { BillableMetric } from '../db/entities/usage';
import { encodeUsageEvent, storeEncodedUsageEvents, type StoreOutcome, type StoredEvent, type UsageEventRow } from '../db/usage-store';
import { BillingError } from '../domain/errors';
import { eventValue } from '../domain/usage';
import { isExactTimestamp } from './schemas/fields';
import { logger } from '../observability/logger';

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

const STORE_MESSAGES: Record<Exclude<WriteOutcome, 'accepted' | 'duplicate' | 'transaction_id_conflict' | 'event_not_storable'>, string> = {
  subscription_missing: 'the subscription does not exist',
  timestamp_before_billing_start: "timestamp is before the subscription's first billing period (its start, or the end of its trial)",
  period_already_invoiced: 'timestamp falls in a period whose usage has already been invoiced',
  subscription_ended: 'timestamp is at or after the end of the subscription',
  subscription_paused: 'the subscription is paused: usage from its pause until it resumes is not billed',
};

/** What became of one event given to the writer: the database's answer, or refused by Postgres on its own. */
export type WriteOutcome = StoreOutcome | 'event_not_storable';

export interface Written extends Omit<StoredEvent, 'outcome'> {
  outcome: WriteOutcome;
  /** Why Postgres refused the event (event_not_storable). */
  reason?: string;
}

interface Encoded {
  transactionId: string;
  json: string;
}

interface Pending {
  events: Encoded[];
  bytes: number;
  resolve(written: Written[]): void;
  reject(error: unknown): void;
}

/**
 * Failures an event's content can cause: data exceptions (class 22), constraint violations (23) and
 * limits such as an index entry's size (54). Anything else (a lost connection, a shutdown, memory)
 * says nothing about the events, and storing them again one by one would only add load to a failing
 * database; those fail the requests, and their producers retry.
 */
function refusedForItsContent(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23|54)/.test(code);
}

/**
 * Requests arriving while earlier batches are being committed are combined into one statement and
 * one commit (group commit): no timer, so a lone request is written at once, and under load each
 * fsync carries many requests' events. A statement that fails for an event's content is stored
 * again request by request, and within a request by halves down to the event, so one unstorable
 * event refuses only itself: never another request, nor the rest of its own.
 */
export class GroupCommitWriter {
  private queue: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly pool: Pool,
    private readonly maxInFlight = 4,
    private readonly maxRows = 5000,
    // Far below jsonb's 256 MB, however large the combined requests' properties are.
    private readonly maxBytes = 16 * 1024 * 1024,
  ) {}

  /** Each event's outcome, in order. */
  async write(rows: UsageEventRow[]): Promise<WriteOutcome[]> {
    return (await this.writeDetailed(rows)).map((w) => w.outcome);
  }

  /** Each event's outcome with what differs (a conflict) or why Postgres refused it, in order. */
  writeDetailed(rows: UsageEventRow[]): Promise<Written[]> {
    return new Promise((resolve, reject) => {
      const events = rows.map((row) => ({ transactionId: row.transaction_id, json: encodeUsageEvent(row) }));
      this.queue.push({ events, bytes: events.reduce((n, e) => n + e.json.length, 0), resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch: Pending[] = [];
      let size = 0;
      let bytes = 0;
      while (this.queue.length > 0 && (batch.length === 0 || (size + this.queue[0].events.length <= this.maxRows && bytes + this.queue[0].bytes <= this.maxBytes))) {
        const next = this.queue.shift()!;
        batch.push(next);
        size += next.events.length;
        bytes += next.bytes;
      }
      this.inFlight++;
      void this.flush(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async flush(batch: Pending[]): Promise<void> {
    try {
      const written = await this.store(batch.flatMap((p) => p.events));
      let at = 0;
      for (const p of batch) {
        p.resolve(written.slice(at, at + p.events.length));
        at += p.events.length;
      }
    } catch (error) {
      if (!refusedForItsContent(error)) {
        for (const p of batch) p.reject(error);
      } else if (batch.length === 1) {
        await this.storeApart(batch[0].events, { error }).then(batch[0].resolve, batch[0].reject);
      } else {
        await Promise.all(batch.map((p) => this.storeApart(p.events).then(p.resolve, p.reject)));
      }
    }
  }

  /**
   * Stores `events`, refusing one by one the events Postgres refuses; throws only for failures no
   * event's content explains. `failed`: how the statement of exactly these events already failed.
   */
  private async storeApart(events: Encoded[], failed?: { error: unknown }): Promise<Written[]> {
    let refusal = failed?.error;
    if (!failed) {
      try {
        return await this.store(events);
      } catch (error) {
        if (!refusedForItsContent(error)) throw error;
        refusal = error;
      }
    }
    if (events.length === 1) {
      const reason = refusal instanceof Error ? refusal.message : String(refusal);
      logger.warn({ transactionId: events[0].transactionId, reason }, 'usage event not stored: Postgres refused it');
      return [{ outcome: 'event_not_storable', reason }];
    }
    // In order, so that of two events with the same id the first is still the one stored.
    const half = Math.ceil(events.length / 2);
    const first = await this.storeApart(events.slice(0, half));
    const second = await this.storeApart(events.slice(half));
    return [...first, ...second];
  }

  /** One statement; events go in transaction-id order, so that concurrent statements never wait on each other in a cycle. */
  private async store(events: Encoded[]): Promise<Written[]> {
    // A stable sort: events with the same id keep their order, and the first of them is stored.
    const order = events.map((_, i) => i).sort((a, b) => (events[a].transactionId < events[b].transactionId ? -1 : events[a].transactionId > events[b].transactionId ? 1 : 0));
    const stored = await storeEncodedUsageEvents(this.pool, order.map((i) => events[i].json));
    const written: Written[] = new Array(events.length);
    order.forEach((i, at) => (written[i] = stored[at]));
    return written;
  }
}

export function usagePool(databaseUrl: string): Pool {
  const pool = new Pool({ connectionString: databaseUrl, max: 4, allowExitOnIdle: true });
  // An idle connection can be cut (a restart, a dropped test database); the pool replaces it.
  pool.on('error', (error) => logger.warn({ err: error }, 'usage ingest connection lost'));
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
  timestampGiven: boolean;
  properties: Record<string, unknown>;
}

const isText = (v: unknown, max = 255): v is string => typeof v === 'string' && v.length > 0 && v.length <= max;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Postgres text and jsonb hold neither U+0000 nor half of a surrogate pair (JSON can carry both), and
 * refuse the whole statement that contains one; such an event is refused here, by itself.
 */
/** U+0000 or any half of a surrogate pair: one scan that nearly every string passes. */
const SUSPECT_CHARACTER = /[\u0000\ud800-\udfff]/;
const isStorableText = (s: string): boolean => !SUSPECT_CHARACTER.test(s) || (!s.includes('\u0000') && !LONE_SURROGATE.test(s));
const UNSTORABLE_TEXT = 'contains U+0000 or an unpaired surrogate, which cannot be stored';

/** Deep enough for any real properties; deeper ones would overflow a recursive JSON encoder or Postgres's parser. */
const MAX_PROPERTY_DEPTH = 32;

/** Why `properties` cannot be stored, naming where, or null. Iterative: the depth is what is checked. */
function unstorableProperties(properties: Record<string, unknown>): string | null {
  // Nearly every event's properties are one level of strings and numbers: checked without the walk.
  let flat = true;
  for (const key in properties) {
    const value = properties[key];
    if (typeof value === 'object' && value !== null) {
      flat = false;
      break;
    }
    if (!isStorableText(key) || (typeof value === 'string' && !isStorableText(value))) {
      flat = false;
      break;
    }
  }
  if (flat) return null;
  interface Node {
    value: unknown;
    depth: number;
    parent: Node | null;
    key: string;
  }
  const pathOf = (node: Node): string => {
    const keys: string[] = [];
    for (let n: Node | null = node; n?.parent; n = n.parent) keys.push(n.key.length > 40 ? `${n.key.slice(0, 40)}...` : n.key);
    return ['properties', ...keys.reverse()].join('.');
  };
  const stack: Node[] = [{ value: properties, depth: 1, parent: null, key: '' }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (typeof node.value === 'string') {
      if (!isStorableText(node.value)) return `${pathOf(node)} ${UNSTORABLE_TEXT}`;
      continue;
    }
    if (typeof node.value !== 'object' || node.value === null) continue;
    if (node.depth > MAX_PROPERTY_DEPTH) return `properties nest more than ${MAX_PROPERTY_DEPTH} levels deep (at ${pathOf(node)})`;
    for (const [key, value] of Object.entries(node.value)) {
      if (!isStorableText(key)) return `a key in ${pathOf(node)} ${UNSTORABLE_TEXT}`;
      stack.push({ value, depth: node.depth + 1, parent: node, key });
    }
  }
  return null;
}

/** Why `event` (at `index`) is rejected, naming its transaction id when it has a usable one. */
function rejection(event: unknown, index: number, code: string, message: string): Rejection {
  const id = typeof event === 'object' && event !== null ? (event as Record<string, unknown>).transaction_id : undefined;
  return { index, transaction_id: isText(id) ? id : null, code, message };
}

/**
 * The instant an event's timestamp names, as stored: the common case, already written the way
 * toISOString() writes it, is recognised by writing it out again; anything else takes the full check.
 */
function instantOf(timestamp: unknown): string | null {
  if (typeof timestamp !== 'string') return null;
  if (timestamp.length === 24 && !timestamp.startsWith('0000')) {
    const ms = Date.parse(timestamp);
    if (!Number.isNaN(ms) && new Date(ms).toISOString() === timestamp) return timestamp;
  }
  return isExactTimestamp(timestamp) ? new Date(timestamp).toISOString() : null;
}

/** Shape checks of one event; a string is the reason it is rejected. */
function checkShape(event: unknown, index: number, now: string): Checked | Rejection {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return rejection(event, index, 'parameter_invalid', 'each event must be an object');
  const e = event as Record<string, unknown>;
  for (const key of Object.keys(e)) if (!EVENT_FIELDS.has(key)) return rejection(event, index, 'parameter_unknown', `unknown parameter: ${key}`);
  if (!isText(e.transaction_id)) return rejection(event, index, e.transaction_id === undefined ? 'parameter_missing' : 'parameter_invalid', 'transaction_id must be a string of 1 to 255 characters');
  if (!isStorableText(e.transaction_id)) return rejection(event, index, 'parameter_invalid', `transaction_id ${UNSTORABLE_TEXT}`);
  if (!isText(e.code)) return rejection(event, index, e.code === undefined ? 'parameter_missing' : 'parameter_invalid', 'code (the metric code) must be a non-empty string');
  if (!isStorableText(e.code)) return rejection(event, index, 'parameter_invalid', `code ${UNSTORABLE_TEXT}`);
  const hasId = e.subscription_id !== undefined;
  const hasExternal = e.external_subscription_id !== undefined;
  if (hasId === hasExternal) return rejection(event, index, hasId ? 'parameter_invalid' : 'parameter_missing', 'give exactly one of subscription_id and external_subscription_id');
  const ref = hasId ? { by: 'id' as const, value: e.subscription_id } : { by: 'external_id' as const, value: e.external_subscription_id };
  const refName = hasId ? 'subscription_id' : 'external_subscription_id';
  if (!isText(ref.value)) return rejection(event, index, 'parameter_invalid', `${refName} must be a non-empty string`);
  if (!isStorableText(ref.value)) return rejection(event, index, 'parameter_invalid', `${refName} ${UNSTORABLE_TEXT}`);
  const instant = e.timestamp === undefined ? now : instantOf(e.timestamp);
  if (instant === null) {
    return rejection(event, index, 'parameter_invalid', 'timestamp must be an ISO 8601 timestamp with a time zone, such as "2026-01-31T12:00:00Z"');
  }
  if (e.properties !== undefined && (typeof e.properties !== 'object' || e.properties === null || Array.isArray(e.properties))) {
    return rejection(event, index, 'parameter_invalid', 'properties must be an object');
  }
  const properties = (e.properties as Record<string, unknown> | undefined) ?? {};
  const unstorable = unstorableProperties(properties);
  if (unstorable) return rejection(event, index, 'parameter_invalid', unstorable);
  return {
    index,
    transactionId: e.transaction_id,
    metricCode: e.code,
    subscriptionRef: { by: ref.by, value: ref.value },
    timestamp: instant,
    timestampGiven: e.timestamp !== undefined,
    properties,
  };
}

const listed = (names: string[]): string => (names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`);

/** Why the writer did not accept an event, for the answer. */
function refusalMessage(written: Written, transactionId: string): string {
  switch (written.outcome) {
    case 'transaction_id_conflict':
      return (
        `transaction_id ${JSON.stringify(transactionId)} already names an event with a different ${listed(written.differs ?? [])}; ` +
        'a repeat is counted as a duplicate only with the same subscription, code, timestamp and properties'
      );
    case 'event_not_storable':
      return `the database refused to store this event (${written.reason ?? 'no reason given'}); the other events were not affected`;
    case 'accepted':
    case 'duplicate':
      throw new Error(`${written.outcome} is not a refusal`);
    default:
      return STORE_MESSAGES[written.outcome];
  }
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
    for (let index = 0; index < events.length; index++) {
      const result = checkShape(events[index], index, now);
      if ('metricCode' in result) checked.push(result);
      else rejected.push(result);
    }
    await this.resolveMetrics(new Set(checked.map((c) => c.metricCode)));
    await this.resolveSubscriptions(checked.map((c) => c.subscriptionRef));

    const rows: UsageEventRow[] = [];
    const rowIndex: number[] = [];
    for (const c of checked) {
      const metric = this.metrics.get(c.metricCode);
      if (!metric) {
        rejected.push({ index: c.index, transaction_id: c.transactionId, code: 'metric_not_found', message: `No such billable metric: '${c.metricCode}'` });
        continue;
      }
      const subscriptionId = this.subscriptions.get(`${c.subscriptionRef.by}:${c.subscriptionRef.value}`);
      if (!subscriptionId) {
        const by = c.subscriptionRef.by === 'id' ? 'subscription_id' : 'external_subscription_id';
        rejected.push({ index: c.index, transaction_id: c.transactionId, code: 'subscription_not_found', message: `No such subscription: '${c.subscriptionRef.value}' (by ${by})` });
        continue;
      }
      const value = eventValue(metric.aggregation, metric.field ?? null, c.properties);
      if ('error' in value) {
        rejected.push({ index: c.index, transaction_id: c.transactionId, code: value.code, message: value.error });
        continue;
      }
      rows.push({
        transaction_id: c.transactionId,
        subscription_id: subscriptionId,
        metric_id: metric.id,
        timestamp: c.timestamp,
        ...(c.timestampGiven ? {} : { timestamp_given: false }),
        value: value.value,
        properties: c.properties,
      });
      rowIndex.push(c.index);
    }

    const written = await this.writer.writeDetailed(rows);
    let accepted = 0;
    let duplicates = 0;
    written.forEach((w, i) => {
      if (w.outcome === 'accepted') accepted++;
      else if (w.outcome === 'duplicate') duplicates++;
      else rejected.push({ index: rowIndex[i], transaction_id: rows[i].transaction_id, code: w.outcome, message: refusalMessage(w, rows[i].transaction_id) });
    });
    rejected.sort((a, b) => a.index - b.index);
    return { accepted, duplicates, rejected };
  }
}
