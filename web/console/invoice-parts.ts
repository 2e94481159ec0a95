import Decimal from 'decimal.js';
import type { Schemas } from '../../client';
import { currencyExponent } from '../../domain/currency';
import { money, date } from '../format';
import { html, type Fragment, type Html } from '../html';
import type { Refusal } from '../forms';

/**
 * Pieces shared by the invoice page and the subscription page's previews: an invoice's lines with
 * their tier breakdown, and its totals. An issued invoice and a preview (an upcoming invoice) have
 * the same lines, discounts and taxes, so one drawing serves both.
 */
type Line = Schemas['Invoice']['lines'][number] | Schemas['UpcomingInvoice']['lines'][number];
type Tier = Line['tiers'][number];

const KIND: Record<string, string> = { fee: 'Plan fee', usage: 'Usage', minimum: 'Minimum', proration: 'Proration', add_on: 'Add-on', one_off: 'One-off', setup_fee: 'Setup fee' };

/** A unit price in the currency's format, or with all its decimals when it has more (0.0015 per call). */
export function unitPrice(amount: string | null, currency: string): string {
  if (amount === null) return '—';
  return new Decimal(amount).decimalPlaces() <= currencyExponent(currency) ? money(amount, currency) : `${currency} ${amount}`;
}

const period = (start: string | null, end: string | null): string => (start && end ? `${date(start)} – ${date(end)}` : '');

function tierRow(t: Tier, currency: string): Html {
  // Tier bounds may be fractional (GB of storage), so a tier is stated as "over a, up to b" rather than "a+1 – b".
  const from = new Decimal(t.from);
  const range = t.up_to === null ? `over ${t.from}` : from.isZero() ? `up to ${t.up_to}` : `over ${t.from} up to ${t.up_to}`;
  return html`<tr class="tier"><td>↳ ${range}${!new Decimal(t.flat_amount).isZero() ? html` <span class="muted">+ flat ${money(t.flat_amount, currency)}</span>` : ''}</td>
<td class="num">${t.units}</td><td class="num">${unitPrice(t.unit_amount, currency)}</td><td class="num">${money(t.amount, currency)}</td></tr>`;
}

/** Lines with description, kind and period, quantity, unit price and amount; tiered lines show each tier under them. */
export function linesTable(lines: Line[], currency: string): Html {
  if (lines.length === 0) return html`<p class="empty">No lines.</p>`;
  return html`<table class="lines">
<thead><tr><th>Description</th><th class="num">Quantity</th><th class="num">Unit price</th><th class="num">Amount</th></tr></thead>
<tbody>${lines.map(
    (l) => html`<tr><td>${l.description}<div class="muted small">${KIND[l.kind] ?? l.kind}${l.period_start ? html` · ${period(l.period_start, l.period_end)}` : ''}${!new Decimal(l.discount_amount).isZero() ? html` · discount ${money(l.discount_amount, currency)}` : ''}</div></td>
<td class="num">${l.quantity}</td><td class="num">${unitPrice(l.unit_amount, currency)}</td><td class="num">${money(l.amount, currency)}</td></tr>
${l.tiers.map((t) => tierRow(t, currency))}`,
  )}</tbody></table>`;
}

type Totals = Pick<Schemas['UpcomingInvoice'], 'subtotal' | 'discount_total' | 'tax_total' | 'total' | 'currency'> & {
  discounts: Array<{ name?: string | null; amount: string }>;
  taxes: Array<{ name: string; percentage: string; inclusive: boolean; base: string; amount: string }>;
};

/** Subtotal, each discount, each tax rate with its base, the total, then any further rows (paid, due…). */
export function totalsTable(t: Totals, extra: Array<[string, string, string?]> = []): Html {
  const row = (label: Fragment, amount: string, cls = '') => html`<tr class="${cls}"><td>${label}</td><td class="num">${money(amount, t.currency)}</td></tr>`;
  return html`<table class="totals"><tbody>
${row('Subtotal', t.subtotal)}
${t.discounts.map((d) => row(html`Discount <span class="muted">${d.name ?? ''}</span>`, `-${d.amount}`.replace('--', '')))}
${t.taxes.map((x) => row(html`${x.name} ${x.percentage}%${x.inclusive ? ' (included)' : ''} <span class="muted">on ${money(x.base, t.currency)}</span>`, x.amount))}
${t.taxes.length === 0 ? row(html`Tax`, t.tax_total) : ''}
${row(html`<strong>Total</strong>`, t.total, 'grand')}
${extra.map(([label, amount, cls]) => row(label, amount, cls ?? ''))}
</tbody></table>`;
}

/** A preview (upcoming or proposed invoice): its lines and totals in one card body. */
export function previewInvoice(invoice: Schemas['UpcomingInvoice']): Html {
  return html`${linesTable(invoice.lines, invoice.currency)}<div class="totals-wrap">${totalsTable(invoice)}</div>`;
}

/** A refusal whose code names a field while the API gave no `param` (the workflow's update validators give none). */
export function withField(refusal: Refusal, fields: Record<string, string>): Refusal {
  if (refusal.param || !refusal.code || !fields[refusal.code]) return refusal;
  return { ...refusal, param: fields[refusal.code] };
}
