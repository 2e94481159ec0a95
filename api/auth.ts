import { createHash, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { NextFunction, Request, Response } from 'express';
import type { ApiKeySetting, Role } from '../config/env';
import { findLiveApiKey } from '../db/api-keys';
import { BillingError } from '../domain/errors';
import { DB_KEY_SHAPE, keyDigest } from '../services/api-keys';

export type { Role };

export interface Principal {
  role: Role;
  /**
   * A stable, non-secret name for the key: the `key_…` id of a key made through the API, a digest
   * prefix for a BILLING_API_KEYS one. Idempotency keys, audit events and rate limits go by it.
   */
  keyId: string;
}

interface BootstrapKey extends Principal {
  digest: Buffer;
}

/**
 * Every key the API accepts: BILLING_API_KEYS (parsed and checked by config/env.ts, held only as
 * digests) and the live keys of the api_keys table, looked up on every request.
 */
export interface KeyRing {
  bootstrap: BootstrapKey[];
  /** null: no database to look in (contract tests that only mount the routes). */
  em: (() => EntityManager) | null;
}

const digest = (key: string): Buffer => createHash('sha256').update(key).digest();

export function keyRing(keys: ApiKeySetting[], em: (() => EntityManager) | null): KeyRing {
  if (keys.length === 0) throw new Error('BILLING_API_KEYS is empty: the API would accept no request');
  return { bootstrap: keys.map(({ role, key }) => ({ role, keyId: digest(key).toString('hex').slice(0, 16), digest: digest(key) })), em };
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/** The principal a presented key stands for, or null for a key that is unknown or revoked. */
export async function principalOf(ring: KeyRing, key: string): Promise<Principal | null> {
  const presented = digest(key);
  const found = ring.bootstrap.find((k) => timingSafeEqual(k.digest, presented));
  if (found) return { role: found.role, keyId: found.keyId };
  // Only a key of the shape the API makes can be in the table; anything else costs no query.
  if (!ring.em || !DB_KEY_SHAPE.test(key)) return null;
  const live = await findLiveApiKey(ring.em(), keyDigest(key));
  return live && { role: live.role, keyId: live.id };
}

/** Reads only the Authorization header: a request that fails here has had none of its body read. */
export function authenticate(ring: KeyRing) {
  return async (req: Request, _res: Response, next: NextFunction): Promise<void> => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      throw new BillingError('authentication_error', 'api_key_missing', 'No API key provided: send "Authorization: Bearer <key>"');
    }
    const found = await principalOf(ring, match[1]);
    if (!found) throw new BillingError('authentication_error', 'api_key_invalid', 'Invalid API key provided');
    req.principal = found;
    next();
  };
}

/** Reads need any key; writes need one of `roles`. */
export function allow(...roles: Role[]) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const role = req.principal?.role;
    if (!role || !roles.includes(role)) {
      throw new BillingError('permission_error', 'insufficient_permissions', `A ${role ?? 'missing'} key cannot ${req.method} ${req.path}; this needs one of: ${roles.join(', ')}`);
    }
    next();
  };
}
