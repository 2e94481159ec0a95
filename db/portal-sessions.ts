import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { newId } from './ids';

/**
 * Customer portal links. A link carries a token signed (HMAC-SHA256 under the `portal_sessions`
 * secret of db/signing-secrets.ts) over the link's id (bps_…), its customer and its expiry, so a visit is
 * checked without a lookup and a token cannot be widened to another customer or a later expiry.
 * The row records each link made (by the API for support, by the worker for an e-mail) and where its
 * "Return" link goes. Here rather than in services/ because the worker's activities make links too.
 */

/** How long a link lets a customer in. */
export const PORTAL_SESSION_SECONDS = 3600;

export interface PortalSession {
  id: string;
  customerId: string;
  returnUrl: string | null;
  expiresAt: Date;
  createdAt: Date;
}

/** What a verified token names. */
export interface PortalClaims {
  sessionId: string;
  customerId: string;
  expiresAt: Date;
}

export type PortalTokenCheck = { ok: true; claims: PortalClaims } | { ok: false; reason: 'invalid' | 'expired' };

const ID = /^[A-Za-z0-9_]{1,64}$/;

const signed = (secret: Buffer, body: string): string => createHmac('sha256', secret).update(`portal:${body}`).digest('base64url');

/** `<session id>.<customer id>.<expiry, unix seconds>.<signature>`: URL-safe as it is. */
export function signPortalToken(secret: Buffer, claims: PortalClaims): string {
  const body = `${claims.sessionId}.${claims.customerId}.${Math.floor(claims.expiresAt.getTime() / 1000)}`;
  return `${body}.${signed(secret, body)}`;
}

/** The token's claims when this deployment signed it unaltered and it has not expired at `now`. */
export function verifyPortalToken(secret: Buffer, token: string, now: Date = new Date()): PortalTokenCheck {
  const parts = token.split('.');
  if (parts.length !== 4) return { ok: false, reason: 'invalid' };
  const [sessionId, customerId, expiry, signature] = parts;
  if (!ID.test(sessionId) || !ID.test(customerId) || !/^\d{1,12}$/.test(expiry)) return { ok: false, reason: 'invalid' };
  const expected = Buffer.from(signed(secret, `${sessionId}.${customerId}.${expiry}`));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'invalid' };
  const expiresAt = new Date(Number(expiry) * 1000);
  // Checked after the signature, so "expired" is only ever said of a token we made.
  if (expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired' };
  return { ok: true, claims: { sessionId, customerId, expiresAt } };
}

/**
 * A session id fixed by `key` (an e-mail's outbox key), so the activity that writes the e-mail makes
 * the same link however often it is retried.
 */
export function portalSessionIdFor(key: string): string {
  const digest = createHash('sha256').update(`portal-session:${key}`).digest();
  const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  let out = '';
  for (const b of digest.subarray(0, 20)) out += alphabet[b % 62];
  return `bps_${out}`;
}

interface Row {
  id: string;
  customer_id: string;
  return_url: string | null;
  expires_at: Date;
  created_at: Date;
}

const sessionOf = (row: Row): PortalSession => ({ id: row.id, customerId: row.customer_id, returnUrl: row.return_url, expiresAt: new Date(row.expires_at), createdAt: new Date(row.created_at) });

/**
 * Makes a session for `customerId` valid for an hour from `now` and its signed token. With `id`
 * given, a session already made under it is returned as it was (same expiry, same token): the
 * caller's retry makes no second link. The customer must exist (its foreign key says so).
 */
export async function createPortalSession(
  em: EntityManager,
  secret: Buffer,
  request: { customerId: string; returnUrl?: string | null; id?: string; now?: Date; seconds?: number },
): Promise<{ session: PortalSession; token: string }> {
  const now = request.now ?? new Date();
  // Whole seconds: the token states the expiry in seconds, and the row must say the same.
  const expiresAt = new Date(Math.floor(now.getTime() / 1000) * 1000 + (request.seconds ?? PORTAL_SESSION_SECONDS) * 1000);
  const id = request.id ?? newId('bps');
  const fork = em.fork();
  await fork.execute('insert into portal_sessions (id, customer_id, return_url, expires_at, created_at) values (?, ?, ?, ?, ?) on conflict (id) do nothing', [
    id,
    request.customerId,
    request.returnUrl ?? null,
    expiresAt,
    now,
  ]);
  const [row] = await fork.execute<Row[]>('select id, customer_id, return_url, expires_at, created_at from portal_sessions where id = ?', [id]);
  if (row.customer_id !== request.customerId) throw new Error(`portal session ${id} belongs to another customer`);
  const session = sessionOf(row);
  return { session, token: signPortalToken(secret, { sessionId: session.id, customerId: session.customerId, expiresAt: session.expiresAt }) };
}

export async function findPortalSession(em: EntityManager, id: string): Promise<PortalSession | null> {
  const [row] = await em.fork().execute<Row[]>('select id, customer_id, return_url, expires_at, created_at from portal_sessions where id = ?', [id]);
  return row ? sessionOf(row) : null;
}

/** The page a token opens: `<base>/portal/s/<token>`. */
export const portalLink = (publicUrl: string, token: string): string => `${publicUrl.replace(/\/+$/, '')}/portal/s/${token}`;
