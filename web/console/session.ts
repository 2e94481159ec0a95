import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { perennialClient, type PerennialClient } from '../../client';
import { principalOf, type KeyRing, type Role } from '../../api/auth';
import { clearCookie, flashCookie, readCookies, setCookie } from '../cookies';
import { html, type Html } from '../html';
import { seal, sign, signatureMatches, unseal } from '../sealed';

export const SESSION_COOKIE = 'perennial_console';
const SESSION_HOURS = 12;

/** What the session cookie holds, sealed: the key the console calls the API with, and its role. */
interface SealedSession {
  key: string;
  role: Role;
  keyId: string;
  expiresAt: number;
}

export interface ConsoleSession {
  role: Role;
  keyId: string;
  /** Whether the key may act (admin, support) or only read. */
  canAct: boolean;
  /** The CSRF token every form of this sign-in carries: an HMAC of the sealed cookie. */
  csrf: string;
}

declare module 'express-serve-static-core' {
  interface Request {
    consoleSession?: ConsoleSession;
    /** The API of this same process, called with the signed-in key. */
    api?: PerennialClient;
  }
}

/**
 * The API this process serves, over loopback: the console is one more client of the public API, so
 * every rule, refusal and role check is the API's own. The address is the socket the browser's
 * request arrived on, which is wherever the app was made to listen.
 */
export function loopbackUrl(req: Request): string {
  const address = req.socket.localAddress ?? '127.0.0.1';
  const host = address.startsWith('::ffff:') ? address.slice(7) : address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${req.socket.localPort}`;
}

export function startSession(req: Request, res: Response, secret: Buffer, principal: { key: string; role: Role; keyId: string }): void {
  const sealed: SealedSession = { ...principal, expiresAt: Date.now() + SESSION_HOURS * 3_600_000 };
  setCookie(req, res, SESSION_COOKIE, seal(secret, sealed), { path: '/console', maxAgeSeconds: SESSION_HOURS * 3600 });
}

export function endSession(res: Response): void {
  clearCookie(res, SESSION_COOKIE, '/console');
}

/**
 * Signed-in pages only: an absent, altered or expired cookie, or one whose key has since been
 * revoked, goes to the sign-in page (and back to the page asked for afterwards). A POST must carry
 * the CSRF token of this sign-in.
 */
export function requireSession(secret: () => Promise<Buffer>, keys: KeyRing) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const token = readCookies(req)[SESSION_COOKIE];
    const key = await secret();
    const session = token ? unseal<SealedSession>(key, token) : null;
    if (!session || !token || session.expiresAt <= Date.now() || !(await principalOf(keys, session.key))) {
      if (session) endSession(res);
      if (req.method === 'GET') return res.redirect(303, `/console/sign_in?next=${encodeURIComponent(req.originalUrl)}`);
      res.status(401).type('text/plain').send('Your console session has ended: sign in again.');
      return;
    }
    req.consoleSession = { role: session.role, keyId: session.keyId, canAct: session.role !== 'readonly', csrf: sign(key, `csrf:${token}`) };
    req.api = perennialClient(loopbackUrl(req), session.key);
    if (req.method === 'POST' && !signatureMatches(key, `csrf:${token}`, String((req.body as Record<string, unknown> | undefined)?._csrf ?? ''))) {
      res.status(403).type('text/plain').send('This form has expired or did not come from the console: go back, reload the page and try again.');
      return;
    }
    next();
  };
}

/** The hidden fields every console form carries: the CSRF token, and an idempotency key made when the form was drawn, so a double submit acts once. */
export function formGuards(req: Request): Html {
  return html`<input type="hidden" name="_csrf" value="${req.consoleSession?.csrf ?? ''}"><input type="hidden" name="_idempotency_key" value="${randomUUID()}">`;
}

/** The Idempotency-Key header for the API call a submitted form makes. */
export function idempotencyHeader(req: Request): Record<string, string> {
  const key = String((req.body as Record<string, unknown> | undefined)?._idempotency_key ?? '');
  return /^[0-9a-f-]{36}$/.test(key) ? { 'idempotency-key': `console-${key}` } : {};
}

const flash = flashCookie('/console');

/** A one-line message shown on the next page (after a redirect): what the action did. */
export const setFlash = flash.set;
export const takeFlash = flash.take;
