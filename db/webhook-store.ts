import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingError } from '../domain/errors';
import { endpointWants } from '../domain/events';
import type { EventEnvelope } from '../domain/event-envelope';
import { eventEnvelope } from '../domain/event-envelope';
import { newId } from './ids';
import type { Page, PageRequest } from './pagination';

/**
 * Webhook endpoints, their deliveries and the attempts of each (tables in
 * Migration20261204000000_events_webhooks). Each function is one transaction; the relay's work and
 * an attempt's recording are written so that running them twice changes nothing twice.
 */

export type EndpointStatus = 'enabled' | 'disabled';
export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface WebhookEndpointRow {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  status: EndpointStatus;
  disabled_reason: string | null;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: Date | null;
  preconfigured: boolean;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

export interface WebhookAttemptRow {
  id: string;
  delivery_id: string;
  attempt: number;
  outcome: 'succeeded' | 'failed';
  status_code: number | null;
  error: string | null;
  latency_ms: number;
  response_excerpt: string | null;
  attempted_at: Date;
}

export interface WebhookDeliveryRow {
  id: string;
  event_id: string;
  event_type: string;
  endpoint_id: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: Date | null;
  last_status_code: number | null;
  resends: number;
  created_at: Date;
  updated_at: Date;
}

export interface DeliveryWithAttempts {
  delivery: WebhookDeliveryRow;
  attempts: WebhookAttemptRow[];
}

/** How long a rotated-out secret keeps signing beside the new one: receivers have a day to switch. */
export const PREVIOUS_SECRET_LIFETIME = '24 hours';

/** A text[] parameter: knex expands a JS array into a list, so arrays travel as JSON. */
const textArray = '(select coalesce(array_agg(value), array[]::text[]) from jsonb_array_elements_text(?::jsonb))';

/** em.execute hands timestamps over as Postgres prints them; rows leave this module with Dates. */
const dates = <T>(row: T, ...columns: Array<keyof T>): T => {
  const copy = { ...row };
  for (const c of columns) if (copy[c] !== null && copy[c] !== undefined) copy[c] = new Date(copy[c] as unknown as string) as T[keyof T];
  return copy;
};
const endpointRow = (row: WebhookEndpointRow): WebhookEndpointRow => dates(row, 'created_at', 'updated_at', 'deleted_at', 'previous_secret_expires_at');
const deliveryRow = (row: WebhookDeliveryRow): WebhookDeliveryRow => dates(row, 'created_at', 'updated_at', 'next_attempt_at');
const attemptRow = (row: WebhookAttemptRow): WebhookAttemptRow => dates(row, 'attempted_at');
const endpointRows = async (em: EntityManager, sql: string, params: unknown[]): Promise<WebhookEndpointRow[]> => (await em.execute<WebhookEndpointRow[]>(sql, params)).map(endpointRow);
const deliveryRows = async (em: EntityManager, sql: string, params: unknown[]): Promise<WebhookDeliveryRow[]> => (await em.execute<WebhookDeliveryRow[]>(sql, params)).map(deliveryRow);
const attemptRows = async (em: EntityManager, sql: string, params: unknown[]): Promise<WebhookAttemptRow[]> => (await em.execute<WebhookAttemptRow[]>(sql, params)).map(attemptRow);

const missingEndpoint = (id: string) => new BillingError('not_found_error', 'resource_missing', `No such webhook endpoint: '${id}'`, 'id');

// ---- endpoints --------------------------------------------------------------------------------------

export interface NewEndpoint {
  url: string;
  events: string[];
  description: string | null;
  secret: string;
}

export async function createEndpoint(em: EntityManager, input: NewEndpoint, stored: (tx: EntityManager, endpoint: WebhookEndpointRow) => Promise<void>): Promise<void> {
  await em.transactional(async (tx) => {
    const [endpoint] = await endpointRows(tx, 
      `insert into webhook_endpoints (id, url, description, events, secret) values (?, ?, ?, ${textArray}, ?) returning *`,
      [newId('we'), input.url, input.description, JSON.stringify(input.events), input.secret],
    );
    await stored(tx, endpoint);
  });
}

/** An endpoint that has not been deleted. */
export async function endpointOf(em: EntityManager, id: string): Promise<WebhookEndpointRow> {
  const [endpoint] = await endpointRows(em, 'select * from webhook_endpoints where id = ? and deleted_at is null', [id]);
  if (!endpoint) throw missingEndpoint(id);
  return endpoint;
}

export async function listEndpoints(em: EntityManager, page: PageRequest): Promise<Page<WebhookEndpointRow>> {
  return pageOfRows(em, endpointRows, 'webhook_endpoints', 'deleted_at is null', [], page, 'webhook endpoint');
}

export interface EndpointChanges {
  url?: string;
  events?: string[];
  description?: string | null;
  status?: EndpointStatus;
}

/**
 * Changes what was sent, keeps the rest. Disabling stops the endpoint's pending deliveries (each
 * workflow ends at its next attempt, sending nothing); enabling again clears the reason a 410 left.
 */
export async function updateEndpoint(em: EntityManager, id: string, changes: EndpointChanges): Promise<WebhookEndpointRow> {
  return em.transactional(async (tx) => {
    const [endpoint] = await endpointRows(tx, 'select * from webhook_endpoints where id = ? and deleted_at is null for update', [id]);
    if (!endpoint) throw missingEndpoint(id);
    const status = changes.status ?? endpoint.status;
    const [updated] = await endpointRows(tx, 
      `update webhook_endpoints
          set url = ?, events = ${textArray}, description = ?, status = ?,
              disabled_reason = case when ? = 'enabled' then null when status = 'enabled' then 'Disabled through the API' else disabled_reason end,
              updated_at = clock_timestamp()
        where id = ? returning *`,
      [changes.url ?? endpoint.url, JSON.stringify(changes.events ?? endpoint.events), changes.description === undefined ? endpoint.description : changes.description, status, status, id],
    );
    if (status === 'disabled') await stopPendingDeliveries(tx, id);
    return updated;
  });
}

/** Soft: the row stays for its deliveries' history; its pending deliveries stop. */
export async function deleteEndpoint(em: EntityManager, id: string): Promise<WebhookEndpointRow> {
  return em.transactional(async (tx) => {
    const [deleted] = await endpointRows(tx, 
      'update webhook_endpoints set deleted_at = clock_timestamp(), updated_at = clock_timestamp() where id = ? and deleted_at is null returning *',
      [id],
    );
    if (!deleted) throw missingEndpoint(id);
    await stopPendingDeliveries(tx, id);
    return deleted;
  });
}

/** The new secret signs from now on; the previous one keeps signing beside it for PREVIOUS_SECRET_LIFETIME. */
export async function rotateSecret(em: EntityManager, id: string, secret: string, stored: (tx: EntityManager, endpoint: WebhookEndpointRow) => Promise<void>): Promise<void> {
  await em.transactional(async (tx) => {
    const [rotated] = await endpointRows(tx, 
      `update webhook_endpoints
          set previous_secret = secret, previous_secret_expires_at = now() + interval '${PREVIOUS_SECRET_LIFETIME}', secret = ?, updated_at = now()
        where id = ? and deleted_at is null returning *`,
      [secret, id],
    );
    if (!rotated) throw missingEndpoint(id);
    await stored(tx, rotated);
  });
}

/** The secrets that sign a message now: the current one, and the previous one until it expires. */
export function signingSecrets(endpoint: Pick<WebhookEndpointRow, 'secret' | 'previous_secret' | 'previous_secret_expires_at'>, now: Date): string[] {
  const previous = endpoint.previous_secret && endpoint.previous_secret_expires_at && endpoint.previous_secret_expires_at > now ? [endpoint.previous_secret] : [];
  return [endpoint.secret, ...previous];
}

async function stopPendingDeliveries(tx: EntityManager, endpointId: string): Promise<void> {
  await tx.execute(`update webhook_deliveries set status = 'failed', next_attempt_at = null, updated_at = clock_timestamp() where endpoint_id = ? and status = 'pending'`, [endpointId]);
}

// ---- the endpoint PROVISIONING_WEBHOOK_URL configures ------------------------------------------------

export const PROVISIONING_EVENTS = ['subscription.suspended', 'subscription.resumed'];

/**
 * Keeps the preconfigured endpoint in step with the worker's settings: made when first configured,
 * its URL and secret updated when they change (a changed secret rotates as the API's rotation does,
 * so deliveries in flight still verify for a day), deleted when the setting is removed. Several
 * workers starting at once make one endpoint: the partial unique index admits one.
 */
export async function syncPreconfiguredEndpoint(em: EntityManager, settings: { url: string; secret: string } | null): Promise<WebhookEndpointRow | null> {
  return em.transactional(async (tx) => {
    const [current] = await endpointRows(tx, 'select * from webhook_endpoints where preconfigured and deleted_at is null for update', []);
    if (!settings) {
      if (current) await tx.execute('update webhook_endpoints set deleted_at = clock_timestamp(), updated_at = clock_timestamp() where id = ?', [current.id]);
      if (current) await stopPendingDeliveries(tx, current.id);
      return null;
    }
    if (!current) {
      await tx.execute(
        `insert into webhook_endpoints (id, url, description, events, secret, preconfigured) values (?, ?, ?, ${textArray}, ?, true) on conflict do nothing`,
        [newId('we'), settings.url, 'PROVISIONING_WEBHOOK_URL: suspensions and resumptions', JSON.stringify(PROVISIONING_EVENTS), settings.secret],
      );
      const [made] = await endpointRows(tx, 'select * from webhook_endpoints where preconfigured and deleted_at is null', []);
      return made;
    }
    if (current.url === settings.url && current.secret === settings.secret) return current;
    const rotated = current.secret !== settings.secret;
    const [updated] = await endpointRows(tx, 
      `update webhook_endpoints
          set url = ?, secret = ?,
              previous_secret = case when ? then secret else previous_secret end,
              previous_secret_expires_at = case when ? then clock_timestamp() + interval '${PREVIOUS_SECRET_LIFETIME}' else previous_secret_expires_at end,
              updated_at = clock_timestamp()
        where id = ? returning *`,
      [settings.url, settings.secret, rotated, rotated, current.id],
    );
    return updated;
  });
}

// ---- deliveries ---------------------------------------------------------------------------------------

const DELIVERY_COLUMNS = 'd.id, d.event_id, e.type as event_type, d.endpoint_id, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.resends, d.created_at, d.updated_at';

export async function listDeliveries(em: EntityManager, endpointId: string, filter: { status?: DeliveryStatus }, page: PageRequest): Promise<Page<DeliveryWithAttempts>> {
  await endpointOrDeleted(em, endpointId);
  const where = ['d.endpoint_id = ?', ...(filter.status ? ['d.status = ?'] : [])].join(' and ');
  const params = [endpointId, ...(filter.status ? [filter.status] : [])];
  const deliveries = await pageOfRows(em, deliveryRows, 'webhook_deliveries', where, params, page, 'webhook delivery', {
    select: `select ${DELIVERY_COLUMNS} from webhook_deliveries d join events e on e.id = d.event_id`,
    alias: 'd',
  });
  return { data: await withAttempts(em, deliveries.data), hasMore: deliveries.hasMore };
}

/** The deliveries of a deleted endpoint stay readable: they are the record of what was sent. */
async function endpointOrDeleted(em: EntityManager, id: string): Promise<void> {
  const [endpoint] = await em.execute<Array<{ id: string }>>('select id from webhook_endpoints where id = ?', [id]);
  if (!endpoint) throw missingEndpoint(id);
}

async function withAttempts(em: EntityManager, deliveries: WebhookDeliveryRow[]): Promise<DeliveryWithAttempts[]> {
  if (deliveries.length === 0) return [];
  const attempts = await attemptRows(em, 'select * from webhook_attempts where delivery_id in (?) order by attempt', [deliveries.map((d) => d.id)]);
  return deliveries.map((delivery) => ({ delivery, attempts: attempts.filter((a) => a.delivery_id === delivery.id) }));
}

export async function deliveryOf(em: EntityManager, id: string): Promise<DeliveryWithAttempts> {
  const [delivery] = await deliveryRows(em, `select ${DELIVERY_COLUMNS} from webhook_deliveries d join events e on e.id = d.event_id where d.id = ?`, [id]);
  if (!delivery) throw new BillingError('not_found_error', 'resource_missing', `No such webhook delivery: '${id}'`, 'id');
  return (await withAttempts(em, [delivery]))[0];
}

/**
 * Sends a failed delivery again: it is pending once more, and the relay (woken on commit) starts a
 * new run of its schedule, numbered after the attempts already made. Only a failed delivery to an
 * enabled endpoint can be sent again; anything else is refused and says why.
 */
export async function resendDelivery(em: EntityManager, id: string, stored: (tx: EntityManager, delivery: DeliveryWithAttempts) => Promise<void>): Promise<void> {
  await em.transactional(async (tx) => {
    const [found] = await tx.execute<Array<{ status: DeliveryStatus; endpoint_status: EndpointStatus; deleted_at: Date | null }>>(
      `select d.status, w.status as endpoint_status, w.deleted_at
         from webhook_deliveries d join webhook_endpoints w on w.id = d.endpoint_id
        where d.id = ? for update of d`,
      [id],
    );
    if (!found) throw new BillingError('not_found_error', 'resource_missing', `No such webhook delivery: '${id}'`, 'id');
    if (found.deleted_at) throw new BillingError('state_error', 'endpoint_deleted', 'The endpoint of this delivery was deleted; nothing is sent to it any more');
    if (found.endpoint_status !== 'enabled') throw new BillingError('state_error', 'endpoint_disabled', 'The endpoint of this delivery is disabled; enable it (POST /v1/webhook_endpoints/:id {"status":"enabled"}) first');
    if (found.status !== 'failed') throw new BillingError('state_error', 'delivery_not_failed', `Only a failed delivery can be sent again; this one is ${found.status}`);
    await tx.execute(
      `update webhook_deliveries set status = 'pending', resends = resends + 1, workflow_started_at = null, next_attempt_at = clock_timestamp(), updated_at = clock_timestamp() where id = ?`,
      [id],
    );
    await tx.execute(`select pg_notify('perennial_events', '')`);
    await stored(tx, await deliveryOf(tx, id));
  });
}

// ---- the relay ----------------------------------------------------------------------------------------

/**
 * Makes the deliveries of up to `limit` events not yet dispatched: one per enabled endpoint that
 * wants the event's type and existed when it happened. Rows other relays hold are skipped (several
 * workers share the work); a delivery made twice is one (unique per event and endpoint). Returns how
 * many events it dispatched.
 */
export async function dispatchEvents(em: EntityManager, limit: number): Promise<number> {
  return em.transactional(async (tx) => {
    const events = await tx.execute<Array<{ id: string }>>(
      `select id from events where dispatched_at is null order by created_at, id limit ${Number(limit)} for update skip locked`,
      [],
    );
    if (events.length === 0) return 0;
    // An endpoint receives what happens from its creation on.
    const candidates = await tx.execute<Array<{ event_id: string; type: string; endpoint_id: string; events: string[] }>>(
      `select ev.id as event_id, ev.type, w.id as endpoint_id, w.events
         from events ev join webhook_endpoints w on w.deleted_at is null and w.status = 'enabled' and w.created_at <= ev.created_at
        where ev.id in (?)`,
      [events.map((e) => e.id)],
    );
    const pairs = candidates.filter((c) => endpointWants(c.events, c.type)).map((c) => [newId('whd'), c.event_id, c.endpoint_id]);
    if (pairs.length > 0) {
      await tx.execute(
        `insert into webhook_deliveries (id, event_id, endpoint_id, next_attempt_at) values ${pairs.map(() => '(?, ?, ?, clock_timestamp())').join(', ')} on conflict (event_id, endpoint_id) do nothing`,
        pairs.flat(),
      );
    }
    await tx.execute('update events set dispatched_at = clock_timestamp() where id in (?)', [events.map((e) => e.id)]);
    return events.length;
  });
}

export interface DeliveryRun {
  deliveryId: string;
  /** How many times it was sent again by hand: 0 for its first run. */
  resend: number;
  /** The number of its first attempt in this run (attempts are numbered across runs). */
  firstAttempt: number;
}

/**
 * Starts (with `start`) the workflows of up to `limit` pending deliveries whose run has not started,
 * and marks them started in the same transaction. `start` must be idempotent (a workflow id per
 * run): a relay that dies after starting and before committing starts the same run again next time.
 */
export async function startDeliveryRuns(em: EntityManager, limit: number, start: (run: DeliveryRun) => Promise<void>): Promise<number> {
  return em.transactional(async (tx) => {
    const pending = await tx.execute<Array<{ id: string; resends: number; attempts: number }>>(
      `select id, resends, attempts from webhook_deliveries
        where workflow_started_at is null and status = 'pending'
        order by created_at, id limit ${Number(limit)} for update skip locked`,
      [],
    );
    for (const d of pending) await start({ deliveryId: d.id, resend: d.resends, firstAttempt: d.attempts + 1 });
    if (pending.length > 0) await tx.execute('update webhook_deliveries set workflow_started_at = clock_timestamp() where id in (?)', [pending.map((d) => d.id)]);
    return pending.length;
  });
}

// ---- one attempt --------------------------------------------------------------------------------------

export interface AttemptContext {
  delivery: { id: string; status: DeliveryStatus; resends: number };
  endpoint: WebhookEndpointRow;
  event: EventEnvelope;
  /** This attempt's outcome when an earlier execution of the same attempt recorded it. */
  recorded: WebhookAttemptRow | null;
}

export async function attemptContext(em: EntityManager, deliveryId: string, attempt: number): Promise<AttemptContext | null> {
  const [row] = await em.execute<Array<{ status: DeliveryStatus; resends: number; endpoint_id: string; event_id: string }>>(
    'select status, resends, endpoint_id, event_id from webhook_deliveries where id = ?',
    [deliveryId],
  );
  if (!row) return null;
  const [endpoint] = await endpointRows(em, 'select * from webhook_endpoints where id = ?', [row.endpoint_id]);
  const [event] = await em.execute<Array<{ id: string; type: string; created_at: Date; data: { object: Record<string, unknown> } }>>(
    'select id, type, created_at, data from events where id = ?',
    [row.event_id],
  );
  const [recorded] = await attemptRows(em, 'select * from webhook_attempts where delivery_id = ? and attempt = ?', [deliveryId, attempt]);
  return { delivery: { id: deliveryId, status: row.status, resends: row.resends }, endpoint, event: eventEnvelope({ ...event, created_at: new Date(event.created_at) }), recorded: recorded ?? null };
}

/** Ends a delivery without an attempt (its endpoint was disabled or deleted meanwhile), if this run still owns it. */
export async function stopDelivery(em: EntityManager, deliveryId: string, resend: number): Promise<void> {
  await em.execute(
    `update webhook_deliveries set status = 'failed', next_attempt_at = null, updated_at = clock_timestamp() where id = ? and status = 'pending' and resends = ?`,
    [deliveryId, resend],
  );
}

export interface AttemptRecord {
  deliveryId: string;
  attempt: number;
  outcome: 'succeeded' | 'failed';
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
  responseExcerpt: string | null;
  /** Where the delivery stands after it: pending (retried at nextAttemptAt), succeeded or failed. */
  deliveryStatus: DeliveryStatus;
  nextAttemptAt: Date | null;
  /** Set when the receiver answered 410: the endpoint is disabled with this reason. */
  disableEndpoint: string | null;
}

/**
 * Records an attempt and where its delivery stands, together. An attempt recorded before (the
 * activity ran again after recording it) changes nothing.
 */
export async function recordAttempt(em: EntityManager, record: AttemptRecord): Promise<void> {
  await em.transactional(async (tx) => {
    const inserted = await tx.execute<Array<{ id: string }>>(
      `insert into webhook_attempts (id, delivery_id, attempt, outcome, status_code, error, latency_ms, response_excerpt)
       values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (delivery_id, attempt) do nothing returning id`,
      [newId('wha'), record.deliveryId, record.attempt, record.outcome, record.statusCode, record.error, record.latencyMs, record.responseExcerpt],
    );
    if (inserted.length === 0) return;
    const [delivery] = await tx.execute<Array<{ endpoint_id: string }>>(
      `update webhook_deliveries set attempts = attempts + 1, status = ?, last_status_code = ?, next_attempt_at = ?, updated_at = clock_timestamp() where id = ? returning endpoint_id`,
      [record.deliveryStatus, record.statusCode, record.nextAttemptAt, record.deliveryId],
    );
    if (record.disableEndpoint) {
      await tx.execute(`update webhook_endpoints set status = 'disabled', disabled_reason = ?, updated_at = clock_timestamp() where id = ? and status = 'enabled'`, [
        record.disableEndpoint,
        delivery.endpoint_id,
      ]);
      await stopPendingDeliveries(tx, delivery.endpoint_id);
    }
  });
}

// ---- pages of rows, newest first ---------------------------------------------------------------------

/**
 * A page of `table`'s rows matching `where`, newest first by (created_at, id), with Stripe's cursors;
 * the cursor's place is read in Postgres so timestamps keep their microseconds.
 */
async function pageOfRows<T>(
  em: EntityManager,
  rowsOf: (em: EntityManager, sql: string, params: unknown[]) => Promise<T[]>,
  table: string,
  where: string,
  params: unknown[],
  page: PageRequest,
  noun: string,
  from: { select: string; alias: string } = { select: `select * from ${table} t`, alias: 't' },
): Promise<Page<T>> {
  const backward = page.endingBefore !== undefined && page.startingAfter === undefined;
  const cursor = page.startingAfter ?? page.endingBefore;
  const clauses = [where];
  const bindings = [...params];
  if (cursor !== undefined) {
    const [exists] = await em.execute<Array<{ n: number }>>(`select count(*)::int as n from ${table} where id = ?`, [cursor]);
    if (exists.n === 0) throw new BillingError('invalid_request_error', 'resource_missing', `No such ${noun}: '${cursor}'`, page.startingAfter !== undefined ? 'starting_after' : 'ending_before');
    clauses.push(`(${from.alias}.created_at, ${from.alias}.id) ${backward ? '>' : '<'} (select created_at, id from ${table} where id = ?)`);
    bindings.push(cursor);
  }
  const direction = backward ? 'asc' : 'desc';
  const rows = await rowsOf(
    em,
    `${from.select} where ${clauses.map((c) => `(${c})`).join(' and ')} order by ${from.alias}.created_at ${direction}, ${from.alias}.id ${direction} limit ${page.limit + 1}`,
    bindings,
  );
  const data = rows.slice(0, page.limit);
  return { data: backward ? data.reverse() : data, hasMore: rows.length > page.limit };
}
