import Decimal from 'decimal.js';
import { Router, type Request, type Response } from 'express';
import type { Schemas } from '../../client';
import { badge, date, dateTime, money } from '../format';
import { field, formValues, refusalBanner, refusalOf, type Refusal } from '../forms';
import { html, type Html } from '../html';
import { sendConsolePage } from '../layout';
import { linesTable, totalsTable } from './invoice-parts';
import type { ConsoleContext } from './router';
import { formGuards, idempotencyHeader, setFlash } from './session';

/**
 * Invoices: the list with a status filter, and one invoice with its lines, taxes and totals, its
 * payments, card attempts and collection state, refunds and credit notes, and the support actions
 * (record a payment, refund, credit note, write off, finalise or void), each asked of the API.
 */

type Invoice = Schemas['Invoice'];

const nonZero = (amount: string): boolean => !new Decimal(amount).isZero();

const STATUSES = ['draft', 'open', 'paid', 'void', 'uncollectible'] as const;
const invoiceUrl = (id: string) => `/console/invoices/${encodeURIComponent(id)}`;

interface Shown {
  open?: string;
  values?: Record<string, string>;
  refusal?: Refusal | null;
  status?: number;
}

const COLLECTION: Record<string, string> = {
  draft: 'Waiting to be finalised',
  collecting: 'Charging the card',
  retrying: 'Retrying after a failed charge',
  awaiting_customer: 'Waiting for the customer (card or 3-D Secure)',
  processing: 'Payment processing',
  failed: 'Collection failed',
  paid: 'Paid',
  manual: 'Waiting for a payment by hand',
  error: 'Stopped: Stripe refused the request',
  void: 'Void',
};

async function customerNames(req: Request, ids: string[]): Promise<Map<string, string>> {
  const unique = [...new Set(ids)];
  const found = await Promise.all(unique.map((id) => req.api!.GET('/v1/customers/{id}', { params: { path: { id } } })));
  return new Map(found.flatMap((r, i) => (r.data ? [[unique[i], r.data.name] as [string, string]] : [])));
}

async function listPage(req: Request, res: Response): Promise<void> {
  const status = STATUSES.find((s) => s === req.query.status);
  const after = typeof req.query.starting_after === 'string' ? req.query.starting_after : undefined;
  const before = typeof req.query.ending_before === 'string' && !after ? req.query.ending_before : undefined;
  const limit = Math.min(100, Math.max(1, Number.parseInt(String(req.query.limit ?? ''), 10) || 25));
  const { data, error, response } = await req.api!.GET('/v1/invoices', { params: { query: { limit, ...(status ? { status } : {}), ...(after ? { starting_after: after } : {}), ...(before ? { ending_before: before } : {}) } } });
  if (!data) {
    return sendConsolePage(req, res, { title: 'Invoices', section: 'invoices', status: response.status, body: html`<div class="banner banner-refusal">${refusalOf(error, response.status).message}</div>` });
  }
  const names = await customerNames(req, data.data.map((i) => i.customer_id));
  const query = (extra: Record<string, string>) => `/console/invoices?${new URLSearchParams({ ...(status ? { status } : {}), ...(limit !== 25 ? { limit: String(limit) } : {}), ...extra }).toString()}`;
  const first = data.data[0];
  const last = data.data[data.data.length - 1];
  // The API says whether more lie beyond in the direction asked; the other direction has more when a cursor brought us here.
  const hasNewer = before ? data.has_more : !!after;
  const hasOlder = before ? true : data.has_more;
  const body = html`
<form class="search filters" method="get" action="/console/invoices">
  <label for="f-status" class="muted">Status</label>
  <select id="f-status" name="status">${[['', 'All statuses'], ...STATUSES.map((s) => [s, s])].map(([v, l]) => html`<option value="${v}"${v === (status ?? '') ? html` selected` : ''}>${l}</option>`)}</select>
  <button type="submit">Filter</button>
</form>
<section class="card">
${data.data.length
  ? html`<table id="invoice-list"><thead><tr><th>Number</th><th>Customer</th><th>Status</th><th>Reason</th><th>Issued</th><th>Due</th><th class="num">Total</th><th class="num">Amount due</th></tr></thead><tbody>${data.data.map(
      (i) => html`<tr><td><a href="${invoiceUrl(i.id)}">${i.number ?? 'Draft'}</a></td>
<td><a href="/console/customers/${encodeURIComponent(i.customer_id)}">${names.get(i.customer_id) ?? i.customer_id}</a></td>
<td>${badge(i.status)}${i.overdue ? html` <span class="badge badge-bad">overdue</span>` : ''}</td><td class="muted">${i.billing_reason.replace(/_/g, ' ')}</td>
<td>${date(i.issued_at)}</td><td>${date(i.due_at)}</td><td class="num">${money(i.total, i.currency)}</td><td class="num">${money(i.amount_due, i.currency)}</td></tr>`,
    )}</tbody></table>`
  : html`<p class="empty">No invoices${status ? html` with status ${status}` : ''}.</p>`}
<div class="pager"><span>${data.data.length} shown</span><span class="actions">
${hasNewer && first ? html`<a class="button" href="${query({ ending_before: first.id })}">← Newer</a>` : ''}
${hasOlder && last ? html`<a class="button" href="${query({ starting_after: last.id })}">Older →</a>` : ''}
</span></div>
</section>`;
  sendConsolePage(req, res, { title: 'Invoices', section: 'invoices', body });
}

function actionForm(req: Request, inv: Invoice, name: string, summary: string, shown: Shown, fields: Html, button: Html, fieldNames: string[]): Html {
  const open = shown.open === name;
  return html`<details class="action" data-action="${name}"${open ? html` open` : ''}>
<summary>${summary}</summary>
<form method="post" action="${invoiceUrl(inv.id)}/${name}">${formGuards(req)}
${refusalBanner(open ? shown.refusal : null, fieldNames)}
${fields}
<div class="actions">${button}</div>
</form>
</details>`;
}

function actions(req: Request, inv: Invoice, shown: Shown): Html {
  const values = (name: string) => (shown.open === name ? (shown.values ?? {}) : {});
  const refusal = (name: string) => (shown.open === name ? shown.refusal : null);
  const amountHint = `In ${inv.currency}, as a decimal such as "25.00".`;
  const forms: Html[] = [];
  const collectible = inv.status === 'open' || inv.status === 'uncollectible';
  if (collectible) {
    forms.push(
      actionForm(
        req,
        inv,
        'payments',
        'Record a payment',
        shown,
        html`${field({ label: 'Amount', name: 'amount', value: values('payments').amount ?? inv.amount_due, refusal: refusal('payments'), hint: amountHint, attributes: { inputmode: 'decimal' } })}
${field({ label: 'Reference', name: 'reference', value: values('payments').reference, refusal: refusal('payments'), placeholder: 'Bank transfer reference' })}`,
        html`<button type="submit" class="primary">Record payment</button>`,
        ['amount', 'reference'],
      ),
    );
  }
  if (inv.status !== 'draft' && inv.status !== 'void') {
    forms.push(
      actionForm(
        req,
        inv,
        'refunds',
        'Refund',
        shown,
        html`${field({ label: 'Amount', name: 'amount', value: values('refunds').amount, refusal: refusal('refunds'), hint: html`Empty: everything paid and not refunded yet. ${amountHint}`, attributes: { inputmode: 'decimal' } })}
${field({ label: 'Reason', name: 'reason', value: values('refunds').reason, refusal: refusal('refunds') })}`,
        html`<button type="submit" class="danger">Refund</button>`,
        ['amount', 'reason'],
      ),
    );
    forms.push(
      actionForm(
        req,
        inv,
        'credit_notes',
        'Issue a credit note',
        shown,
        html`${field({ label: 'Amount', name: 'amount', value: values('credit_notes').amount, refusal: refusal('credit_notes'), hint: amountHint, attributes: { inputmode: 'decimal' } })}
${field({ label: 'Reason', name: 'reason', value: values('credit_notes').reason, refusal: refusal('credit_notes') })}`,
        html`<button type="submit">Issue credit note</button>`,
        ['amount', 'reason'],
      ),
    );
  }
  if (inv.status === 'open') {
    forms.push(actionForm(req, inv, 'mark_uncollectible', 'Mark uncollectible', shown, html`<p class="muted">Writes the amount due off as bad debt; a later payment still settles it.</p>`, html`<button type="submit" class="danger">Mark uncollectible</button>`, []));
    forms.push(actionForm(req, inv, 'void', 'Void', shown, html`<p class="muted">Only an invoice nothing was paid on: it keeps its number and the ledger reverses it.</p>`, html`<button type="submit" class="danger">Void invoice</button>`, []));
  }
  if (inv.status === 'draft') {
    forms.push(actionForm(req, inv, 'finalize', 'Finalise now', shown, html`<p class="muted">Numbers the invoice, posts it and starts collecting it.</p>`, html`<button type="submit" class="primary">Finalise</button>`, []));
  }
  return forms.length ? html`<section class="card" id="actions"><h2>Actions</h2>${forms}</section>` : html``;
}

async function invoicePage(req: Request, res: Response, id: string, shown: Shown = {}): Promise<void> {
  const api = req.api!;
  const path = { params: { path: { id } } };
  const { data: inv, error, response } = await api.GET('/v1/invoices/{id}', path);
  if (!inv) {
    return sendConsolePage(req, res, { title: 'Invoice', section: 'invoices', crumbs: [['Invoices', '/console/invoices']], status: response.status, body: html`<div class="banner banner-refusal">${refusalOf(error, response.status).message}</div>` });
  }
  const [customer, payments, refunds, creditNotes, collection] = await Promise.all([
    api.GET('/v1/customers/{id}', { params: { path: { id: inv.customer_id } } }),
    api.GET('/v1/invoices/{id}/payments', { params: { path: { id }, query: { limit: 100 } } }),
    api.GET('/v1/invoices/{id}/refunds', { params: { path: { id }, query: { limit: 100 } } }),
    api.GET('/v1/invoices/{id}/credit_notes', { params: { path: { id }, query: { limit: 100 } } }),
    api.GET('/v1/invoices/{id}/collection', path),
  ]);
  const c = customer.data;
  const cur = inv.currency;
  const col = collection.data;
  const canAct = req.consoleSession?.canAct ?? false;
  const title = inv.number ? `Invoice ${inv.number}` : 'Draft invoice';

  const body = html`
<div class="page-head"><div>${badge(inv.status)}${inv.overdue ? html` <span class="badge badge-bad">overdue</span>` : ''} <span class="muted mono">${inv.id}</span></div>
<a class="button" id="pdf" href="${invoiceUrl(inv.id)}/pdf">Download PDF</a></div>
<div class="stats">
  <div class="stat"><div class="label">Total</div><div class="value">${money(inv.total, cur)}</div></div>
  <div class="stat"><div class="label">Paid</div><div class="value">${money(inv.amount_paid, cur)}</div></div>
  <div class="stat"><div class="label">Amount due</div><div class="value" id="amount-due">${money(inv.amount_due, cur)}</div></div>
  <div class="stat"><div class="label">Due</div><div class="value small-value">${date(inv.due_at)}</div></div>
</div>
<div class="detail-layout">
<div class="stack">
  <section class="card"><h2>Details</h2>
  <dl class="facts">
    <dt>Customer</dt><dd>${c ? html`<a href="/console/customers/${encodeURIComponent(c.id)}">${c.name}</a> <span class="muted">${c.email}</span>` : inv.customer_id}</dd>
    <dt>Subscription</dt><dd>${inv.subscription_id ? html`<a href="/console/subscriptions/${encodeURIComponent(inv.subscription_id)}">${inv.subscription_id}</a>` : html`<span class="muted">none (one-off)</span>`}</dd>
    <dt>Issued</dt><dd>${dateTime(inv.issued_at)}</dd>
    <dt>Due</dt><dd>${dateTime(inv.due_at)}${inv.days_until_due ? html` <span class="muted">(net ${inv.days_until_due})</span>` : ''}</dd>
    ${inv.period_start ? html`<dt>Period</dt><dd>${date(inv.period_start)} – ${date(inv.period_end)}</dd>` : ''}
    <dt>Reason</dt><dd>${inv.billing_reason.replace(/_/g, ' ')}</dd>
    <dt>Collection</dt><dd>${inv.collection_method === 'charge_automatically' ? 'Charge the card on file' : 'Payment by hand'}</dd>
    ${inv.paid_at ? html`<dt>Paid</dt><dd>${dateTime(inv.paid_at)}</dd>` : ''}
    ${inv.voided_at ? html`<dt>Voided</dt><dd>${dateTime(inv.voided_at)}</dd>` : ''}
    ${inv.auto_finalizes_at && inv.status === 'draft' ? html`<dt>Finalises</dt><dd>${dateTime(inv.auto_finalizes_at)}</dd>` : ''}
  </dl>
  </section>
<section class="card" id="lines"><h2>Lines</h2>
${linesTable(inv.lines, cur)}
<div class="totals-wrap">${totalsTable(inv, [
    ...(nonZero(inv.credit_applied) ? ([['Customer credit applied', `-${inv.credit_applied}`]] as Array<[string, string]>) : []),
    ...(nonZero(inv.wallet_applied) ? ([['Wallet applied', `-${inv.wallet_applied}`]] as Array<[string, string]>) : []),
    ['Paid', inv.amount_paid],
    ...(nonZero(inv.amount_credited) ? ([['Credited', inv.amount_credited]] as Array<[string, string]>) : []),
    ...(nonZero(inv.amount_refunded) ? ([['Refunded', inv.amount_refunded]] as Array<[string, string]>) : []),
    ['Amount due', inv.amount_due, 'due'],
  ])}</div>
</section>
<section class="card" id="payments"><h2>Payments</h2>
${payments.data?.data.length
  ? html`<table><thead><tr><th>Received</th><th>Method</th><th>Reference</th><th class="num">Amount</th></tr></thead><tbody>${payments.data.data.map(
      (p) => html`<tr><td>${dateTime(p.received_at)}</td><td>${p.method === 'card' ? 'Card' : 'By hand'}</td><td>${p.reference ?? '—'}</td><td class="num">${money(p.amount, p.currency)}</td></tr>`,
    )}</tbody></table>`
  : html`<p class="empty">No payments.</p>`}
${col?.attempts.length
  ? html`<h3>Card attempts</h3><table id="attempts"><thead><tr><th>#</th><th>When</th><th>Status</th><th>Decline</th><th>Message</th><th class="num">Amount</th></tr></thead><tbody>${col.attempts.map(
      (a) => html`<tr><td>${a.attempt}</td><td>${dateTime(a.created_at)}</td><td>${badge(a.status)}</td>
<td>${a.decline_code || a.failure_code ? html`<code>${a.decline_code ?? a.failure_code}</code>${a.hard_decline ? html` <span class="badge badge-bad">hard</span>` : ''}` : '—'}</td>
<td>${a.failure_message ?? ''}</td><td class="num">${money(a.amount, a.currency)}</td></tr>`,
    )}</tbody></table>`
  : ''}
</section>
<section class="card" id="refunds"><h2>Refunds</h2>
${refunds.data?.data.length
  ? html`<table><thead><tr><th>Date</th><th>Method</th><th>Reason</th><th class="num">Amount</th></tr></thead><tbody>${refunds.data.data.map(
      (r) => html`<tr><td>${dateTime(r.created_at)}</td><td>${r.method === 'card' ? 'Card' : 'By hand'}</td><td>${r.reason ?? '—'}</td><td class="num">${money(r.amount, r.currency)}</td></tr>`,
    )}</tbody></table>`
  : html`<p class="empty">No refunds.</p>`}
</section>
<section class="card" id="credit-notes"><h2>Credit notes</h2>
${creditNotes.data?.data.length
  ? html`<table><thead><tr><th>Number</th><th>Date</th><th>Reason</th><th class="num">Amount</th></tr></thead><tbody>${creditNotes.data.data.map(
      (n) => html`<tr><td>${n.number}</td><td>${date(n.created_at)}</td><td>${n.reason ?? '—'}</td><td class="num">${money(n.amount, n.currency)}</td></tr>`,
    )}</tbody></table>`
  : html`<p class="empty">No credit notes.</p>`}
</section>
</div>
<aside class="stack">
  <section class="card" id="collection"><h2>Collection</h2>
  ${col?.state
    ? html`<dl class="facts">
    <dt>State</dt><dd>${badge(col.state.status)} ${COLLECTION[col.state.status] ?? ''}</dd>
    <dt>Attempts</dt><dd>${col.state.attempts}</dd>
    ${col.state.next_retry_at ? html`<dt>Next retry</dt><dd>${dateTime(col.state.next_retry_at)}</dd>` : ''}
    ${col.state.first_failure_at ? html`<dt>First failure</dt><dd>${dateTime(col.state.first_failure_at)}</dd>` : ''}
    ${col.state.last_outcome ? html`<dt>Last outcome</dt><dd>${col.state.last_outcome}</dd>` : ''}
  </dl>`
    : html`<p class="muted">${inv.collection_method === 'send_invoice' ? 'Waiting for a payment by hand.' : inv.status === 'draft' ? 'Collected once finalised.' : 'No card collection running for this invoice.'}</p>`}
  ${col?.subscription_status === 'suspended' ? html`<div class="banner banner-refusal">The subscription is suspended for unpaid invoices.</div>` : ''}
  </section>
${canAct ? actions(req, inv, shown) : ''}
</aside>
</div>`;

  sendConsolePage(req, res, {
    title,
    section: 'invoices',
    crumbs: [['Invoices', '/console/invoices'], ...(c ? ([[c.name, `/console/customers/${encodeURIComponent(c.id)}`]] as Array<[string, string]>) : [])],
    body,
    status: shown.status,
  });
}

type Call = (req: Request, id: string, v: Record<string, string>) => Promise<{ data?: unknown; error?: unknown; response: globalThis.Response }>;

export function invoicePages(_context: ConsoleContext): Router {
  const router = Router();
  router.get('/invoices', listPage);
  router.get('/invoices/:id', (req, res) => invoicePage(req, res, String(req.params.id)));

  /** The API's PDF, the same bytes, passed through with its file name; a refusal is shown as a page. */
  router.get('/invoices/:id/pdf', async (req, res) => {
    const id = String(req.params.id);
    const { data, error, response } = await req.api!.GET('/v1/invoices/{id}/pdf', { params: { path: { id } }, parseAs: 'arrayBuffer' });
    if (!data) {
      return sendConsolePage(req, res, { title: 'Invoice PDF', section: 'invoices', crumbs: [['Invoices', '/console/invoices']], status: response.status, body: html`<div class="banner banner-refusal">${refusalOf(error, response.status).message}</div>` });
    }
    res
      .status(200)
      .type('application/pdf')
      .set('Content-Disposition', response.headers.get('content-disposition') ?? `attachment; filename="${id}.pdf"`)
      .send(Buffer.from(data as ArrayBuffer));
  });

  const post = (name: string, call: Call, done: (v: Record<string, string>, currency: string) => string) =>
    router.post(`/invoices/:id/${name}`, async (req, res) => {
      const id = String(req.params.id);
      const v = formValues(req);
      const { data, error, response } = await call(req, id, v);
      if (data === undefined) return invoicePage(req, res, id, { open: name, values: v, refusal: refusalOf(error, response.status), status: response.status });
      setFlash(req, res, done(v, (data as { currency: string }).currency));
      res.redirect(303, invoiceUrl(id));
    });

  const at = (id: string) => ({ path: { id } });
  post(
    'payments',
    (req, id, v) => req.api!.POST('/v1/invoices/{id}/payments', { params: at(id), body: { amount: v.amount ?? '', ...(v.reference ? { reference: v.reference } : {}) }, headers: idempotencyHeader(req) }),
    (v, cur) => `Payment of ${money(v.amount, cur)} recorded.`,
  );
  post(
    'refunds',
    (req, id, v) => req.api!.POST('/v1/invoices/{id}/refunds', { params: at(id), body: { ...(v.amount ? { amount: v.amount } : {}), ...(v.reason ? { reason: v.reason } : {}) }, headers: idempotencyHeader(req) }),
    (v, cur) => (v.amount ? `Refund of ${money(v.amount, cur)} made.` : 'Everything paid was refunded.'),
  );
  post(
    'credit_notes',
    (req, id, v) => req.api!.POST('/v1/invoices/{id}/credit_notes', { params: at(id), body: { amount: v.amount ?? '', ...(v.reason ? { reason: v.reason } : {}) }, headers: idempotencyHeader(req) }),
    (v, cur) => `Credit note of ${money(v.amount, cur)} issued.`,
  );
  post('mark_uncollectible', (req, id) => req.api!.POST('/v1/invoices/{id}/mark_uncollectible', { params: at(id), body: {}, headers: idempotencyHeader(req) }), () => 'Invoice written off as uncollectible.');
  post('void', (req, id) => req.api!.POST('/v1/invoices/{id}/void', { params: at(id), body: {}, headers: idempotencyHeader(req) }), () => 'Invoice voided.');
  post('finalize', (req, id) => req.api!.POST('/v1/invoices/{id}/finalize', { params: at(id), body: {}, headers: idempotencyHeader(req) }), () => 'Invoice finalised.');

  return router;
}
