import type { Request, Response } from 'express';
import { html, type Fragment } from './html';
import { formGuards, takeFlash } from './console/session';

export type ConsoleSection = 'customers' | 'subscriptions' | 'invoices' | 'plans' | 'metrics' | 'coupons' | 'finance';

const SECTIONS: Array<[ConsoleSection, string]> = [
  ['customers', 'Customers'],
  ['invoices', 'Invoices'],
  ['plans', 'Plans'],
  ['metrics', 'Metrics'],
  ['coupons', 'Coupons'],
  ['finance', 'Finance'],
];

export interface ConsolePage {
  title: string;
  section?: ConsoleSection;
  /** Where the page sits: [label, href] pairs before the title. */
  crumbs?: Array<[string, string]>;
  body: Fragment;
  status?: number;
}

function document(title: string, body: Fragment) {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Perennial</title>
<link rel="stylesheet" href="/console/assets/console.css">
</head>
${body}
</html>`;
}

/** A console page: the navigation, who is signed in, the flash of the last action, then the page. */
export function sendConsolePage(req: Request, res: Response, page: ConsolePage): void {
  const session = req.consoleSession;
  const flash = takeFlash(req, res);
  const body = html`<body class="console">
<header class="topbar">
  <a class="brand" href="/console/customers">Perennial <span>console</span></a>
  <nav>${SECTIONS.map(([id, label]) => html`<a href="/console/${id}"${page.section === id ? html` class="active" aria-current="page"` : ''}>${label}</a>`)}</nav>
  ${session
    ? html`<div class="who"><span class="badge badge-${session.canAct ? 'info' : 'muted'}" title="key ${session.keyId}">${session.role}</span>
  <form method="post" action="/console/sign_out">${formGuards(req)}<button class="link" type="submit">Sign out</button></form></div>`
    : ''}
</header>
<main>
  ${page.crumbs?.length ? html`<p class="crumbs">${page.crumbs.map(([label, href]) => html`<a href="${href}">${label}</a> / `)}</p>` : ''}
  <h1>${page.title}</h1>
  ${flash ? html`<div class="banner banner-done" role="status">${flash}</div>` : ''}
  ${page.body}
</main>
</body>`;
  res.status(page.status ?? 200).type('html').send(document(page.title, body).text);
}

/** A page with no navigation: sign-in, errors before a session exists. */
export function sendBarePage(res: Response, title: string, body: Fragment, status = 200): void {
  res.status(status).type('html').send(document(title, html`<body class="bare"><main class="narrow">${body}</main></body>`).text);
}

export interface PortalPage {
  /** The seller's name, shown as the page's owner. */
  brand: string;
  title: string;
  body: Fragment;
  status?: number;
}

/** A customer portal page: the seller's name, then the page; no console navigation. */
export function sendPortalPage(res: Response, page: PortalPage): void {
  const body = html`<body class="portal">
<header class="topbar"><span class="brand">${page.brand}</span><span class="portal-label">Billing</span></header>
<main class="narrow"><h1>${page.title}</h1>${page.body}</main>
</body>`;
  res.status(page.status ?? 200).type('html').send(document(page.title, body).text);
}
