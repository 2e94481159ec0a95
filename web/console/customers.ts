import { Router, type Request, type Response } from 'express';
import type { Schemas } from '../../client';
import { date } from '../format';
import { field, formValues, refusalBanner, refusalOf, type Refusal } from '../forms';
import { html, type Html } from '../html';
import { sendConsolePage } from '../layout';
import { intOrText } from './api-values';
import { customerPage } from './customer-page';
import { cursorOf, pager } from './list-pager';
import { sendReadFailure } from './read-failure';
import type { ConsoleContext } from './router';
import { formGuards, idempotencyHeader, setFlash } from './session';

const PAGE_SIZE = 20;
const CREATE_FIELDS = ['name', 'email', 'currency', 'external_id', 'timezone', 'net_terms_days', 'invoice_grace_period_days'];

function newCustomerForm(req: Request, values: Record<string, string>, refusal: Refusal | null): Html {
  // novalidate: the API says what is wrong with a value, in the same words as for every client.
  return html`<details class="action" id="new-customer"${refusal ? html` open` : ''}>
  <summary>New customer</summary>
  <form method="post" action="/console/customers" novalidate>${formGuards(req)}
    ${refusalBanner(refusal, CREATE_FIELDS)}
    <div class="form-grid">
      ${field({ label: 'Name', name: 'name', value: values.name, required: true, refusal })}
      ${field({ label: 'E-mail', name: 'email', type: 'email', value: values.email, required: true, refusal, hint: 'Invoices and payment reminders go here.' })}
      ${field({ label: 'Currency', name: 'currency', value: values.currency ?? 'USD', required: true, refusal, hint: 'ISO 4217, such as USD, EUR, JPY; it cannot change later.' })}
      ${field({ label: 'External id', name: 'external_id', value: values.external_id, refusal, hint: 'Your own system\'s id for this customer (optional).' })}
      ${field({ label: 'Time zone', name: 'timezone', value: values.timezone, refusal, placeholder: 'UTC', hint: 'Billing periods follow this clock.' })}
      ${field({ label: 'Payment terms (days)', name: 'net_terms_days', type: 'number', value: values.net_terms_days, refusal, placeholder: '0', hint: '0: due on issue.' })}
      ${field({ label: 'Invoice grace period (days)', name: 'invoice_grace_period_days', type: 'number', value: values.invoice_grace_period_days, refusal, placeholder: '0', hint: 'Days a renewal stays a draft before it is finalised.' })}
    </div>
    <button type="submit" class="primary">Create customer</button>
  </form>
</details>`;
}

async function sendCustomerList(req: Request, res: Response, form: { values: Record<string, string>; refusal: Refusal | null; status?: number } = { values: {}, refusal: null }): Promise<void> {
  const q = typeof req.query.q === 'string' ? req.query.q.trim() : '';
  const cursor = cursorOf(req.query);
  const { data, error, response } = await req.api!.GET('/v1/customers', { params: { query: { limit: PAGE_SIZE, ...(q ? { q } : {}), ...cursor } } });
  if (!data) return sendReadFailure(req, res, { title: 'Customers', section: 'customers', error, status: response.status });
  const rows = data.data.map(
    (c: Schemas['Customer']) => html`<tr>
  <td><a href="/console/customers/${c.id}"><strong>${c.name}</strong></a><div class="muted mono">${c.id}</div></td>
  <td>${c.email}</td>
  <td>${c.external_id ? html`<span class="mono">${c.external_id}</span>` : html`<span class="muted">—</span>`}</td>
  <td><span class="badge badge-muted">${c.currency}</span></td>
  <td class="num">${date(c.created_at)}</td>
</tr>`,
  );
  const body = html`<div class="toolbar">
  <form class="search" method="get" action="/console/customers" role="search">
    <input type="search" name="q" value="${q}" placeholder="Name, e-mail, customer id or external id" aria-label="Search customers">
    <button type="submit">Search</button>
    ${q ? html`<a class="button link-button" href="/console/customers">Clear</a>` : ''}
  </form>
</div>
${req.consoleSession?.canAct ? newCustomerForm(req, form.values, form.refusal) : ''}
<div class="card card-table">
  ${q ? html`<p class="muted result-note">${data.data.length === 0 ? 'No customer matches' : 'Customers matching'} <strong>${q}</strong></p>` : ''}
  <table class="customers">
    <thead><tr><th>Customer</th><th>E-mail</th><th>External id</th><th>Currency</th><th class="num">Created</th></tr></thead>
    <tbody>${rows.length ? rows : html`<tr><td colspan="5" class="empty">${q ? 'No customer has that name, e-mail or id.' : 'No customers yet.'}</td></tr>`}</tbody>
  </table>
</div>
${pager('/console/customers', { q: q || undefined }, cursor, data, 'customer')}`;
  sendConsolePage(req, res, { title: 'Customers', section: 'customers', body, status: form.status });
}

/** The API's body for a new customer: the form's text as the API's types; empty fields are left out. */
function newCustomerBody(v: Record<string, string>) {
  return {
    name: v.name ?? '',
    email: v.email ?? '',
    currency: v.currency ?? '',
    ...(v.external_id ? { external_id: v.external_id } : {}),
    ...(v.timezone ? { timezone: v.timezone } : {}),
    ...(v.net_terms_days ? { net_terms_days: intOrText(v.net_terms_days) } : {}),
    ...(v.invoice_grace_period_days ? { invoice_grace_period_days: intOrText(v.invoice_grace_period_days) } : {}),
  };
}

/** Customers: search, the list, a new customer (admin, support), and each customer's page (./customer-page.ts). */
export function customerPages(_context: ConsoleContext): Router {
  const router = Router();
  router.get('/customers', (req, res) => sendCustomerList(req, res));
  router.post('/customers', async (req, res) => {
    const values = formValues(req);
    const { data, error, response } = await req.api!.POST('/v1/customers', { body: newCustomerBody(values), headers: idempotencyHeader(req) });
    if (!data) return sendCustomerList(req, res, { values, refusal: refusalOf(error, response.status), status: response.status });
    setFlash(req, res, `Customer ${data.name} created.`);
    res.redirect(303, `/console/customers/${encodeURIComponent(data.id)}`);
  });
  router.use(customerPage());
  return router;
}
