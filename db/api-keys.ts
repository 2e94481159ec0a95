import type { EntityManager } from '@mikro-orm/postgresql';
import type { Role } from '../config/env';
import { BillingError } from '../domain/errors';
import type { Page, PageRequest } from './pagination';
import { newestFirstPage } from './row-pages';

export interface ApiKeyRecord {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** Raw rows: the driver may give timestamps as text. */
interface ApiKeyRow {
  id: string;
  name: string;
  role: Role;
  prefix: string;
  created_at: Date | string;
  last_used_at: Date | string | null;
  revoked_at: Date | string | null;
}

const COLUMNS = 'id, name, role, prefix, created_at, last_used_at, revoked_at';

const record = (r: ApiKeyRow): ApiKeyRecord => ({ id: r.id, name: r.name, role: r.role, prefix: r.prefix, createdAt: new Date(r.created_at), lastUsedAt: r.last_used_at === null ? null : new Date(r.last_used_at), revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at) });

export async function insertApiKey(em: EntityManager, key: { id: string; name: string; role: Role; prefix: string; digest: Buffer }): Promise<ApiKeyRecord> {
  const [row] = await em.execute<ApiKeyRow[]>(`insert into api_keys (id, name, role, prefix, digest) values (?, ?, ?, ?, ?) returning ${COLUMNS}`, [key.id, key.name, key.role, key.prefix, key.digest]);
  return record(row);
}

export async function listApiKeys(em: EntityManager, page: PageRequest): Promise<Page<ApiKeyRecord>> {
  const found = await newestFirstPage<ApiKeyRow>(em, { table: 'api_keys', where: [], params: [], noun: 'API key' }, page);
  return { data: found.data.map(record), hasMore: found.hasMore };
}

/** Ends a key; revoking a revoked key changes nothing and answers it as it is. */
export async function revokeApiKey(em: EntityManager, id: string): Promise<ApiKeyRecord> {
  const [row] = await em.execute<ApiKeyRow[]>(`update api_keys set revoked_at = coalesce(revoked_at, clock_timestamp()) where id = ? returning ${COLUMNS}`, [id]);
  if (!row) throw new BillingError('not_found_error', 'resource_missing', `No such API key: '${id}'`, 'id');
  return record(row);
}

/**
 * The live key with this digest, read on every request (no cache: a revocation holds at once on
 * every process). The same statement marks the key used, but only when its last use is a minute
 * old or more, so a busy key costs one row write a minute rather than one a request.
 */
export async function findLiveApiKey(em: EntityManager, digest: Buffer): Promise<{ id: string; role: Role } | null> {
  const [row] = await em.execute<Array<{ id: string; role: Role }>>(
    `with found as (select id, role, last_used_at from api_keys where digest = ? and revoked_at is null),
          touched as (
            update api_keys k set last_used_at = clock_timestamp() from found
             where k.id = found.id and (found.last_used_at is null or found.last_used_at < clock_timestamp() - interval '1 minute')
            returning k.id)
     select found.id, found.role from found left join touched on touched.id = found.id`,
    [digest],
  );
  return row ?? null;
}

export async function apiKeyOf(em: EntityManager, id: string): Promise<ApiKeyRecord> {
  const [row] = await em.execute<ApiKeyRow[]>(`select ${COLUMNS} from api_keys where id = ?`, [id]);
  if (!row) throw new BillingError('not_found_error', 'resource_missing', `No such API key: '${id}'`, 'id');
  return record(row);
}
