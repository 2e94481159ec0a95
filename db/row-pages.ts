import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingError } from '../domain/errors';
import type { Page, PageRequest } from './pagination';

/** A table read newest first by (created_at, id), filtered by `where` (SQL with `?` placeholders). */
export interface NewestFirst {
  table: string;
  where: string[];
  params: unknown[];
  /** Names the objects in an unknown cursor's error ("API key"). */
  noun: string;
}

/**
 * One page of raw rows, as db/pagination.ts findPage reads entities: the cursor's place is compared
 * in Postgres against the cursor row's own (created_at, id), and one row more than asked says
 * whether more lie beyond.
 */
export async function newestFirstPage<R>(em: EntityManager, list: NewestFirst, page: PageRequest): Promise<Page<R>> {
  const backward = page.endingBefore !== undefined && page.startingAfter === undefined;
  const cursor = page.startingAfter ?? page.endingBefore;
  const where = [...list.where];
  const params = [...list.params];
  if (cursor !== undefined) {
    const [found] = await em.execute<Array<{ id: string }>>(`select id from ${list.table} where id = ?`, [cursor]);
    if (!found) throw new BillingError('invalid_request_error', 'resource_missing', `No such ${list.noun}: '${cursor}'`, page.startingAfter !== undefined ? 'starting_after' : 'ending_before');
    where.push(`(created_at, id) ${backward ? '>' : '<'} (select created_at, id from ${list.table} where id = ?)`);
    params.push(cursor);
  }
  const direction = backward ? 'asc' : 'desc';
  const rows = await em.execute<R[]>(
    `select * from ${list.table} ${where.length ? `where ${where.join(' and ')}` : ''} order by created_at ${direction}, id ${direction} limit ?`,
    [...params, page.limit + 1],
  );
  const data = rows.slice(0, page.limit);
  return { data: backward ? data.reverse() : data, hasMore: rows.length > page.limit };
}
