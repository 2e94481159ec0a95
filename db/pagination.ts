import type { EntityName, FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { BillingError } from '../domain/errors';

/** Which page of a list: at most `limit` objects after `startingAfter` or before `endingBefore` (ids). */
export interface PageRequest {
  limit: number;
  startingAfter?: string;
  endingBefore?: string;
}

/**
 * How a list is ordered: by `keys` (properties; together unique, the last usually `id`), all in
 * one direction. The order is the list's for good: a cursor is an object's place in it.
 */
export interface ListOrder {
  keys: readonly string[];
  direction: 'asc' | 'desc';
  /** Names the objects in an unknown cursor's error ("invoice"). */
  noun: string;
}

export interface Page<T> {
  data: T[];
  /** True when more objects lie beyond the page in the direction it was read. */
  hasMore: boolean;
}

/**
 * One page of `entity` matching `where`, in the list's order. The cursor's place is compared in
 * Postgres (a row tuple against the cursor row's own), so keys keep their full precision. One more
 * object than asked is read: has_more is what the database holds, not a guess from a full page.
 */
export async function findPage<T extends object>(em: EntityManager, entity: EntityName<T>, where: FilterQuery<T>, order: ListOrder, page: PageRequest): Promise<Page<T>> {
  const meta = em.getMetadata().get<T>(typeof entity === 'string' ? entity : (entity as { name: string }).name);
  const backward = page.endingBefore !== undefined && page.startingAfter === undefined;
  const cursor = page.startingAfter ?? page.endingBefore;
  const param = page.startingAfter !== undefined ? 'starting_after' : 'ending_before';
  const qb = em.createQueryBuilder(entity as EntityName<object>, 'e').where(where as FilterQuery<object>);
  if (cursor !== undefined) {
    if ((await em.count(entity, { id: cursor } as FilterQuery<T>)) === 0) {
      throw new BillingError('invalid_request_error', 'resource_missing', `No such ${order.noun}: '${cursor}'`, param);
    }
    const properties = meta.properties as Record<string, { fieldNames: string[] }>;
    const columns = order.keys.map((k) => `"${properties[k].fieldNames[0]}"`);
    const forward = order.direction === 'desc' ? '<' : '>';
    const comparison = backward ? (forward === '<' ? '>' : '<') : forward;
    qb.andWhere(`(${columns.map((c) => `e.${c}`).join(', ')}) ${comparison} (select ${columns.join(', ')} from "${meta.tableName}" where id = ?)`, [cursor]);
  }
  const direction = backward ? (order.direction === 'desc' ? 'asc' : 'desc') : order.direction;
  qb.orderBy(Object.fromEntries(order.keys.map((k) => [k, direction])) as never).limit(page.limit + 1);
  const rows = (await qb.getResultList()) as T[];
  const data = rows.slice(0, page.limit);
  return { data: backward ? data.reverse() : data, hasMore: rows.length > page.limit };
}
