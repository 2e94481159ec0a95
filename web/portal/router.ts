import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { ApiDeps } from '../../api/deps';
import { errorResponse } from '../../api/errors';
import { forkEm } from '../../db/orm';
import { findPortalSession, verifyPortalToken } from '../../db/portal-sessions';
import { BillingError } from '../../domain/errors';
import { portalSigningSecret } from '../../services/portal';
import { html } from '../html';
import { authenticatePaymentPages } from './authenticate-payment';
import { invoicePages } from './invoices';
import { overviewPages } from './overview';
import { paymentMethodPages } from './payment-method';
import { requireVisit, startVisit } from './session';
import { sendPortal, sendPortalRefusal, type PortalContext } from './shell';
import { subscriptionPages } from './subscriptions';

/**
 * The customer portal at /portal: reached through a signed, customer-scoped link, never with an API
 * key. The link's token is checked and moved into a cookie; every page then acts for the customer
 * the token names, through services/portal.ts, which refuses anything of another customer's.
 */
export function portalRouter(deps: ApiDeps): Router {
  const em = forkEm(deps.orm);
  const secret = portalSigningSecret(em);
  // The seller's own name heads the customer's pages; the product's name only when none is set.
  const brand = deps.seller?.name ?? 'Perennial';
  const context: PortalContext = {
    em,
    temporal: deps.temporal,
    gateway: deps.stripe?.gateway ?? null,
    planCodes: deps.portalPlanCodes ?? [],
    stripeJs: deps.stripe ? (deps.stripeJs ?? null) : null,
    brand,
    seller: deps.seller,
    async returnUrl(req) {
      const visit = req.portalVisit;
      return visit ? ((await findPortalSession(em(), visit.sessionId))?.returnUrl ?? null) : null;
    },
  };
  const router = Router();
  router.use(express.urlencoded({ extended: false, limit: '20kb' }));
  // The customer's own data: never kept by a shared cache, never framed, and the link's token never
  // sent on to another site as a Referer.
  router.use((_req, res, next) => {
    res.set({
      'Cache-Control': 'no-store',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    });
    next();
  });

  /** The link: checked, kept in the visit's cookie, then out of the address bar. */
  router.get('/s/:token', async (req, res) => {
    const check = verifyPortalToken(await secret(), String(req.params.token));
    if (!check.ok) return sendPortalRefusal(res, brand, check.reason, check.reason === 'expired' ? 410 : 403);
    startVisit(req, res, String(req.params.token), check.claims.expiresAt);
    res.redirect(303, '/portal');
  });

  router.use(requireVisit(secret, (res, reason) => sendPortalRefusal(res, brand, reason, reason === 'expired' ? 410 : 403)));
  router.use(paymentMethodPages(context));
  router.use(overviewPages(context));
  router.use(authenticatePaymentPages(context));
  router.use(invoicePages(context));
  router.use(subscriptionPages(context));
  router.use(async (req, res) => {
    await sendPortal(req, res, context, { title: 'Not found', body: html`<section class="card"><p>There is no such page. <a href="/portal">Back to your account</a></p></section>`, status: 404 });
  });
  // A service's refusal of something not the customer's reads as "not found", like an id that does not exist.
  router.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (!(error instanceof BillingError)) return next(error);
    const { status } = errorResponse(error);
    const words = error.type === 'not_found_error' ? 'There is nothing here for your account.' : error.message;
    void sendPortal(req, res, context, {
      title: error.type === 'not_found_error' ? 'Not found' : 'This cannot be done',
      body: html`<section class="card"><p>${words}</p><p><a href="/portal">Back to your account</a></p></section>`,
      status,
    }).catch(next);
  });
  return router;
}
