import type { NextFunction, Request, Response } from 'express';
import { verifyPortalToken } from '../../db/portal-sessions';
import { clearCookie, flashCookie, readCookies, setCookie } from '../cookies';
import { html, type Html } from '../html';
import { sign, signatureMatches } from '../sealed';

export const PORTAL_COOKIE = 'perennial_portal';

/** Who the portal is open for: the customer the link's signed token names, never anything the browser says. */
export interface PortalVisit {
  customerId: string;
  sessionId: string;
  expiresAt: Date;
  /** The CSRF token every portal form carries: an HMAC of the cookie's token. */
  csrf: string;
}

declare module 'express-serve-static-core' {
  interface Request {
    portalVisit?: PortalVisit;
  }
}

const csrfOf = (secret: Buffer, token: string): string => sign(secret, `portal-csrf:${token}`);

/**
 * Keeps the link's token in an HttpOnly, SameSite=Strict cookie scoped to /portal that ends when the
 * token does, so the token leaves the address bar (and the browser's history) after the first visit.
 */
export function startVisit(req: Request, res: Response, token: string, expiresAt: Date): void {
  const seconds = Math.max(1, Math.floor((expiresAt.getTime() - Date.now()) / 1000));
  setCookie(req, res, PORTAL_COOKIE, token, { path: '/portal', maxAgeSeconds: seconds });
}

/**
 * Portal pages only: the cookie's token must verify (this deployment's signature, not expired);
 * otherwise `refused` draws the page saying so. A POST must carry the CSRF token of this visit.
 */
export function requireVisit(secret: () => Promise<Buffer>, refused: (res: Response, reason: 'invalid' | 'expired' | 'missing') => void) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const token = readCookies(req)[PORTAL_COOKIE];
    if (!token) return refused(res, 'missing');
    const key = await secret();
    const check = verifyPortalToken(key, token);
    if (!check.ok) {
      clearCookie(res, PORTAL_COOKIE, '/portal');
      return refused(res, check.reason);
    }
    const csrf = csrfOf(key, token);
    if (req.method === 'POST' && !signatureMatches(key, `portal-csrf:${token}`, String((req.body as Record<string, unknown> | undefined)?._csrf ?? ''))) {
      res.status(403).type('text/plain').send('This form has expired or did not come from this page: go back, reload the page and try again.');
      return;
    }
    req.portalVisit = { customerId: check.claims.customerId, sessionId: check.claims.sessionId, expiresAt: check.claims.expiresAt, csrf };
    next();
  };
}

/** The hidden CSRF field every portal form carries. */
export function csrfField(req: Request): Html {
  return html`<input type="hidden" name="_csrf" value="${req.portalVisit?.csrf ?? ''}">`;
}

const flash = flashCookie('/portal');

/** A one-line message shown on the next page (after a redirect): what the action did. */
export const setPortalFlash = flash.set;
export const takePortalFlash = flash.take;
