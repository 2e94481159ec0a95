import { join } from 'node:path';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import { cachedSigningSecret } from '../../db/signing-secrets';
import { forkEm } from '../../db/orm';
import { principalOf, type KeyRing } from '../../api/auth';
import type { ApiDeps } from '../../api/deps';
import { html } from '../html';
import { sendBarePage, sendConsolePage } from '../layout';
import { field, formValues, type Refusal } from '../forms';
import { endSession, requireSession, startSession } from './session';
import { catalogPages } from './catalog';
import { customerPages } from './customers';
import { financePages } from './finance';
import { invoicePages } from './invoices';
import { subscriptionPages } from './subscriptions';
import { logger } from '../../observability/logger';
import { routePattern } from '../../api/route-pattern';

/** What the console's pages need beyond the API they call: links out of the console. */
export interface ConsoleContext {
  temporalUi: { url: string; namespace: string } | null;
}

/** Only a path inside the console may follow a sign-in: never another site. */
const safeNext = (next: unknown): string => (typeof next === 'string' && /^\/console(\/|$|\?)/.test(next) && !next.startsWith('//') ? next : '/console/customers');

function signInPage(next: string, refusal: Refusal | null) {
  return html`<div class="card sign-in">
  <h1>Perennial console</h1>
  <p class="muted">Sign in with an API key. An admin or support key can act on customers; a readonly key sees everything and changes nothing.</p>
  <form method="post" action="/console/sign_in">
    <input type="hidden" name="next" value="${next}">
    ${field({ label: 'API key', name: 'api_key', type: 'password', required: true, refusal, attributes: { autocomplete: 'off', autofocus: true } })}
    <button type="submit" class="primary">Sign in</button>
  </form>
</div>`;
}

/**
 * The support console at /console: server-rendered pages, no script, assets served from this
 * process. Signing in checks the key against the API's own keys (BILLING_API_KEYS and the live keys of the database) and keeps it, sealed, in the
 * session cookie; every page then calls this process's API with it (session.ts), so the console can
 * do exactly what the key can do through the API, and nothing else.
 */
export function consoleRouter(deps: ApiDeps, keys: KeyRing): Router {
  const secret = cachedSigningSecret(forkEm(deps.orm), 'console_sessions');
  const context: ConsoleContext = { temporalUi: deps.temporalUi ?? null };
  const router = Router();
  router.use('/assets', express.static(join(__dirname, '..', 'assets'), { fallthrough: false, maxAge: '1h' }));
  router.use(express.urlencoded({ extended: false, limit: '100kb' }));
  // Pages carry what the session may see: never kept by a shared cache, never framed by another site.
  router.use((_req, res, next) => {
    res.set({ 'Cache-Control': 'no-store', 'X-Frame-Options': 'DENY', 'Content-Security-Policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'" });
    next();
  });

  router.get('/sign_in', (req, res) => sendBarePage(res, 'Sign in', signInPage(safeNext(req.query.next), null)));
  router.post('/sign_in', async (req: Request, res) => {
    const { api_key: key = '', next } = formValues(req);
    const principal = key ? await principalOf(keys, key) : null;
    if (!principal) {
      const refusal = { param: 'api_key', message: key ? 'This API key is not valid for this deployment.' : 'Enter an API key.' };
      return sendBarePage(res, 'Sign in', signInPage(safeNext(next), refusal), 401);
    }
    startSession(req, res, await secret(), { key, ...principal });
    res.redirect(303, safeNext(next));
  });

  router.use(requireSession(secret, keys));
  router.post('/sign_out', (_req, res) => {
    endSession(res);
    res.redirect(303, '/console/sign_in');
  });
  router.get('/', (_req, res) => res.redirect(303, '/console/customers'));
  router.use(customerPages(context));
  router.use(subscriptionPages(context));
  router.use(invoicePages(context));
  router.use(catalogPages(context));
  router.use(financePages(context));
  router.use((req: Request, res: Response) =>
    sendConsolePage(req, res, { title: 'Not found', body: html`<section class="card"><p>There is no such console page. <a href="/console/customers">Back to customers</a></p></section>`, status: 404 }),
  );
  // A page that failed says so as a page (the API's JSON error would mean nothing in a browser); the cause is logged.
  router.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    (req.log ?? logger).error({ requestId: req.requestId, err: error, method: req.method, route: routePattern(req.method, req.originalUrl.split('?')[0]) }, 'console page failed');
    sendConsolePage(req, res, { title: 'Something went wrong', body: html`<div class="banner banner-refusal" role="alert">This page could not be shown; the error has been logged. Nothing was changed by loading it.</div>`, status: 500 });
  });
  return router;
}
