import { Router, type Request, type Response } from 'express';
import type { Schemas } from '../../client';
import { badge, date, dateTime, money } from '../format';
import { field, formValues, refusalBanner, refusalOf, type Refusal } from '../forms';
import { html, type Fragment, type Html } from '../html';
import { sendConsolePage } from '../layout';
import { previewInvoice, withField } from './invoice-parts';
import type { ConsoleContext } from './router';
import { formGuards, idempotencyHeader, setFlash } from './session';

/**
 * A subscription as its workflow sees it now (GET /v1/subscriptions/:id asks the workflow), its
 * invoices and the invoice it will issue next, and the support actions, each sent to the API as the
 * signed-in key: the workflow's validators refuse what makes no sense, and the page shows the
 * refusal next to the field it concerns.
 */

type Subscription = Schemas['Subscription'];

interface Shown {
  /** The action whose form is open again (after a refusal), and what was typed into it. */
  open?: string;
  values?: Record<string, string>;
  refusal?: Refusal | null;
  preview?: Schemas['PlanChangePreview'];
  status?: number;
}

/** The workflow's refusals carry a code but no param: these codes name the field they are about. */
const FIELD_OF_CODE: Record<string, string> = {
  date_in_past: 'at_date',
  invalid_date: 'at_date',
  plan_unchanged: 'plan_code',
  currency_mismatch: 'plan_code',
  trial_not_active: 'trial_end',
};

const EVENTS: Record<string, string> = {
  start: 'Starts',
  trial_end: 'Trial ends',
  renewal: 'Renews',
  cancellation: 'Cancels',
  plan_change: 'Plan changes',
  quantity_change: 'Quantity changes',
  pause: 'Pauses',
  resume: 'Resumes',
};

const subscriptionUrl = (id: string) => `/console/subscriptions/${encodeURIComponent(id)}`;

/** "now", "period_end" or midnight UTC of the chosen day; a missing day is refused before the API is asked. */
function when(v: Record<string, string>, fallback = 'now'): { at: string } | { refusal: Refusal } {
  const choice = v.at ?? fallback;
  if (choice !== 'date') return { at: choice };
  if (!v.at_date) return { refusal: { param: 'at_date', message: 'Choose the date it happens on.' } };
  return { at: `${v.at_date}T00:00:00Z` };
}

function describeChange(c: Subscription['scheduled_changes'][number]): Fragment {
  switch (c.type) {
    case 'change_plan':
      return html`Change to <strong>${c.plan_code}</strong> v${c.plan_version}${c.proration === 'none' ? ' (no proration)' : ''}`;
    case 'change_quantity':
      return html`Quantity to <strong>${c.quantity}</strong>`;
    case 'cancel':
      return html`Cancel${c.prorate ? ' (prorated)' : ''}`;
    case 'pause':
      return 'Pause';
    case 'resume':
      return 'Resume';
  }
}

const timingOptions = (periodEnd: boolean): Array<[string, string]> => [['now', 'Now'], ...(periodEnd ? [['period_end', 'At the end of the period'] as [string, string]] : []), ['date', 'On a date']];

function timingFields(v: Record<string, string>, refusal: Refusal | null | undefined, periodEnd: boolean, fallback: string): Html {
  return html`${field({ label: 'When', name: 'at', type: 'select', value: v.at ?? fallback, options: timingOptions(periodEnd), refusal })}
${field({ label: 'Date', name: 'at_date', type: 'date', value: v.at_date, refusal, hint: 'On a date: at 00:00 UTC of that day.' })}`;
}

function actionForm(req: Request, s: Subscription, name: string, summary: string, shown: Shown, fields: Html, button: Html, fieldNames: string[], path = name): Html {
  const open = shown.open === name;
  const refusal = open ? shown.refusal : null;
  return html`<details class="action" data-action="${name}"${open ? html` open` : ''}>
<summary>${summary}</summary>
<form method="post" action="${subscriptionUrl(s.id)}/${path}">${formGuards(req)}
${refusalBanner(refusal, fieldNames)}
${fields}
<div class="actions">${button}</div>
</form>
</details>`;
}

function actions(req: Request, s: Subscription, plans: Schemas['Plan'][], shown: Shown): Html {
  const valuesFor = (name: string) => (shown.open === name ? (shown.values ?? {}) : {});
  const refusalFor = (name: string) => (shown.open === name ? shown.refusal : null);
  const planOptions = plans.map((p): [string, string] => [p.code, `${p.name} · ${money(p.amount, p.currency)}/${p.interval_count > 1 ? `${p.interval_count} ` : ''}${p.interval} (${p.code})`]);
  const forms: Html[] = [];
  const cp = valuesFor('change_plan');
  forms.push(
    actionForm(
      req,
      s,
      'change_plan',
      'Change plan',
      shown,
      html`${field({ label: 'New plan', name: 'plan_code', type: 'select', value: cp.plan_code ?? '', options: [['', 'Choose a plan…'], ...planOptions], refusal: refusalFor('change_plan') })}
${timingFields(cp, refusalFor('change_plan'), true, 'now')}
${field({ label: 'Proration', name: 'proration', type: 'select', value: cp.proration ?? 'prorate', options: [['prorate', 'Prorate: credit the unused time, charge the new plan for the rest'], ['none', 'No proration']], refusal: refusalFor('change_plan') })}`,
      html`<button type="submit" class="primary">Preview the change</button>`,
      ['plan_code', 'at', 'at_date', 'proration'],
      'change_plan/preview',
    ),
  );
  const cancel = valuesFor('cancel');
  forms.push(
    actionForm(
      req,
      s,
      'cancel',
      'Cancel',
      shown,
      html`${timingFields(cancel, refusalFor('cancel'), true, 'period_end')}
${field({ label: 'Credit the unused part of the period (prorate)', name: 'prorate', type: 'checkbox', value: cancel.prorate, refusal: refusalFor('cancel') })}`,
      html`<button type="submit" class="danger">Cancel the subscription</button>`,
      ['at', 'at_date', 'prorate'],
    ),
  );
  if (s.status === 'paused' || s.scheduled_changes.some((c) => c.type === 'pause')) {
    forms.push(actionForm(req, s, 'resume', 'Resume', shown, timingFields(valuesFor('resume'), refusalFor('resume'), false, 'now'), html`<button type="submit" class="primary">Resume</button>`, ['at', 'at_date']));
  }
  if (s.status !== 'paused') {
    forms.push(actionForm(req, s, 'pause', 'Pause', shown, timingFields(valuesFor('pause'), refusalFor('pause'), false, 'now'), html`<button type="submit">Pause</button>`, ['at', 'at_date']));
  }
  if (s.status === 'trialing' || s.status === 'scheduled') {
    forms.push(actionForm(req, s, 'end_trial', 'End the trial now', shown, html`<p class="muted">The first paid period starts now and its invoice is issued.</p>`, html`<button type="submit">End trial</button>`, []));
    forms.push(
      actionForm(
        req,
        s,
        'extend_trial',
        'Extend the trial',
        shown,
        field({ label: 'New trial end', name: 'trial_end', type: 'date', value: valuesFor('extend_trial').trial_end, refusal: refusalFor('extend_trial'), hint: 'At 00:00 UTC of that day.' }),
        html`<button type="submit">Extend trial</button>`,
        ['trial_end'],
      ),
    );
  }
  if (s.cancel_at_period_end || s.scheduled_changes.some((c) => c.type === 'cancel')) {
    forms.push(actionForm(req, s, 'reactivate', 'Reactivate', shown, html`<p class="muted">Takes back the scheduled cancellation: the subscription renews as before.</p>`, html`<button type="submit" class="primary">Reactivate</button>`, []));
  }
  return html`<section class="card" id="actions"><h2>Actions</h2>${forms}</section>`;
}

function previewCard(req: Request, s: Subscription, shown: Shown, plans: Map<string, Schemas['Plan']>): Html {
  const p = shown.preview!;
  const name = plans.get(p.plan_code)?.name;
  const v = shown.values ?? {};
  const hidden = (name: string) => (v[name] ? html`<input type="hidden" name="${name}" value="${v[name]}">` : '');
  return html`<section class="card preview" id="change-preview">
<h2><span>Preview: change to ${name ?? p.plan_code}</span> <span class="muted small mono">${p.plan_code} v${p.plan_version}</span></h2>
<p class="muted">${p.at ? html`Takes effect ${dateTime(p.at)}` : 'Takes effect at the end of the current period'} · ${p.proration === 'none' ? 'no proration' : 'prorated'}. Nothing has changed yet.</p>
${p.invoice ? html`<h3>Invoice this change issues</h3>${previewInvoice(p.invoice)}` : html`<p>This change issues no invoice now: the new price applies from the next renewal.</p>`}
<form method="post" action="${subscriptionUrl(s.id)}/change_plan" class="actions confirm">${formGuards(req)}
${['plan_code', 'at', 'at_date', 'proration'].map(hidden)}
<button type="submit" class="primary">Confirm the change</button>
<a class="button" href="${subscriptionUrl(s.id)}">Discard</a>
</form>
</section>`;
}

async function renderPage(req: Request, res: Response, context: ConsoleContext, id: string, shown: Shown = {}): Promise<void> {
  const api = req.api!;
  const { data: s, error, response } = await api.GET('/v1/subscriptions/{id}', { params: { path: { id } } });
  if (!s) {
    const refusal = refusalOf(error, response.status);
    return sendConsolePage(req, res, { title: 'Subscription', section: 'customers', status: response.status, body: html`<div class="banner banner-refusal">${refusal.message}</div>` });
  }
  const canAct = req.consoleSession?.canAct ?? false;
  const [customer, invoices, usage, plans, versions] = await Promise.all([
    api.GET('/v1/customers/{id}', { params: { path: { id: s.customer_id } } }),
    api.GET('/v1/invoices', { params: { query: { subscription_id: s.id, limit: 20 } } }),
    s.status === 'canceled' ? Promise.resolve(null) : api.GET('/v1/subscriptions/{id}/usage', { params: { path: { id: s.id } } }),
    canAct ? api.GET('/v1/plans', { params: { query: { limit: 100 } } }) : Promise.resolve(null),
    api.GET('/v1/plans', { params: { query: { code: s.plan_code, limit: 100 } } }),
  ]);
  const plan = versions.data?.data.find((p) => p.version === s.plan_version) ?? null;
  const c = customer.data;
  const currency = c?.currency ?? s.latest_invoice?.currency ?? 'USD';
  // Newest version of each plan in the subscription's currency: a plan change moves to a plan, in one currency.
  const newest = new Map<string, Schemas['Plan']>();
  for (const p of plans?.data?.data ?? []) if (p.currency === currency && (newest.get(p.code)?.version ?? 0) < p.version) newest.set(p.code, p);
  const upcoming = usage?.data?.upcoming_invoice ?? null;
  const temporal = context.temporalUi
    ? html`<a class="button" href="${context.temporalUi.url}/namespaces/${encodeURIComponent(context.temporalUi.namespace)}/workflows/${encodeURIComponent(s.workflow_id)}" target="_blank" rel="noopener">Workflow run in Temporal ↗</a>`
    : '';

  const body = html`
<div class="page-head"><div>${badge(s.status)} <span class="muted mono">${s.id}</span>${s.state_source === 'database' ? html` <span class="badge badge-warn" title="The workflow could not be reached: this is the state last stored">stored state</span>` : ''}</div>${temporal}</div>
${s.billing_error ? html`<div class="banner banner-refusal"><strong>Billing stopped</strong> (${s.billing_error.activity}, ${s.billing_error.code}): ${s.billing_error.message}</div>` : ''}
${s.cancel_at_period_end ? html`<div class="banner banner-warn">Cancels at the end of the period, ${date(s.current_period_end)}.</div>` : ''}
<div class="stats">
  <div class="stat"><div class="label">Plan</div><div class="value">${plan?.name ?? s.plan_code}</div><div class="note mono">${s.plan_code} v${s.plan_version}${plan ? html` · ${money(plan.amount, plan.currency)} / ${plan.interval}` : ''}</div></div>
  <div class="stat"><div class="label">Quantity</div><div class="value">${s.quantity}</div></div>
  <div class="stat"><div class="label">Current period</div><div class="value small-value">${s.current_period_start ? `${date(s.current_period_start)} – ${date(s.current_period_end)}` : '—'}</div></div>
  <div class="stat"><div class="label">Next billing</div><div class="value small-value">${date(s.next_billing_at)}</div></div>
</div>
${shown.preview ? previewCard(req, s, shown, newest) : ''}
<div class="detail-layout">
<div class="stack">
  <section class="card"><h2>Details</h2>
  <dl class="facts">
    <dt>Customer</dt><dd>${c ? html`<a href="/console/customers/${encodeURIComponent(c.id)}">${c.name}</a> <span class="muted">${c.email}</span>` : s.customer_id}</dd>
    <dt>Started</dt><dd>${dateTime(s.start_at)}</dd>
    ${s.trial_end ? html`<dt>Trial ends</dt><dd>${dateTime(s.trial_end)}</dd>` : ''}
    <dt>Billing</dt><dd>${s.billing_alignment === 'calendar' ? 'Calendar months' : 'Anniversary'} · ${s.timezone}</dd>
    ${s.paused_at ? html`<dt>Paused</dt><dd>${dateTime(s.paused_at)}</dd>` : ''}
    ${s.canceled_at ? html`<dt>Canceled</dt><dd>${dateTime(s.canceled_at)}</dd>` : ''}
    ${s.external_id ? html`<dt>External id</dt><dd class="mono">${s.external_id}</dd>` : ''}
    ${s.overrides ? html`<dt>Contract price</dt><dd>${s.overrides.amount ? money(s.overrides.amount, currency) : 'plan price'}</dd>` : ''}
    <dt>Latest invoice</dt><dd>${s.latest_invoice ? html`<a href="/console/invoices/${encodeURIComponent(s.latest_invoice.id)}">${s.latest_invoice.number ?? 'draft'}</a> · ${money(s.latest_invoice.total, s.latest_invoice.currency)}` : '—'}</dd>
  </dl>
  </section>
<section class="card" id="scheduled-changes"><h2>Scheduled changes</h2>
${s.scheduled_changes.length
  ? html`<table><thead><tr><th>Change</th><th>When</th><th></th></tr></thead><tbody>${s.scheduled_changes.map(
      (ch) => html`<tr><td>${describeChange(ch)}</td><td>${dateTime(ch.at)}${ch.at_period_end ? html` <span class="muted">(period end)</span>` : ''}</td>
<td class="num">${canAct
        ? html`<form method="post" action="${subscriptionUrl(s.id)}/scheduled_changes/${encodeURIComponent(ch.id)}/remove">${formGuards(req)}<button type="submit" class="link danger-link">Remove</button></form>`
        : ''}</td></tr>`,
    )}</tbody></table>${shown.open === 'unschedule' ? refusalBanner(shown.refusal) : ''}`
  : html`<p class="empty">No scheduled changes.</p>`}
</section>
${s.add_ons.length
  ? html`<section class="card"><h2>Add-ons</h2><table><thead><tr><th>Add-on</th><th class="num">Quantity</th><th class="num">Price</th><th>Added</th></tr></thead><tbody>${s.add_ons.map(
      (a) => html`<tr><td>${a.add_on.name} <span class="muted">${a.add_on.code}</span></td><td class="num">${a.quantity}</td><td class="num">${money(a.add_on.amount, a.add_on.currency)}${a.add_on.interval ? ` / ${a.add_on.interval}` : ''}</td><td>${date(a.added_at)}</td></tr>`,
    )}</tbody></table></section>`
  : ''}
<section class="card" id="invoices"><h2>Invoices</h2>
${invoices.data?.data.length
  ? html`<table><thead><tr><th>Number</th><th>Status</th><th>Period</th><th>Issued</th><th class="num">Total</th><th class="num">Due</th></tr></thead><tbody>${invoices.data.data.map(
      (i) => html`<tr><td class="nowrap"><a href="/console/invoices/${encodeURIComponent(i.id)}">${i.number ?? 'Draft'}</a><div class="muted small">${i.billing_reason.replace(/_/g, ' ')}</div></td><td>${badge(i.status)}</td>
<td class="nowrap">${i.period_start ? `${date(i.period_start)} – ${date(i.period_end)}` : '—'}</td><td class="nowrap">${date(i.issued_at)}</td><td class="num">${money(i.total, i.currency)}</td><td class="num">${money(i.amount_due, i.currency)}</td></tr>`,
    )}</tbody></table>`
  : html`<p class="empty">No invoices yet.</p>`}
</section>
${upcoming
  ? html`<section class="card" id="upcoming-invoice"><h2>Upcoming invoice <span class="muted small">if the period ended now</span></h2>${previewInvoice(upcoming)}</section>`
  : ''}
</div>
<aside class="stack">
  <section class="card" id="upcoming"><h2>Upcoming</h2>
  ${s.upcoming.length
    ? html`<ul class="timeline">${s.upcoming.map((e) => html`<li><time>${dateTime(e.at)}</time><span>${EVENTS[e.event] ?? e.event}</span></li>`)}</ul>`
    : html`<p class="empty">Nothing scheduled.</p>`}
  </section>
${canAct && s.status !== 'canceled' ? actions(req, s, [...newest.values()], shown) : ''}
</aside>
</div>`;

  sendConsolePage(req, res, {
    title: `${c?.name ?? 'Subscription'} · ${plan?.name ?? s.plan_code}`,
    section: 'customers',
    crumbs: [['Customers', '/console/customers'], ...(c ? ([[c.name, `/console/customers/${encodeURIComponent(c.id)}`]] as Array<[string, string]>) : [])],
    body,
    status: shown.status,
  });
}

export function subscriptionPages(context: ConsoleContext): Router {
  const router = Router();
  const id = (req: Request) => String(req.params.id);

  router.get('/subscriptions/:id', (req, res) => renderPage(req, res, context, id(req)));

  /** A refused action: the same page, its form open with what was typed and the refusal next to its field. */
  const refused = (req: Request, res: Response, open: string, refusal: Refusal, status: number) =>
    renderPage(req, res, context, id(req), { open, values: formValues(req), refusal: withField(refusal, open === 'extend_trial' ? { date_in_past: 'trial_end', invalid_date: 'trial_end' } : FIELD_OF_CODE), status });

  /**
   * One action: `body` turns the form into the API's body (or refuses it first), `call` sends it;
   * success flashes `done` and shows the subscription again.
   */
  function action<B>(name: string, body: (v: Record<string, string>) => B | { refusal: Refusal }, call: (req: Request, body: B) => Promise<{ data?: Subscription; error?: unknown; response: globalThis.Response }>, done: (s: Subscription) => string) {
    return async (req: Request, res: Response) => {
      const built = body(formValues(req));
      if (built && typeof built === 'object' && 'refusal' in built) return refused(req, res, name, built.refusal, 400);
      const { data, error, response } = await call(req, built as B);
      if (!data) return refused(req, res, name, refusalOf(error, response.status), response.status);
      setFlash(req, res, done(data));
      res.redirect(303, subscriptionUrl(id(req)));
    };
  }

  const changePlanBody = (v: Record<string, string>) => {
    if (!v.plan_code) return { refusal: { param: 'plan_code', message: 'Choose the plan to change to.' } };
    const w = when(v);
    if ('refusal' in w) return w;
    return { plan_code: v.plan_code, at: w.at, proration: v.proration === 'none' ? ('none' as const) : ('prorate' as const) };
  };

  router.post('/subscriptions/:id/change_plan/preview', async (req, res) => {
    const body = changePlanBody(formValues(req));
    if ('refusal' in body) return refused(req, res, 'change_plan', body.refusal, 400);
    // No idempotency key: a preview changes nothing, and the same form may be previewed again.
    const { data, error, response } = await req.api!.POST('/v1/subscriptions/{id}/change_plan/preview', { params: { path: { id: id(req) } }, body });
    if (!data) return refused(req, res, 'change_plan', refusalOf(error, response.status), response.status);
    await renderPage(req, res, context, id(req), { preview: data, values: formValues(req) });
  });

  router.post(
    '/subscriptions/:id/change_plan',
    action('change_plan', changePlanBody, (req, body) => req.api!.POST('/v1/subscriptions/{id}/change_plan', { params: { path: { id: id(req) } }, body, headers: idempotencyHeader(req) }), (s) => {
      const scheduled = s.scheduled_changes.find((c) => c.type === 'change_plan');
      return scheduled ? `Change to ${scheduled.plan_code} scheduled for ${date(scheduled.at)}.` : `Plan changed to ${s.plan_code} v${s.plan_version}.`;
    }),
  );

  router.post(
    '/subscriptions/:id/cancel',
    action(
      'cancel',
      (v) => {
        const w = when(v, 'period_end');
        if ('refusal' in w) return w;
        return { at: w.at, ...(w.at === 'period_end' ? {} : { prorate: v.prorate === 'true' }) };
      },
      (req, body) => req.api!.POST('/v1/subscriptions/{id}/cancel', { params: { path: { id: id(req) } }, body, headers: idempotencyHeader(req) }),
      (s) => (s.status === 'canceled' ? 'Subscription canceled.' : `Cancellation scheduled for ${date(s.scheduled_changes.find((c) => c.type === 'cancel')?.at ?? s.current_period_end)}.`),
    ),
  );

  for (const verb of ['pause', 'resume'] as const) {
    router.post(
      `/subscriptions/:id/${verb}`,
      action(
        verb,
        (v) => {
          const w = when(v);
          return 'refusal' in w ? w : { at: w.at };
        },
        (req, body) => req.api!.POST(`/v1/subscriptions/{id}/${verb}`, { params: { path: { id: id(req) } }, body, headers: idempotencyHeader(req) }),
        (s) => (verb === 'pause' ? (s.status === 'paused' ? 'Subscription paused.' : 'Pause scheduled.') : s.status === 'paused' ? 'Resume scheduled.' : 'Subscription resumed.'),
      ),
    );
  }

  router.post(
    '/subscriptions/:id/end_trial',
    action('end_trial', () => ({}), (req, body) => req.api!.POST('/v1/subscriptions/{id}/end_trial', { params: { path: { id: id(req) } }, body, headers: idempotencyHeader(req) }), () => 'Trial ended.'),
  );

  router.post(
    '/subscriptions/:id/extend_trial',
    action(
      'extend_trial',
      (v): { trial_end: string } | { refusal: Refusal } => (v.trial_end ? { trial_end: `${v.trial_end}T00:00:00Z` } : { refusal: { param: 'trial_end', message: 'Choose the day the trial ends.' } }),
      (req, body) => req.api!.POST('/v1/subscriptions/{id}/extend_trial', { params: { path: { id: id(req) } }, body, headers: idempotencyHeader(req) }),
      (s) => `Trial extended to ${date(s.trial_end)}.`,
    ),
  );

  router.post(
    '/subscriptions/:id/reactivate',
    action('reactivate', () => ({}), (req, body) => req.api!.POST('/v1/subscriptions/{id}/reactivate', { params: { path: { id: id(req) } }, body, headers: idempotencyHeader(req) }), () => 'Cancellation taken back: the subscription renews as before.'),
  );

  router.post('/subscriptions/:id/scheduled_changes/:change_id/remove', async (req, res) => {
    const { data, error, response } = await req.api!.DELETE('/v1/subscriptions/{id}/scheduled_changes/{change_id}', {
      params: { path: { id: id(req), change_id: String(req.params.change_id) } },
      headers: idempotencyHeader(req),
    });
    if (!data) return refused(req, res, 'unschedule', refusalOf(error, response.status), response.status);
    setFlash(req, res, 'Scheduled change removed.');
    res.redirect(303, subscriptionUrl(id(req)));
  });

  return router;
}
