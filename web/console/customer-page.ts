import { Router, type Request, type Response } from 'express';
import type { Schemas } from '../../client';
import { badge, date, dateTime, money } from '../format';
import { field, formValues, refusalBanner, refusalOf, type Refusal } from '../forms';
import { html, type Html } from '../html';
import { sendConsolePage } from '../layout';
import { intOrText, isZero, trimZeros } from './api-values';
import { sendReadFailure } from './read-failure';
import { formGuards, idempotencyHeader, setFlash } from './session';

type Customer = Schemas['Customer'];
type TimelineEvent = Schemas['TimelineEvent'];

/** A form of this page sent back with the API's refusal, and what was typed in it. */
interface Refused {
  form: 'edit' | 'credit' | 'portal';
  values: Record<string, string>;
  refusal: Refusal;
  status: number;
}

const EDIT_FIELDS = ['name', 'email', 'net_terms_days', 'invoice_grace_period_days'];
const CREDIT_FIELDS = ['granted_credits', 'name'];
const TIMELINE_PAGE = 25;

const terms = (days: number): string => (days === 0 ? 'Due on issue' : `Net ${days} day${days === 1 ? '' : 's'}`);
const grace = (days: number): string => (days === 0 ? 'None: renewals are finalised at once' : `${days} day${days === 1 ? '' : 's'} as a draft`);

/** A timeline event's tone: its dot's colour. */
function tone(type: string): string {
  if (/failed|uncollectible|voided|canceled/.test(type)) return 'bad';
  if (/requires_action|paused|queued|refund/.test(type)) return 'warn';
  if (/paid|succeeded|sent|granted|credited|credit_note/.test(type)) return 'good';
  return 'info';
}

/** Where a timeline event's resource is shown in the console, if it has a page. */
function resourceLink(r: TimelineEvent['resource']): string | null {
  if (r.object === 'invoice') return `/console/invoices/${encodeURIComponent(r.id)}`;
  if (r.object === 'subscription') return `/console/subscriptions/${encodeURIComponent(r.id)}`;
  return null;
}

function timeline(customerId: string, events: Schemas['TimelineEventList'], after: string | undefined): Html {
  const items = events.data.map((e) => {
    const href = resourceLink(e.resource);
    return html`<li class="tl-${tone(e.type)}">
  <time datetime="${e.occurred_at ?? ''}">${dateTime(e.occurred_at)}</time>
  <div><span class="tl-dot" aria-hidden="true"></span>${href ? html`<a href="${href}">${e.summary}</a>` : e.summary}<div class="muted tl-type">${e.type}</div></div>
</li>`;
  });
  const base = `/console/customers/${encodeURIComponent(customerId)}`;
  return html`<section class="card" id="timeline">
  <h2>Timeline ${after ? html`<a class="small" href="${base}#timeline">Newest</a>` : ''}</h2>
  ${items.length ? html`<ol class="timeline customer-timeline">${items}</ol>` : html`<p class="empty">Nothing has happened yet.</p>`}
  ${events.has_more ? html`<p class="more"><a href="${base}?timeline_after=${encodeURIComponent(events.data.at(-1)!.id)}#timeline">Older events →</a></p>` : ''}
</section>`;
}

function details(c: Customer, taxRates: Schemas['CustomerTaxRates'] | undefined, balance: Schemas['CustomerBalance'] | undefined): Html {
  const rates = taxRates?.data ?? [];
  return html`<section class="card">
  <h2>Details</h2>
  <dl class="facts">
    <dt>Customer id</dt><dd class="mono">${c.id}</dd>
    <dt>E-mail</dt><dd>${c.email}</dd>
    <dt>External id</dt><dd>${c.external_id ? html`<span class="mono">${c.external_id}</span>` : html`<span class="muted">—</span>`}</dd>
    <dt>Currency</dt><dd>${c.currency}</dd>
    <dt>Time zone</dt><dd>${c.timezone}</dd>
    <dt>Payment terms</dt><dd>${terms(c.net_terms_days)}</dd>
    <dt>Invoice grace</dt><dd>${grace(c.invoice_grace_period_days)}</dd>
    <dt>Tax rates</dt><dd>${rates.length ? rates.map((r) => html`<span class="badge badge-muted">${r.code}</span> `) : html`<span class="muted">None</span>`}</dd>
    <dt>Customer since</dt><dd>${date(c.created_at)}</dd>
  </dl>
</section>
<section class="card">
  <h2>Payment method</h2>
  ${paymentMethod(balance?.default_payment_method ?? null)}
</section>`;
}

const BRANDS: Record<string, string> = { visa: 'Visa', mastercard: 'Mastercard', amex: 'American Express', discover: 'Discover', jcb: 'JCB', diners: 'Diners Club', unionpay: 'UnionPay' };

function paymentMethod(pm: Schemas['CustomerBalance']['default_payment_method']): Html {
  if (!pm) return html`<p class="muted">No card on file: invoices wait for a payment by transfer.</p>`;
  const expiry = pm.exp_month && pm.exp_year ? `${String(pm.exp_month).padStart(2, '0')}/${String(pm.exp_year).slice(-2)}` : null;
  const now = new Date();
  const expired = !!pm.exp_year && !!pm.exp_month && (pm.exp_year < now.getUTCFullYear() || (pm.exp_year === now.getUTCFullYear() && pm.exp_month < now.getUTCMonth() + 1));
  return html`<div class="card-on-file">
  <div><strong>${pm.brand ? (BRANDS[pm.brand] ?? pm.brand) : 'Card'}</strong>${pm.last4 ? html` <span class="mono">•••• ${pm.last4}</span>` : ''} <span class="badge badge-good">default</span>${expired ? html` <span class="badge badge-bad">expired</span>` : ''}</div>
  <div class="muted">${expiry ? `Expires ${expiry} · ` : ''}<span class="mono">${pm.id}</span></div>
</div>
<p class="hint">Renewals and retries are charged to this card.</p>`;
}

function subscriptionsCard(list: Schemas['SubscriptionList'] | undefined, planNames: Map<string, string>): Html {
  const rows = (list?.data ?? []).map(
    (s) => html`<tr>
  <td><a href="/console/subscriptions/${s.id}"><strong>${planNames.get(`${s.plan_code}@${s.plan_version}`) ?? s.plan_code}</strong></a> <span class="muted mono">${s.plan_code} v${s.plan_version}</span>${s.quantity > 1 ? html` <span class="muted">× ${s.quantity}</span>` : ''}<div class="muted mono">${s.id}</div></td>
  <td>${badge(s.status)}${s.cancel_at_period_end ? html` <span class="badge badge-warn">cancels at period end</span>` : ''}</td>
  <td>${s.current_period_start ? html`${date(s.current_period_start)} – ${date(s.current_period_end)}` : html`<span class="muted">—</span>`}</td>
  <td class="num">${s.status === 'canceled' ? html`<span class="muted">—</span>` : date(s.next_billing_at)}</td>
</tr>`,
  );
  return html`<section class="card card-table" id="subscriptions">
  <h2>Subscriptions</h2>
  <table>
    <thead><tr><th>Plan</th><th>Status</th><th>Current period</th><th class="num">Next billing</th></tr></thead>
    <tbody>${rows.length ? rows : html`<tr><td colspan="4" class="empty">No subscriptions.</td></tr>`}</tbody>
  </table>
</section>`;
}

function invoicesCard(customerId: string, list: Schemas['InvoiceList'] | undefined): Html {
  const rows = (list?.data ?? []).map(
    (i) => html`<tr>
  <td><a href="/console/invoices/${i.id}"><strong>${i.number ?? 'Draft'}</strong></a></td>
  <td>${badge(i.status)}${i.overdue ? html` <span class="badge badge-bad">overdue</span>` : ''}</td>
  <td class="num">${money(i.total, i.currency)}</td>
  <td class="num">${isZero(i.amount_due) ? html`<span class="muted">${money(i.amount_due, i.currency)}</span>` : html`<strong>${money(i.amount_due, i.currency)}</strong>`}</td>
  <td class="num">${date(i.finalized_at ?? i.issued_at)}</td>
</tr>`,
  );
  return html`<section class="card card-table" id="invoices">
  <h2>Invoices ${list?.has_more ? html`<a class="small" href="/console/invoices?customer_id=${customerId}">All invoices →</a>` : ''}</h2>
  <table>
    <thead><tr><th>Number</th><th>Status</th><th class="num">Total</th><th class="num">Amount due</th><th class="num">Issued</th></tr></thead>
    <tbody>${rows.length ? rows : html`<tr><td colspan="5" class="empty">No invoices.</td></tr>`}</tbody>
  </table>
</section>`;
}

function emailsCard(list: Schemas['EmailList'] | undefined): Html {
  const rows = (list?.data ?? []).map(
    (e) => html`<tr>
  <td>${e.subject}<div class="muted">to ${e.to}</div></td>
  <td><span class="mono">${e.template}</span></td>
  <td class="num">${dateTime(e.sent_at ?? e.created_at)}</td>
  <td>${badge(e.status)}</td>
</tr>`,
  );
  return html`<section class="card card-table" id="emails">
  <h2>E-mails sent</h2>
  <table>
    <thead><tr><th>Subject</th><th>Kind</th><th class="num">Sent</th><th>Status</th></tr></thead>
    <tbody>${rows.length ? rows : html`<tr><td colspan="4" class="empty">No e-mails.</td></tr>`}</tbody>
  </table>
</section>`;
}

function walletsCard(list: Schemas['WalletList'] | undefined): Html {
  const wallets = list?.data ?? [];
  if (!wallets.length) return html``;
  return html`<section class="card" id="wallets">
  <h2>Wallets</h2>
  <table>
    <thead><tr><th>Wallet</th><th class="num">Balance</th></tr></thead>
    <tbody>${wallets.map(
      (w) => html`<tr><td>${w.name ?? html`<span class="mono">${w.id}</span>`} ${w.status === 'active' ? '' : badge(w.status)}<div class="muted">${w.credits_balance} credits${w.expires_at ? html` · expires ${date(w.expires_at)}` : ''}</div></td><td class="num">${money(w.balance, w.currency)}</td></tr>`,
    )}</tbody>
  </table>
</section>`;
}

/** A portal link just made for the customer, shown once on the page that asked for it (never put in a cookie or a URL). */
interface PortalLink {
  url: string;
  expiresAt: string;
}

function portalLinkAction(req: Request, base: string, refused: Refused | null, link: PortalLink | null): Html {
  const portal = refused?.form === 'portal' ? refused : null;
  return html`<details class="action"${portal || link ? html` open` : ''} data-action="portal_link">
    <summary>Portal link</summary>
    ${link
      ? html`<div class="banner banner-done" role="status">A link for this customer alone, valid until ${dateTime(link.expiresAt)}:
      <input type="text" readonly class="mono portal-link" value="${link.url}" aria-label="Portal link"></div>`
      : ''}
    <form method="post" action="${base}/portal_link" novalidate>${formGuards(req)}
      ${refusalBanner(portal?.refusal, ['return_url'])}
      ${field({ label: 'Return address (optional)', name: 'return_url', value: portal?.values.return_url, refusal: portal?.refusal, placeholder: 'https://app.example.com/account', hint: 'The portal shows a link back to it. Send the customer the link; it opens their portal for one hour.' })}
      <button type="submit" class="primary">Make a portal link</button>
    </form>
  </details>`;
}

function actions(req: Request, c: Customer, refused: Refused | null, link: PortalLink | null): Html {
  const edit = refused?.form === 'edit' ? refused : null;
  const credit = refused?.form === 'credit' ? refused : null;
  const base = `/console/customers/${encodeURIComponent(c.id)}`;
  return html`<section class="card" id="customer-actions">
  <h2>Actions</h2>
  <details class="action"${edit ? html` open` : ''}>
    <summary>Edit details</summary>
    <form method="post" action="${base}/edit" novalidate>${formGuards(req)}
      ${refusalBanner(edit?.refusal, EDIT_FIELDS)}
      ${field({ label: 'Name', name: 'name', value: edit ? edit.values.name : c.name, refusal: edit?.refusal })}
      ${field({ label: 'E-mail', name: 'email', type: 'email', value: edit ? edit.values.email : c.email, refusal: edit?.refusal })}
      ${field({ label: 'Payment terms (days)', name: 'net_terms_days', type: 'number', value: edit ? edit.values.net_terms_days : String(c.net_terms_days), refusal: edit?.refusal, hint: 'For invoices issued from now on.' })}
      ${field({ label: 'Invoice grace period (days)', name: 'invoice_grace_period_days', type: 'number', value: edit ? edit.values.invoice_grace_period_days : String(c.invoice_grace_period_days), refusal: edit?.refusal })}
      <button type="submit" class="primary">Save changes</button>
    </form>
  </details>
  <details class="action"${credit ? html` open` : ''}>
    <summary>Grant credit</summary>
    <form method="post" action="${base}/credit" novalidate>${formGuards(req)}
      ${refusalBanner(credit?.refusal, CREDIT_FIELDS)}
      ${field({ label: `Amount (${c.currency})`, name: 'granted_credits', value: credit?.values.granted_credits, refusal: credit?.refusal, placeholder: '25.00', hint: 'Free credit in a prepaid wallet, spent on the next invoices before any card is charged.' })}
      <button type="submit" class="primary">Grant credit</button>
    </form>
  </details>
  ${portalLinkAction(req, base, refused, link)}
</section>`;
}

async function sendCustomer(req: Request, res: Response, refused: Refused | null = null, link: PortalLink | null = null): Promise<void> {
  const id = String(req.params.id);
  const api = req.api!;
  const timelineAfter = typeof req.query.timeline_after === 'string' && req.query.timeline_after ? req.query.timeline_after : undefined;
  const path = { id };
  const [customer, balance, taxRates, events, subscriptions, invoices, emails, wallets] = await Promise.all([
    api.GET('/v1/customers/{id}', { params: { path } }),
    api.GET('/v1/customers/{id}/balance', { params: { path } }),
    api.GET('/v1/customers/{id}/tax_rates', { params: { path } }),
    api.GET('/v1/customers/{id}/timeline', { params: { path, query: { limit: TIMELINE_PAGE, ...(timelineAfter ? { starting_after: timelineAfter } : {}) } } }),
    api.GET('/v1/subscriptions', { params: { query: { customer_id: id, limit: 20 } } }),
    api.GET('/v1/invoices', { params: { query: { customer_id: id, limit: 15 } } }),
    api.GET('/v1/emails', { params: { query: { customer_id: id, limit: 10 } } }),
    api.GET('/v1/wallets', { params: { query: { customer_id: id, limit: 10 } } }),
  ]);
  const crumbs: Array<[string, string]> = [['Customers', '/console/customers']];
  if (!customer.data) return sendReadFailure(req, res, { title: 'Customer', section: 'customers', crumbs, error: customer.error, status: customer.response.status });
  if (!events.data) return sendReadFailure(req, res, { title: customer.data.name, section: 'customers', crumbs, error: events.error, status: events.response.status });
  const c = customer.data;
  const b = balance.data;
  // Subscriptions name their plan by code and version; people know plans by name.
  const codes = [...new Set((subscriptions.data?.data ?? []).map((s) => s.plan_code))];
  const versions = await Promise.all(codes.map((code) => api.GET('/v1/plans/{code}/versions', { params: { path: { code }, query: { limit: 100 } } })));
  const planNames = new Map(versions.flatMap((v) => (v.data?.data ?? []).map((p): [string, string] => [`${p.code}@${p.version}`, p.name])));
  const activeSubscriptions = (subscriptions.data?.data ?? []).filter((s) => s.status !== 'canceled').length;
  const activeWallets = (wallets.data?.data ?? []).filter((w) => w.status === 'active' && w.currency === c.currency);
  const body = html`<p class="subtitle"><span class="muted">${c.email}</span>${c.external_id ? html` · <span class="mono">${c.external_id}</span>` : ''} · <span class="mono muted">${c.id}</span></p>
<div class="stats">
  <div class="stat"><div class="label">Amount due</div><div class="value${b && !isZero(b.amount_due) ? ' value-due' : ''}">${b ? money(b.amount_due, c.currency) : '—'}</div><div class="muted">${b ? `${b.open_invoices} open invoice${b.open_invoices === 1 ? '' : 's'}` : ''}</div></div>
  <div class="stat"><div class="label">Credit balance</div><div class="value">${b ? money(b.credit_balance, c.currency) : '—'}</div><div class="muted">used before charging</div></div>
  ${activeWallets.length ? html`<div class="stat"><div class="label">Wallet credit</div><div class="value">${activeWallets.length === 1 ? money(activeWallets[0].balance, c.currency) : `${activeWallets.length} wallets`}</div><div class="muted">${activeWallets.length === 1 ? `${activeWallets[0].credits_balance} credits` : 'see Wallets'}</div></div>` : ''}
  <div class="stat"><div class="label">Subscriptions</div><div class="value">${activeSubscriptions}</div><div class="muted">not canceled</div></div>
</div>
<div class="customer-layout">
  <div class="stack">
    ${subscriptionsCard(subscriptions.data, planNames)}
    ${invoicesCard(c.id, invoices.data)}
    ${timeline(c.id, events.data, timelineAfter)}
    ${emailsCard(emails.data)}
  </div>
  <aside class="stack">
    ${req.consoleSession?.canAct ? actions(req, c, refused, link) : ''}
    ${details(c, taxRates.data, b)}
    ${walletsCard(wallets.data)}
  </aside>
</div>`;
  sendConsolePage(req, res, { title: c.name, section: 'customers', crumbs, body, status: refused?.status });
}


/** One customer: what they have and owe, what happened to them, and support's actions (admin, support). */
export function customerPage(): Router {
  const router = Router();
  router.get('/customers/:id', (req, res) => sendCustomer(req, res));

  router.post('/customers/:id/edit', async (req, res) => {
    const id = String(req.params.id);
    const v = formValues(req);
    const body = {
      ...(v.name !== undefined ? { name: v.name } : {}),
      ...(v.email !== undefined ? { email: v.email } : {}),
      ...(v.net_terms_days !== undefined ? { net_terms_days: intOrText(v.net_terms_days) } : {}),
      ...(v.invoice_grace_period_days !== undefined ? { invoice_grace_period_days: intOrText(v.invoice_grace_period_days) } : {}),
    };
    const { data, error, response } = await req.api!.POST('/v1/customers/{id}', { params: { path: { id } }, body, headers: idempotencyHeader(req) });
    if (!data) return sendCustomer(req, res, { form: 'edit', values: v, refusal: refusalOf(error, response.status), status: response.status });
    setFlash(req, res, `Details of ${data.name} saved.`);
    res.redirect(303, `/console/customers/${encodeURIComponent(id)}`);
  });

  /** Credit is granted into the customer's wallet in its currency (one credit = one unit), made on first use. */
  router.post('/customers/:id/credit', async (req, res) => {
    const id = String(req.params.id);
    const v = formValues(req);
    const api = req.api!;
    const refuse = (error: unknown, status: number) => sendCustomer(req, res, { form: 'credit', values: v, refusal: refusalOf(error, status), status });
    const customer = await api.GET('/v1/customers/{id}', { params: { path: { id } } });
    if (!customer.data) return refuse(customer.error, customer.response.status);
    const wallets = await api.GET('/v1/wallets', { params: { query: { customer_id: id, limit: 100 } } });
    if (!wallets.data) return refuse(wallets.error, wallets.response.status);
    const wallet = wallets.data.data.find((w) => w.status === 'active' && w.currency === customer.data.currency && trimZeros(w.rate) === '1');
    const granted = v.granted_credits ?? '';
    const answer = wallet
      ? await api.POST('/v1/wallets/{id}/top_ups', { params: { path: { id: wallet.id } }, body: { paid_credits: '0', granted_credits: granted }, headers: idempotencyHeader(req) })
      : await api.POST('/v1/wallets', { body: { customer_id: id, currency: customer.data.currency, rate: '1', paid_credits: '0', granted_credits: granted, name: 'Support credit' }, headers: idempotencyHeader(req) });
    if (!answer.data) return refuse(answer.error, answer.response.status);
    setFlash(req, res, `${money(granted, customer.data.currency)} of credit granted to ${customer.data.name}.`);
    res.redirect(303, `/console/customers/${encodeURIComponent(id)}`);
  });

  /** A portal link for support to send the customer: answered on the page itself, so the link is seen once, by the one who asked. */
  router.post('/customers/:id/portal_link', async (req, res) => {
    const id = String(req.params.id);
    const v = formValues(req);
    const { data, error, response } = await req.api!.POST('/v1/customers/{id}/portal_sessions', {
      params: { path: { id } },
      body: v.return_url ? { return_url: v.return_url } : {},
      headers: idempotencyHeader(req),
    });
    if (!data) return sendCustomer(req, res, { form: 'portal', values: v, refusal: refusalOf(error, response.status), status: response.status });
    await sendCustomer(req, res, null, { url: data.url, expiresAt: data.expires_at });
  });
  return router;
}
