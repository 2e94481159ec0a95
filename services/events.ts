import type { EntityManager } from '@mikro-orm/postgresql';
import type { EventRow } from '../db/events';
import type { Page, PageRequest } from '../db/pagination';
import type { EventType } from '../domain/events';
import { BillingError } from '../domain/errors';

export interface EventFilter {
  type?: EventType;
  objectId?: string;
  customerId?: string;
  createdGte?: Date;
  createdLt?: Date;
}

// The driver hands timestamps over as Postgres writes them; milliseconds since the epoch read back exactly.
const COLUMNS = `id, type, object_id, customer_id, data, (extract(epoch from created_at) * 1000)::float8 as created_ms`;

type Row = Omit<EventRow, 'created_at'> & { created_ms: number };
const eventRow = ({ created_ms, ...row }: Row): EventRow => ({ ...row, created_at: new Date(Math.floor(created_ms)) });

/**
 * The outbox as a list, newest first (created_at, then id), paged by cursor as every list is
 * (db/pagination.ts): one more row than asked says whether more lie beyond.
 */
export async function listEvents(em: EntityManager, filter: EventFilter, page: PageRequest): Promise<Page<EventRow>> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    where.push(clause);
    params.push(value);
  };
  if (filter.type) add('type = ?', filter.type);
  if (filter.objectId) add('object_id = ?', filter.objectId);
  if (filter.customerId) add('customer_id = ?', filter.customerId);
  if (filter.createdGte) add('created_at >= ?', filter.createdGte);
  if (filter.createdLt) add('created_at < ?', filter.createdLt);
  const backward = page.endingBefore !== undefined && page.startingAfter === undefined;
  const cursor = page.startingAfter ?? page.endingBefore;
  if (cursor !== undefined) {
    const [known] = await em.execute<Array<{ n: number }>>('select count(*)::int as n from events where id = ?', [cursor]);
    if (known.n === 0) throw new BillingError('invalid_request_error', 'resource_missing', `No such event: '${cursor}'`, page.startingAfter !== undefined ? 'starting_after' : 'ending_before');
    add(`(created_at, id) ${backward ? '>' : '<'} (select created_at, id from events where id = ?)`, cursor);
  }
  const direction = backward ? 'asc' : 'desc';
  const rows = await em.execute<Row[]>(
    `select ${COLUMNS} from events ${where.length > 0 ? `where ${where.join(' and ')}` : ''} order by created_at ${direction}, id ${direction} limit ?`,
    [...params, page.limit + 1],
  );
  const data = rows.slice(0, page.limit).map(eventRow);
  return { data: backward ? data.reverse() : data, hasMore: rows.length > page.limit };
}

export async function eventOf(em: EntityManager, id: string): Promise<EventRow> {
  const [row] = await em.execute<Row[]>(`select ${COLUMNS} from events where id = ?`, [id]);
  if (!row) throw new BillingError('not_found_error', 'resource_missing', `No such event: '${id}'`, 'id');
  return eventRow(row);
}
