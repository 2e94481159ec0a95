import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { Request, Response } from 'express';
import type { Seller } from '../../domain/invoice-document';
import type { StripeGateway } from '../../payments/stripe-gateway';
import { html, type Fragment } from '../html';
import { sendPortalPage } from '../layout';
import { takePortalFlash } from './session';

/** What the portal's pages need: the services' dependencies and what the operator configured. */
export interface PortalContext {
  em: () => EntityManager;
  temporal: Client;
  gateway: StripeGateway | null;
  /** The plans a customer may move to (PORTAL_PLAN_CODES). */
  planCodes: readonly string[];
  stripeJs: { url: string; publishableKey: string } | null;
  /** The seller's name, shown as the pages' owner. */
  brand: string;
  /** Who issues the invoices (SELLER_*), printed on their PDFs. */
  seller?: Seller;
  /** Where the visit's link says to go back to (the portal link's return_url), looked up per request. */
  returnUrl(req: Request): Promise<string | null>;
}

export type PortalSection = 'home' | 'invoices' | 'payment_method';

const SECTIONS: Array<[PortalSection, string, string]> = [
  ['home', 'Overview', '/portal'],
  ['invoices', 'Invoices', '/portal/invoices'],
  ['payment_method', 'Payment method', '/portal/payment_method'],
];

/** The site a return URL leads to, as the customer knows it ("example.com"). */
function siteOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the site';
  }
}

/** A portal page: its tabs, the way back to the seller's site, the last action's message, then the page. */
export async function sendPortal(
  req: Request,
  res: Response,
  context: PortalContext,
  page: { title: string; section?: PortalSection; body: Fragment; status?: number; lead?: Fragment },
): Promise<void> {
  const returnUrl = await context.returnUrl(req);
  const flash = takePortalFlash(req, res);
  const body = html`<nav class="portal-nav" aria-label="Billing">
  ${SECTIONS.map(([id, label, href]) => html`<a href="${href}"${page.section === id ? html` class="active" aria-current="page"` : ''}>${label}</a>`)}
  ${returnUrl ? html`<a class="portal-return" href="${returnUrl}">← Return to ${siteOf(returnUrl)}</a>` : ''}
</nav>
${page.lead ? html`<p class="portal-lead muted">${page.lead}</p>` : ''}
${flash ? html`<div class="banner banner-done" role="status">${flash}</div>` : ''}
${page.body}
<footer class="portal-footer muted">Billing for ${context.brand}. This page is for you alone: do not forward its link.</footer>`;
  sendPortalPage(res, { brand: context.brand, title: page.title, body, status: page.status });
}

/** A page for a visitor without a valid link: it says why, and what to do. */
export function sendPortalRefusal(res: Response, brand: string, reason: 'invalid' | 'expired' | 'missing' | 'not_found', status: number): void {
  const words = {
    expired: ['This link has expired; ask for a new one', 'For your security, billing links work for one hour. Ask us for a new link, or use the one in our latest e-mail.'],
    invalid: ['This link is not valid', 'The link may have been copied incompletely. Open it again from the e-mail or message it came in, or ask for a new one.'],
    missing: ['Open your billing link', 'The billing portal opens from a link we send you. Use the link in our latest e-mail, or ask for a new one.'],
    not_found: ['Not found', 'There is nothing here for your account.'],
  }[reason];
  sendPortalPage(res, { brand, title: words[0], body: html`<div class="card portal-refused"><p>${words[1]}</p></div>`, status });
}
