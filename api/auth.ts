import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { BillingError } from '../domain/errors';

export type Role = 'admin' | 'support' | 'readonly';
const ROLES: readonly Role[] = ['admin', 'support', 'readonly'];

export interface Principal {
  role: Role;
  /** A stable, non-secret name for the key (idempotency keys are scoped by it). */
  keyId: string;
}

interface ApiKey extends Principal {
  digest: Buffer;
}

const digest = (key: string): Buffer => createHash('sha256').update(key).digest();

/** BILLING_API_KEYS: `role:key` pairs separated by commas, e.g. `admin:sk_live_x,readonly:sk_ro_y`. */
export function parseApiKeys(spec: string): ApiKey[] {
  const keys = spec
    .split(',')
    .map((pair) => pair.trim())
    .filter(Boolean)
    .map((pair) => {
      const at = pair.indexOf(':');
      const role = pair.slice(0, at) as Role;
      const key = pair.slice(at + 1);
      if (at < 0 || !ROLES.includes(role) || key.length < 8) {
        throw new Error(`BILLING_API_KEYS: "${pair.slice(0, at < 0 ? 12 : at)}..." must be role:key with role one of ${ROLES.join(', ')} and a key of 8+ characters`);
      }
      return { role, keyId: digest(key).toString('hex').slice(0, 16), digest: digest(key) };
    });
  if (keys.length === 0) throw new Error('BILLING_API_KEYS is empty: the API would accept no request');
  return keys;
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

export function authenticate(keys: ApiKey[]) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) {
      throw new BillingError('authentication_error', 'api_key_missing', 'No API key provided: send "Authorization: Bearer <key>"');
    }
    const presented = digest(match[1]);
    const found = keys.find((k) => timingSafeEqual(k.digest, presented));
    if (!found) throw new BillingError('authentication_error', 'api_key_invalid', 'Invalid API key provided');
    req.principal = { role: found.role, keyId: found.keyId };
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
