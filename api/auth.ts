import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { ApiKeySetting, Role } from '../config/env';
import { BillingError } from '../domain/errors';

export type { Role };

export interface Principal {
  role: Role;
  /** A stable, non-secret name for the key (idempotency keys are scoped by it). */
  keyId: string;
}

interface ApiKey extends Principal {
  digest: Buffer;
}

const digest = (key: string): Buffer => createHash('sha256').update(key).digest();

/** The configured keys (config/env.ts has parsed and checked them), kept only as digests. */
export function apiKeyDigests(keys: ApiKeySetting[]): ApiKey[] {
  if (keys.length === 0) throw new Error('BILLING_API_KEYS is empty: the API would accept no request');
  return keys.map(({ role, key }) => ({ role, keyId: digest(key).toString('hex').slice(0, 16), digest: digest(key) }));
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/** The principal a presented key stands for, or null for a key that is not configured. */
export function principalOf(keys: ApiKey[], key: string): Principal | null {
  const presented = digest(key);
  const found = keys.find((k) => timingSafeEqual(k.digest, presented));
  return found ? { role: found.role, keyId: found.keyId } : null;
}

export function authenticate(keys: ApiKey[]) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      throw new BillingError('authentication_error', 'api_key_missing', 'No API key provided: send "Authorization: Bearer <key>"');
    }
    const found = principalOf(keys, match[1]);
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
