import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Role } from '../config/env';
import { insertApiKey, listApiKeys, revokeApiKey, type ApiKeyRecord } from '../db/api-keys';
import { newId } from '../db/ids';
import type { Page, PageRequest } from '../db/pagination';

/** How keys made through the API look: `sk_` then 43 base64url characters (256 random bits). */
export const DB_KEY_SHAPE = /^sk_[A-Za-z0-9_-]{43}$/;

/** The characters of a key a list shows, to tell keys apart: `sk_` and the first 8 random ones. */
const PREFIX_LENGTH = 11;

export const keyDigest = (key: string): Buffer => createHash('sha256').update(key).digest();

/** Makes a key; the answer is the only place its secret ever appears (the database keeps its digest). */
export async function createApiKey(em: EntityManager, input: { name: string; role: Role }): Promise<{ key: ApiKeyRecord; secret: string }> {
  const secret = `sk_${randomBytes(32).toString('base64url')}`;
  const key = await insertApiKey(em, { id: newId('key'), name: input.name, role: input.role, prefix: secret.slice(0, PREFIX_LENGTH), digest: keyDigest(secret) });
  return { key, secret };
}

export const apiKeysPage = (em: EntityManager, page: PageRequest): Promise<Page<ApiKeyRecord>> => listApiKeys(em, page);

export const revokeKey = (em: EntityManager, id: string): Promise<ApiKeyRecord> => revokeApiKey(em, id);
