import { Router, type Request, type Response } from 'express';
import { AGGREGATIONS } from '../../domain/usage';
import { COUPON_DURATIONS } from '../../domain/discounts';
import { date, money } from '../format';
import { field, formValues, refusalBanner, refusalOf } from '../forms';
import { intOrText, mayEditCatalog, trimZeros, type RefusedForm } from './api-values';
import { html, type Html } from '../html';
import { sendConsolePage } from '../layout';
import { planPages } from './catalog-plans';
import { cursorOf, pager } from './list-pager';
import { sendReadFailure } from './read-failure';
import type { ConsoleContext } from './router';
import { formGuards, idempotencyHeader, setFlash } from './session';

const PAGE_SIZE = 25;


const AGGREGATION_HELP: Record<string, string> = {
  count: 'Number of events',
  sum: 'Sum of the field',
  max: 'Largest value of the field',
  unique_count: 'Distinct values of the field',
  latest: 'Latest value of the field',
  weighted_sum: 'Time-weighted sum of the field (a level held over time)',
};

const METRIC_FIELDS = ['code', 'name', 'aggregation', 'field'];

function metricForm(req: Request, refused: RefusedForm | null): Html {
  const v = refused?.values ?? {};
  const refusal = refused?.refusal;
  return html`<details class="action" id="new-metric"${refused ? html` open` : ''}>
  <summary>New metric</summary>
  <form method="post" action="/console/metrics" novalidate>${formGuards(req)}
    ${refusalBanner(refusal, METRIC_FIELDS)}
    <div class="form-grid">
      ${field({ label: 'Code', name: 'code', value: v.code, refusal, hint: 'What usage events name, such as api_calls.' })}
      ${field({ label: 'Name', name: 'name', value: v.name, refusal })}
      ${field({ label: 'Aggregation', name: 'aggregation', type: 'select', value: v.aggregation ?? 'count', refusal, options: AGGREGATIONS.map((a) => [a, `${a} — ${AGGREGATION_HELP[a]}`]) })}
      ${field({ label: 'Field', name: 'field', value: v.field, refusal, hint: 'The event property read; not needed for count.' })}
    </div>
    <button type="submit" class="primary">Create metric</button>
  </form>
</details>`;
}

async function sendMetrics(req: Request, res: Response, refused: RefusedForm | null = null): Promise<void> {
  const cursor = cursorOf(req.query);
  const { data, error, response } = await req.api!.GET('/v1/metrics', { params: { query: { limit: PAGE_SIZE, ...cursor } } });
  if (!data) return sendReadFailure(req, res, { title: 'Billable metrics', section: 'metrics', error, status: response.status });
  const rows = data.data.map(
    (m) => html`<tr>
  <td><strong class="mono">${m.code}</strong></td>
  <td>${m.name}</td>
  <td><span class="badge badge-info">${m.aggregation.replace(/_/g, ' ')}</span><div class="muted">${AGGREGATION_HELP[m.aggregation] ?? ''}</div></td>
  <td>${m.field ? html`<span class="mono">${m.field}</span>` : html`<span class="muted">—</span>`}</td>
  <td class="num">${date(m.created_at)}</td>
</tr>`,
  );
  const body = html`${mayEditCatalog(req) ? metricForm(req, refused) : ''}
<div class="card card-table">
  <table>
    <thead><tr><th>Code</th><th>Name</th><th>Aggregation</th><th>Field</th><th class="num">Created</th></tr></thead>
    <tbody>${rows.length ? rows : html`<tr><td colspan="5" class="empty">No metrics yet.</td></tr>`}</tbody>
  </table>
</div>
${pager('/console/metrics', {}, cursor, data, 'metric')}`;
  sendConsolePage(req, res, { title: 'Billable metrics', section: 'metrics', body, status: refused?.status });
}

const COUPON_FIELDS = ['code', 'name', 'percent_off', 'amount_off', 'currency', 'duration', 'duration_periods'];

function couponForm(req: Request, refused: RefusedForm | null): Html {
  const v = refused?.values ?? {};
  const refusal = refused?.refusal;
  return html`<details class="action" id="new-coupon"${refused ? html` open` : ''}>
  <summary>New coupon</summary>
  <form method="post" action="/console/coupons" novalidate>${formGuards(req)}
    ${refusalBanner(refusal, COUPON_FIELDS)}
    <div class="form-grid">
      ${field({ label: 'Code', name: 'code', value: v.code, refusal, hint: 'What support applies to a customer, such as WELCOME20.' })}
      ${field({ label: 'Name', name: 'name', value: v.name, refusal })}
      ${field({ label: 'Percent off', name: 'percent_off', value: v.percent_off, refusal, placeholder: '20', hint: 'Either a percentage…' })}
      ${field({ label: 'Amount off', name: 'amount_off', value: v.amount_off, refusal, placeholder: '10.00', hint: '…or an amount, with its currency.' })}
      ${field({ label: 'Currency', name: 'currency', value: v.currency, refusal, placeholder: 'USD', hint: 'Only for an amount off.' })}
      ${field({ label: 'Duration', name: 'duration', type: 'select', value: v.duration ?? 'once', refusal, options: COUPON_DURATIONS.map((d) => [d, d === 'repeating' ? 'repeating (for some periods)' : d]) })}
      ${field({ label: 'Periods', name: 'duration_periods', type: 'number', value: v.duration_periods, refusal, hint: 'How many invoices a repeating coupon applies to.' })}
    </div>
    <button type="submit" class="primary">Create coupon</button>
  </form>
</details>`;
}

async function sendCoupons(req: Request, res: Response, refused: RefusedForm | null = null): Promise<void> {
  const cursor = cursorOf(req.query);
  const { data, error, response } = await req.api!.GET('/v1/coupons', { params: { query: { limit: PAGE_SIZE, ...cursor } } });
  if (!data) return sendReadFailure(req, res, { title: 'Coupons', section: 'coupons', error, status: response.status });
  const rows = data.data.map(
    (c) => html`<tr>
  <td><strong class="mono">${c.code}</strong></td>
  <td>${c.name}</td>
  <td><span class="badge badge-${c.percent_off !== null ? 'info' : 'good'}">${c.percent_off !== null ? 'percent' : 'amount'}</span></td>
  <td class="num">${c.percent_off !== null ? `${trimZeros(c.percent_off)}%` : money(c.amount_off, c.currency ?? 'USD')}</td>
  <td>${c.duration === 'repeating' ? `${c.duration_periods} period${c.duration_periods === 1 ? '' : 's'}` : c.duration === 'once' ? 'Once' : 'Forever'}</td>
  <td class="num">${date(c.created_at)}</td>
</tr>`,
  );
  const body = html`${mayEditCatalog(req) ? couponForm(req, refused) : ''}
<div class="card card-table">
  <table>
    <thead><tr><th>Code</th><th>Name</th><th>Type</th><th class="num">Discount</th><th>Duration</th><th class="num">Created</th></tr></thead>
    <tbody>${rows.length ? rows : html`<tr><td colspan="6" class="empty">No coupons yet.</td></tr>`}</tbody>
  </table>
</div>
${pager('/console/coupons', {}, cursor, data, 'coupon')}`;
  sendConsolePage(req, res, { title: 'Coupons', section: 'coupons', body, status: refused?.status });
}


/** The catalog: plans (./catalog-plans.ts), billable metrics and coupons; read by every key, created by admins. */
export function catalogPages(_context: ConsoleContext): Router {
  const router = Router();
  router.use(planPages());

  router.get('/metrics', (req, res) => sendMetrics(req, res));
  router.post('/metrics', async (req, res) => {
    const v = formValues(req);
    const body = { code: v.code ?? '', name: v.name ?? '', aggregation: (v.aggregation ?? '') as (typeof AGGREGATIONS)[number], ...(v.field ? { field: v.field } : {}) };
    const { data, error, response } = await req.api!.POST('/v1/metrics', { body, headers: idempotencyHeader(req) });
    if (!data) return sendMetrics(req, res, { values: v, refusal: refusalOf(error, response.status), status: response.status });
    setFlash(req, res, `Metric ${data.code} created.`);
    res.redirect(303, '/console/metrics');
  });

  router.get('/coupons', (req, res) => sendCoupons(req, res));
  router.post('/coupons', async (req, res) => {
    const v = formValues(req);
    const body = {
      code: v.code ?? '',
      name: v.name ?? '',
      duration: (v.duration ?? '') as (typeof COUPON_DURATIONS)[number],
      ...(v.percent_off ? { percent_off: v.percent_off } : {}),
      ...(v.amount_off ? { amount_off: v.amount_off } : {}),
      ...(v.currency ? { currency: v.currency } : {}),
      ...(v.duration_periods ? { duration_periods: intOrText(v.duration_periods) } : {}),
    };
    const { data, error, response } = await req.api!.POST('/v1/coupons', { body, headers: idempotencyHeader(req) });
    if (!data) return sendCoupons(req, res, { values: v, refusal: refusalOf(error, response.status), status: response.status });
    setFlash(req, res, `Coupon ${data.code} created.`);
    res.redirect(303, '/console/coupons');
  });
  return router;
}
