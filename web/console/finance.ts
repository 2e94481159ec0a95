import Decimal from 'decimal.js';
import { Router, type Request, type Response } from 'express';
import type { Schemas } from '../../client';
import { addMonths, monthOf } from '../../domain/months';
import { flowChart, horizontalBars, monthLabel, mrrChart, shortNumber, type Box, type FlowChartGeometry } from '../charts';
import { date, money } from '../format';
import { refusalOf } from '../forms';
import { html, type Html } from '../html';
import { sendConsolePage } from '../layout';
import type { ConsoleContext } from './router';

/**
 * Finance: MRR and its movements over the last twelve months, receivables by age, and the deferred
 * revenue waterfall, read from the reports API and drawn on the server as inline SVG. Every figure
 * printed comes from the API's decimal strings; numbers are made of them only to place shapes.
 */

type MrrMonth = Schemas['MrrReport']['data'][number]['months'][number];
type Aging = Schemas['ArAgingReport']['data'][number];
type DeferredMonth = Schemas['DeferredRevenueReport']['months'][number];

const MOVEMENT_COLORS = { new: '#2f5bd3', expansion: '#5fa8e8', reactivation: '#8a6bd8', contraction: '#e3a43b', churn: '#d0453a' } as const;
const MOVEMENT_LABELS = { new: 'New', expansion: 'Expansion', reactivation: 'Reactivation', contraction: 'Contraction', churn: 'Churn' } as const;
const DEFERRED_COLORS = { billed: '#2f5bd3', recognized: '#2e9e6a', other: '#9aa5b5' } as const;
const DEFERRED_LABELS = { billed: 'Billed (deferred)', recognized: 'Recognised', other: 'Other (voids, credit notes)' } as const;

const AGING_BUCKETS = [
  ['not_yet_due', 'Current (not yet due)'],
  ['days_1_30', '1–30 days'],
  ['days_31_60', '31–60 days'],
  ['days_61_90', '61–90 days'],
  ['days_91_120', '91–120 days'],
  ['days_over_120', 'Over 120 days'],
] as const;
const AGING_COLORS = ['#2e9e6a', '#e3c13b', '#e3a43b', '#e07a3b', '#d0453a', '#a12a20'];

const CHART: Box = { width: 1080, height: 320, margin: { top: 16, right: 16, bottom: 34, left: 56 } };

/** The axes, grid and month labels every flow chart shares. */
function axes(g: FlowChartGeometry<string>): Html {
  const { box } = g;
  const right = box.width - box.margin.right;
  return html`${g.yTicks.map(
    (t) => html`<line class="grid-line" x1="${box.margin.left}" x2="${right}" y1="${t.y}" y2="${t.y}"/><text x="${box.margin.left - 8}" y="${t.y + 4}" text-anchor="end">${shortNumber(t.value)}</text>`,
  )}
<line class="axis" x1="${box.margin.left}" x2="${right}" y1="${g.zeroY}" y2="${g.zeroY}"/>
${g.months.map((m) => html`<text x="${m.center}" y="${box.height - box.margin.bottom + 18}" text-anchor="middle">${monthLabel(m.month)}</text>`)}`;
}

function line(g: FlowChartGeometry<string>, color: string, label: (i: number) => string): Html {
  const points = g.months.map((m) => `${m.point.x.toFixed(1)},${m.point.y.toFixed(1)}`).join(' ');
  return html`<polyline class="level" points="${points}" fill="none" stroke="${color}" stroke-width="2.5"/>
${g.months.map((m, i) => html`<circle cx="${m.point.x}" cy="${m.point.y}" r="4" fill="#fff" stroke="${color}" stroke-width="2"><title>${label(i)}</title></circle>`)}`;
}

function mrrSvg(months: MrrMonth[], currency: string): Html {
  const g = mrrChart(months, CHART);
  return html`<figure class="chart" id="mrr-chart"><svg viewBox="0 0 ${CHART.width} ${CHART.height}" role="img" aria-label="MRR and its movements, last 12 months, ${currency}">
${axes(g)}
${g.months.map((m, i) =>
    m.bars.map(
      (b) => html`<rect class="bar bar-${b.movement}" x="${b.rect.x}" y="${b.rect.y}" width="${b.rect.width}" height="${b.rect.height}" fill="${MOVEMENT_COLORS[b.movement]}" rx="2"><title>${monthLabel(m.month)} · ${MOVEMENT_LABELS[b.movement]}: ${money(months[i][b.movement], currency)}</title></rect>`,
    ),
  )}
${line(g, '#16213a', (i) => `${monthLabel(months[i].month)} · MRR ${money(months[i].mrr, currency)}`)}
</svg>
<figcaption class="legend"><span><i style="background:#16213a"></i>MRR</span>${Object.entries(MOVEMENT_LABELS).map(([k, l]) => html`<span><i style="background:${MOVEMENT_COLORS[k as keyof typeof MOVEMENT_COLORS]}"></i>${l}</span>`)}</figcaption>
</figure>`;
}

function mrrTable(months: MrrMonth[], currency: string): Html {
  const cell = (amount: string, sign = '') => html`<td class="num${new Decimal(amount).isZero() ? ' muted' : ''}">${new Decimal(amount).isZero() ? '—' : `${sign}${money(amount, currency)}`}</td>`;
  return html`<table id="mrr-table"><thead><tr><th>Month</th><th class="num">New</th><th class="num">Expansion</th><th class="num">Reactivation</th><th class="num">Contraction</th><th class="num">Churn</th><th class="num">MRR</th><th class="num">ARR</th></tr></thead>
<tbody>${[...months].reverse().map(
    (m) => html`<tr><td>${monthLabel(m.month)}</td>${cell(m.new, '+')}${cell(m.expansion, '+')}${cell(m.reactivation, '+')}${cell(m.contraction, '−')}${cell(m.churn, '−')}<td class="num"><strong>${money(m.mrr, currency)}</strong></td><td class="num">${money(m.arr, currency)}</td></tr>`,
  )}</tbody></table>`;
}

function agingBars(aging: Aging): Html {
  const widths = horizontalBars(
    AGING_BUCKETS.map(([k]) => aging.totals[k]),
    100,
  );
  return html`<div class="hbars" id="aging-bars">${AGING_BUCKETS.map(
    ([k, label], i) => html`<div class="hbar" data-bucket="${k}"><span class="hbar-label">${label}</span>
<span class="hbar-track"><span class="hbar-fill" style="width:${widths[i].toFixed(2)}%;background:${AGING_COLORS[i]}"></span></span>
<span class="hbar-value">${money(aging.totals[k], aging.currency)}</span></div>`,
  )}
<div class="hbar hbar-total"><span class="hbar-label">Total outstanding</span><span></span><span class="hbar-value">${money(aging.totals.total, aging.currency)}</span></div></div>`;
}

function agingCustomers(aging: Aging): Html {
  if (!aging.customers.length) return html``;
  const top = [...aging.customers].sort((a, b) => new Decimal(b.total).comparedTo(a.total)).slice(0, 10);
  return html`<h3>By customer</h3><table id="aging-customers"><thead><tr><th>Customer</th>${AGING_BUCKETS.map(([, l]) => html`<th class="num">${l.replace(' (not yet due)', '')}</th>`)}<th class="num">Total</th></tr></thead>
<tbody>${top.map(
    (c) => html`<tr><td><a href="/console/customers/${encodeURIComponent(c.customer_id)}">${c.name}</a></td>${AGING_BUCKETS.map(([k]) => html`<td class="num${new Decimal(c[k]).isZero() ? ' muted' : ''}">${new Decimal(c[k]).isZero() ? '—' : money(c[k], aging.currency)}</td>`)}<td class="num"><strong>${money(c.total, aging.currency)}</strong></td></tr>`,
  )}</tbody></table>`;
}

/** A movement with its sign, or a dash when nothing moved. */
const signed = (amount: string, sign: string, currency: string): Html =>
  new Decimal(amount).isZero() ? html`<td class="num muted">—</td>` : html`<td class="num">${sign}${money(amount, currency)}</td>`;

function deferredSection(report: Schemas['DeferredRevenueReport']): Html {
  const cur = report.currency;
  const other = (m: DeferredMonth) => m.other.reduce((s, o) => s.plus(o.amount), new Decimal(0));
  const g = flowChart(
    report.months.map((m) => {
      const o = other(m);
      return {
        month: m.month,
        level: m.closing,
        up: [['billed', m.billed] as ['billed', string], ...(o.gt(0) ? [['other', o.toFixed()] as ['other', string]] : [])],
        down: [['recognized', m.recognized] as ['recognized', string], ...(o.lt(0) ? [['other', o.negated().toFixed()] as ['other', string]] : [])],
      };
    }),
    CHART,
  );
  const svg = html`<figure class="chart" id="deferred-chart"><svg viewBox="0 0 ${CHART.width} ${CHART.height}" role="img" aria-label="Deferred revenue waterfall, ${cur}">
${axes(g)}
${g.months.map((m) => m.bars.map((b) => html`<rect class="bar bar-${b.movement}" x="${b.rect.x}" y="${b.rect.y}" width="${b.rect.width}" height="${b.rect.height}" fill="${DEFERRED_COLORS[b.movement]}" rx="2"><title>${monthLabel(m.month)} · ${DEFERRED_LABELS[b.movement]}</title></rect>`))}
${line(g, '#16213a', (i) => `${monthLabel(report.months[i].month)} · deferred at month end ${money(report.months[i].closing, cur)}`)}
</svg>
<figcaption class="legend"><span><i style="background:#16213a"></i>Deferred at month end</span>${Object.entries(DEFERRED_LABELS).map(([k, l]) => html`<span><i style="background:${DEFERRED_COLORS[k as keyof typeof DEFERRED_COLORS]}"></i>${l}</span>`)}</figcaption>
</figure>`;
  const table = html`<table id="deferred-table"><thead><tr><th>Month</th><th class="num">Opening</th><th class="num">Billed</th><th class="num">Recognised</th><th class="num">Other</th><th class="num">Closing</th><th class="num">Ledger</th></tr></thead>
<tbody>${[...report.months].reverse().map(
    (m) => html`<tr><td>${monthLabel(m.month)}</td><td class="num">${money(m.opening, cur)}</td>${signed(m.billed, '+', cur)}${signed(m.recognized, '−', cur)}
<td class="num" title="${m.other.map((o) => `${o.source}: ${o.amount}`).join(', ')}">${other(m).isZero() ? '—' : money(other(m).toFixed(), cur)}</td><td class="num"><strong>${money(m.closing, cur)}</strong></td>
<td class="num">${m.balanced ? html`<span class="badge badge-good" title="The ledger's balance at month end agrees">✓ agrees</span>` : html`<span class="badge badge-bad" title="Ledger: ${money(m.ledger_closing, cur)}">differs</span>`}</td></tr>`,
  )}</tbody></table>`;
  return html`${svg}${table}`;
}

function stat(label: string, value: string, note?: Html | string, id?: string): Html {
  return html`<div class="stat"${id ? html` id="${id}"` : ''}><div class="label">${label}</div><div class="value">${value}</div>${note ? html`<div class="note">${note}</div>` : ''}</div>`;
}

async function financePage(req: Request, res: Response): Promise<void> {
  const api = req.api!;
  const to = monthOf(new Date());
  const from = addMonths(to, -11);
  const [mrr, aging] = await Promise.all([api.GET('/v1/reports/mrr', { params: { query: { from, to } } }), api.GET('/v1/reports/ar_aging', { params: { query: {} } })]);
  if (!mrr.data || !aging.data) {
    const failed = mrr.data ? aging : mrr;
    return sendConsolePage(req, res, { title: 'Finance', section: 'finance', status: failed.response.status, body: html`<div class="banner banner-refusal">${refusalOf(failed.error, failed.response.status).message}</div>` });
  }
  const currencies = [...new Set([...mrr.data.data.map((d) => d.currency), ...aging.data.data.map((d) => d.currency)])].sort();
  const asked = typeof req.query.currency === 'string' ? req.query.currency.toUpperCase() : '';
  const currency = currencies.includes(asked) ? asked : (currencies.includes('USD') ? 'USD' : currencies[0]);
  if (!currency) {
    return sendConsolePage(req, res, { title: 'Finance', section: 'finance', body: html`<section class="card"><p class="empty">Nothing billed yet: the reports fill in once invoices are issued.</p></section>` });
  }
  const deferred = await api.GET('/v1/reports/deferred_revenue', { params: { query: { currency, from, to } } });
  const months = mrr.data.data.find((d) => d.currency === currency)?.months ?? [];
  const agingFor = aging.data.data.find((d) => d.currency === currency);
  const current = months[months.length - 1];
  const previous = months[months.length - 2];
  const net = current ? new Decimal(current.mrr).minus(previous?.mrr ?? current.start) : new Decimal(0);
  const deferredNow = deferred.data?.months[deferred.data.months.length - 1];

  const body = html`
${currencies.length > 1
  ? html`<form class="search filters" method="get" action="/console/finance"><label for="f-currency" class="muted">Currency</label>
<select id="f-currency" name="currency">${currencies.map((c) => html`<option value="${c}"${c === currency ? html` selected` : ''}>${c}</option>`)}</select><button type="submit">Show</button></form>`
  : ''}
<div class="stats">
  ${stat('MRR', money(current?.mrr ?? '0', currency), current ? `at the end of ${monthLabel(current.month)}` : '', 'stat-mrr')}
  ${stat('ARR', money(current?.arr ?? '0', currency), '12 × MRR')}
  ${stat('Net new MRR', `${net.gte(0) ? '+' : '−'}${money(net.abs().toFixed(), currency)}`, 'this month')}
  ${stat('Receivables', money(agingFor?.totals.total ?? '0', currency), `as of ${date(aging.data.as_of)}`, 'stat-ar')}
  ${stat('Deferred revenue', money(deferredNow?.closing ?? '0', currency), 'to be recognised')}
</div>
<section class="card" id="mrr"><h2>MRR and its movements <span class="muted small">${monthLabel(from)} – ${monthLabel(to)}, ${currency}</span></h2>
${months.length ? html`${mrrSvg(months, currency)}<details class="more"><summary>Month by month</summary>${mrrTable(months, currency)}</details>` : html`<p class="empty">No recurring revenue in these months.</p>`}
</section>
<section class="card" id="aging"><h2>Receivables by age <span class="muted small">as of ${date(aging.data.as_of)}</span></h2>
${agingFor ? html`${agingBars(agingFor)}${agingCustomers(agingFor)}` : html`<p class="empty">Nothing outstanding in ${currency}.</p>`}
</section>
<section class="card" id="deferred"><h2>Deferred revenue waterfall <span class="muted small">${monthLabel(from)} – ${monthLabel(to)}, ${currency}</span></h2>
<p class="muted">What was billed ahead of the service and waits to be recognised: each month opens with what the last one closed on, adds what was billed, and takes away what was recognised as the service was delivered.</p>
${deferred.data ? deferredSection(deferred.data) : html`<div class="banner banner-refusal">${refusalOf(deferred.error, deferred.response.status).message}</div>`}
</section>`;
  sendConsolePage(req, res, { title: 'Finance', section: 'finance', body });
}

export function financePages(_context: ConsoleContext): Router {
  const router = Router();
  router.get('/finance', financePage);
  return router;
}
