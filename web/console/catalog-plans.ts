import { Router, type Request, type Response } from 'express';
import type { Schemas } from '../../client';
import { date, money } from '../format';
import { field, formValues, refusalBanner, refusalOf, type Refusal } from '../forms';
import { html, type Html } from '../html';
import { sendConsolePage } from '../layout';
import { intOrText, isZero, mayEditCatalog, trimZeros, type RefusedForm } from './api-values';
import { fitsCurrency } from '../../domain/money';
import { cursorOf, pager } from './list-pager';
import { sendReadFailure } from './read-failure';
import { formGuards, idempotencyHeader, setFlash } from './session';

type Plan = Schemas['Plan'];
type Tier = { up_to: string | null; unit_amount: string; flat_amount: string };

const PAGE_SIZE = 50;
const INTERVALS = ['day', 'week', 'month', 'year'] as const;
const PLAN_FIELDS = ['code', 'name', 'currency', 'interval', 'interval_count', 'amount', 'trial_days', 'setup_fee', 'charge_metric', 'charge_unit_amount'];

/** "per month", "every 3 months". */
export const cadence = (p: Pick<Plan, 'interval' | 'interval_count'>): string => (p.interval_count === 1 ? `per ${p.interval}` : `every ${p.interval_count} ${p.interval}s`);

/** A price with more decimals than its currency (0.0015 USD per call) is shown as it is, not rounded. */
const price = (amount: string, currency: string): string => (fitsCurrency(amount, currency) ? money(amount, currency) : `${currency} ${trimZeros(amount)}`);

/** "1000000" → "1,000,000"; a unit count is not money, so it keeps the decimals it has. */
const units = (n: string): string => {
  const [whole, fraction] = n.split('.');
  return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${fraction ? `.${fraction}` : ''}`;
};

function tiersTable(tiers: Tier[], currency: string, unit: string): Html {
  let from: string | null = null;
  const rows = tiers.map((t) => {
    const range = from === null ? `First ${units(t.up_to ?? '0')}` : t.up_to === null ? `Above ${units(from)}` : `${units(from)} – ${units(t.up_to)}`;
    const row = html`<tr><td>${t.up_to === null && from === null ? 'Every' : range} ${unit}</td><td class="num">${price(t.unit_amount, currency)}</td><td class="num">${isZero(t.flat_amount) ? html`<span class="muted">—</span>` : price(t.flat_amount, currency)}</td></tr>`;
    from = t.up_to ?? from ?? '0';
    return row;
  });
  return html`<table class="tiers"><thead><tr><th>Units</th><th class="num">Per unit</th><th class="num">Flat</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** A charge's properties in words, per charge model. */
function chargeTerms(model: string, p: Record<string, unknown>, currency: string): Html {
  const text = (k: string) => String(p[k] ?? '');
  switch (model) {
    case 'standard':
      return html`${price(text('unit_amount'), currency)} per unit`;
    case 'graduated':
    case 'volume':
      return html`<p class="muted">${model === 'graduated' ? 'Each tier prices the units that fall in it' : 'All units at the price of the tier the total falls in'}</p>${tiersTable((p.tiers as Tier[]) ?? [], currency, 'units')}`;
    case 'package':
      return html`${price(text('amount'), currency)} per ${units(text('package_size'))} units${!isZero(text('free_units')) ? html`, first ${units(text('free_units'))} free` : ''}`;
    case 'percentage':
      return html`${text('rate')}% of the amount${!isZero(text('fixed_amount')) ? html` + ${price(text('fixed_amount'), currency)} per transaction` : ''}${!isZero(text('free_units')) ? html`, first ${text('free_units')} free` : ''}`;
    default:
      return html`<code>${JSON.stringify(p)}</code>`;
  }
}

function planForm(req: Request, metrics: Schemas['BillableMetric'][], refused: RefusedForm | null): Html {
  const v = refused?.values ?? {};
  const refusal = refused?.refusal;
  return html`<details class="action" id="new-plan"${refused ? html` open` : ''}>
  <summary>New plan</summary>
  <form method="post" action="/console/plans" novalidate>${formGuards(req)}
    ${refusalBanner(refusal, PLAN_FIELDS)}
    <div class="form-grid">
      ${field({ label: 'Code', name: 'code', value: v.code, refusal, hint: 'Subscriptions name the plan by it, such as team-monthly.' })}
      ${field({ label: 'Name', name: 'name', value: v.name, refusal })}
      ${field({ label: 'Currency', name: 'currency', value: v.currency ?? 'USD', refusal })}
      ${field({ label: 'Interval', name: 'interval', type: 'select', value: v.interval ?? 'month', refusal, options: INTERVALS.map((i) => [i, i]) })}
      ${field({ label: 'Fee per period', name: 'amount', value: v.amount, refusal, placeholder: '49.00' })}
      ${field({ label: 'Trial days', name: 'trial_days', type: 'number', value: v.trial_days, refusal, placeholder: '0' })}
      ${field({ label: 'Usage charge: metric', name: 'charge_metric', type: 'select', value: v.charge_metric ?? '', refusal, options: [['', 'No usage charge'], ...metrics.map((m): [string, string] => [m.code, `${m.name} (${m.code})`])] })}
      ${field({ label: 'Usage charge: price per unit', name: 'charge_unit_amount', value: v.charge_unit_amount, refusal, placeholder: '0.002', hint: 'Standard pricing: this price for each unit used.' })}
    </div>
    <button type="submit" class="primary">Create plan</button>
  </form>
</details>`;
}

async function sendPlans(req: Request, res: Response, refused: RefusedForm | null = null): Promise<void> {
  const cursor = cursorOf(req.query);
  const [plans, metrics] = await Promise.all([
    req.api!.GET('/v1/plans', { params: { query: { limit: PAGE_SIZE, ...cursor } } }),
    mayEditCatalog(req) ? req.api!.GET('/v1/metrics', { params: { query: { limit: 100 } } }) : null,
  ]);
  if (!plans.data) return sendReadFailure(req, res, { title: 'Plans', section: 'plans', error: plans.error, status: plans.response.status });
  // The API lists every version; the list shows each plan once, at its newest version on this page.
  const newest = new Map<string, { plan: Plan; versions: number }>();
  for (const p of plans.data.data) {
    const seen = newest.get(p.code);
    if (!seen) newest.set(p.code, { plan: p, versions: 1 });
    else seen.versions += 1;
  }
  const rows = [...newest.values()].map(
    ({ plan: p }) => html`<tr>
  <td><a href="/console/plans/${encodeURIComponent(p.code)}"><strong class="mono">${p.code}</strong></a></td>
  <td>${p.name}</td>
  <td class="num">v${p.version}</td>
  <td>${cadence(p)}${p.trial_days ? html` <span class="badge badge-info">${p.trial_days}-day trial</span>` : ''}</td>
  <td class="num">${p.fee_tiers ? html`<span class="muted">tiered</span>` : money(p.amount, p.currency)}</td>
  <td>${p.currency}</td>
  <td class="num">${p.charges.length || html`<span class="muted">0</span>`}</td>
</tr>`,
  );
  const body = html`${mayEditCatalog(req) ? planForm(req, metrics?.data?.data ?? [], refused) : ''}
<div class="card card-table">
  <table>
    <thead><tr><th>Code</th><th>Name</th><th class="num">Version</th><th>Interval</th><th class="num">Fee</th><th>Currency</th><th class="num">Usage charges</th></tr></thead>
    <tbody>${rows.length ? rows : html`<tr><td colspan="7" class="empty">No plans yet.</td></tr>`}</tbody>
  </table>
</div>
${pager('/console/plans', {}, cursor, plans.data, 'plan version')}`;
  sendConsolePage(req, res, { title: 'Plans', section: 'plans', body, status: refused?.status });
}

async function sendPlan(req: Request, res: Response): Promise<void> {
  const code = String(req.params.code);
  const crumbs: Array<[string, string]> = [['Plans', '/console/plans']];
  const versions = await req.api!.GET('/v1/plans/{code}/versions', { params: { path: { code }, query: { limit: 100 } } });
  if (!versions.data) return sendReadFailure(req, res, { title: code, section: 'plans', crumbs, error: versions.error, status: versions.response.status });
  const all = versions.data.data;
  const asked = Number(req.query.version);
  const plan = all.find((p) => p.version === asked) ?? all.at(-1)!;
  const newestVersion = all.at(-1)!.version;
  const charges = plan.charges.map(
    (c) => html`<tr><td><strong class="mono">${c.metric_code}</strong></td><td><span class="badge badge-info">${c.model}</span></td><td>${chargeTerms(c.model, c.properties, plan.currency)}</td></tr>`,
  );
  const body = html`<p class="subtitle"><span class="mono">${plan.code}</span> · version ${plan.version} of ${newestVersion}${plan.version === newestVersion ? html` <span class="badge badge-good">newest</span>` : html` <span class="badge badge-muted">older version</span>`}</p>
<div class="stats">
  <div class="stat"><div class="label">Fee</div><div class="value">${plan.fee_tiers ? 'Tiered' : money(plan.amount, plan.currency)}</div><div class="muted">${cadence(plan)}${plan.fee_tiers ? ', per seat' : ''}</div></div>
  <div class="stat"><div class="label">Trial</div><div class="value">${plan.trial_days ? `${plan.trial_days} days` : 'None'}</div></div>
  <div class="stat"><div class="label">Setup fee</div><div class="value">${plan.setup_fee ? money(plan.setup_fee, plan.currency) : 'None'}</div><div class="muted">${plan.setup_fee ? 'once, on the first invoice' : ''}</div></div>
  <div class="stat"><div class="label">Minimum</div><div class="value">${plan.minimum_amount ? money(plan.minimum_amount, plan.currency) : 'None'}</div><div class="muted">${plan.minimum_amount ? 'per period, usage included' : ''}</div></div>
</div>
<div class="grid">
  <section class="card">
    <h2>Details</h2>
    <dl class="facts">
      <dt>Name</dt><dd>${plan.name}</dd>
      <dt>Currency</dt><dd>${plan.currency}</dd>
      <dt>Billing</dt><dd>${cadence(plan)}</dd>
      <dt>Plan id</dt><dd class="mono">${plan.id}</dd>
      <dt>Created</dt><dd>${date(plan.created_at)}</dd>
    </dl>
    ${plan.fee_tiers ? html`<h3>Fee per seat (${plan.fee_tiers.mode})</h3>${tiersTable(plan.fee_tiers.tiers, plan.currency, 'seats')}` : ''}
  </section>
  <section class="card card-table">
    <h2>Versions</h2>
    <table>
      <thead><tr><th>Version</th><th class="num">Fee</th><th class="num">Usage charges</th><th class="num">Created</th></tr></thead>
      <tbody>${[...all].reverse().map(
        (p) => html`<tr${p.version === plan.version ? html` class="current"` : ''}><td><a href="/console/plans/${encodeURIComponent(code)}?version=${p.version}">v${p.version}</a>${p.version === plan.version ? html` <span class="muted">(shown)</span>` : ''}</td><td class="num">${p.fee_tiers ? 'tiered' : money(p.amount, p.currency)}</td><td class="num">${p.charges.length}</td><td class="num">${date(p.created_at)}</td></tr>`,
      )}</tbody>
    </table>
  </section>
</div>
<section class="card card-table" id="charges">
  <h2>Usage charges</h2>
  <table>
    <thead><tr><th>Metric</th><th>Model</th><th>Price</th></tr></thead>
    <tbody>${charges.length ? charges : html`<tr><td colspan="3" class="empty">No usage charges: the fee is the whole price.</td></tr>`}</tbody>
  </table>
</section>`;
  sendConsolePage(req, res, { title: plan.name, section: 'plans', crumbs, body });
}

/** The API names a charge's fields by their place in `charges`; the form has one charge's two fields. */
function planRefusal(refusal: Refusal): Refusal {
  if (!refusal.param?.startsWith('charges')) return refusal;
  return { ...refusal, param: /metric/.test(refusal.param) ? 'charge_metric' : /properties|unit_amount/.test(refusal.param) ? 'charge_unit_amount' : 'charge_metric' };
}

/** Plans: the list, each plan's versions and prices, and a simple plan (fee plus one standard usage charge) for admins. */
export function planPages(): Router {
  const router = Router();
  router.get('/plans', (req, res) => sendPlans(req, res));
  router.get('/plans/:code', (req, res) => sendPlan(req, res));
  router.post('/plans', async (req, res) => {
    const v = formValues(req);
    const charge = v.charge_metric || v.charge_unit_amount ? [{ metric_code: v.charge_metric ?? '', model: 'standard' as const, properties: { unit_amount: v.charge_unit_amount ?? '' } }] : [];
    const body = {
      code: v.code ?? '',
      name: v.name ?? '',
      currency: v.currency ?? '',
      interval: (v.interval ?? '') as (typeof INTERVALS)[number],
      amount: v.amount ?? '',
      ...(v.trial_days ? { trial_days: intOrText(v.trial_days) } : {}),
      ...(charge.length ? { charges: charge } : {}),
    };
    const { data, error, response } = await req.api!.POST('/v1/plans', { body, headers: idempotencyHeader(req) });
    if (!data) return sendPlans(req, res, { values: v, refusal: planRefusal(refusalOf(error, response.status)), status: response.status });
    setFlash(req, res, `Plan ${data.code} created.`);
    res.redirect(303, `/console/plans/${encodeURIComponent(data.code)}`);
  });
  return router;
}
