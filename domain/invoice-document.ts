import Decimal from 'decimal.js';
import { currencyExponent } from './currency';
import { decimalString, roundToCurrency } from './money';
import { toLocal } from './zoned-time';

/**
 * What an invoice says on paper, worked out before anything is drawn: every string and every row
 * the PDF prints, in the order it prints them. The renderer (services/invoice-pdf.ts) only places
 * these; the wording, the amounts in the currency's decimals and the dates in the customer's zone
 * are decided here, so they are tested without a PDF.
 */

/** The business that issues the invoices (SELLER_* settings); anything absent is left off the page. */
export interface Seller {
  name: string | null;
  addressLines: readonly string[];
  taxId: string | null;
  email: string | null;
}

export const NO_SELLER: Seller = { name: null, addressLines: [], taxId: null, email: null };

// Characters Windows-1252 has outside Latin-1 (pdfkit's standard fonts map these).
const WIN_ANSI_EXTRA = new Set([
  0x152, 0x153, 0x160, 0x161, 0x178, 0x17d, 0x17e, 0x192, 0x2c6, 0x2dc, 0x2013, 0x2014, 0x2018, 0x2019, 0x201a, 0x201c, 0x201d, 0x201e, 0x2020,
  0x2021, 0x2022, 0x2026, 0x2030, 0x2039, 0x203a, 0x20ac, 0x2122,
]);

export const isWinAnsi = (code: number) => (code >= 0x20 && code <= 0x7e) || (code >= 0xa0 && code <= 0xff) || WIN_ANSI_EXTRA.has(code);

/**
 * Text the PDF's standard fonts (Helvetica: Windows-1252 only) can draw, the same way every time:
 * WinAnsi characters as they are, others by their base letter when decomposing gives one (ő prints
 * as o), else "?" per character (an emoji is one "?", not two; joiners and variation selectors add
 * nothing). Control characters become spaces.
 */
export function winAnsi(text: string): string {
  let out = '';
  for (const char of text.normalize('NFC')) {
    const code = char.codePointAt(0)!;
    if (isWinAnsi(code)) out += char;
    else if (code === 0x200d || (code >= 0xfe00 && code <= 0xfe0f)) continue;
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) out += ' ';
    else {
      const base = char.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
      out += base !== '' && [...base].every((c) => isWinAnsi(c.codePointAt(0)!)) ? base : '?';
    }
  }
  return out;
}

export interface DocumentBuyer {
  name: string;
  email: string;
  /** IANA zone the customer is billed on: the dates print on its calendar. */
  timezone: string;
  addressLines?: readonly string[];
  taxId?: string | null;
}

/** A tier of a graduated or volume line, as stored on the line (amounts as decimal strings). */
export interface DocumentTier {
  /** Exclusive lower bound. */
  from: string;
  /** Inclusive upper bound; null: unbounded. */
  up_to: string | null;
  units: string;
  unit_amount: string;
  flat_amount: string;
  amount: string;
}

export interface DocumentLine {
  position: number;
  description: string;
  quantity: Decimal;
  unitAmount?: Decimal | null;
  amount: Decimal;
  periodStart: Date;
  periodEnd: Date;
  tiers?: readonly DocumentTier[] | null;
}

/** The invoice as stored (db/entities/invoice.ts has these fields). */
export interface DocumentInvoice {
  id: string;
  number: string | null;
  status: 'draft' | 'open' | 'paid' | 'void' | 'uncollectible';
  currency: string;
  subtotal: Decimal;
  discountTotal: Decimal;
  taxTotal: Decimal;
  total: Decimal;
  creditApplied: Decimal;
  walletApplied: Decimal;
  amountPaid: Decimal;
  amountDue: Decimal;
  amountCredited: Decimal;
  amountRefunded: Decimal;
  discounts: ReadonlyArray<{ name: string; amount: string }>;
  taxes: ReadonlyArray<{ name: string; percentage: string; inclusive: boolean; base: string; amount: string }>;
  periodStart: Date;
  periodEnd: Date;
  issuedAt: Date;
  dueAt: Date;
  finalizedAt?: Date | null;
  paidAt?: Date | null;
  voidedAt?: Date | null;
  writtenOffAt?: Date | null;
}

export interface DocumentRow {
  description: string;
  /** The line's service period, when it is not the invoice's. */
  period: string | null;
  quantity: string;
  unitPrice: string;
  amount: string;
  tiers: Array<{ description: string; amount: string }>;
}

export interface SummaryRow {
  label: string;
  amount: string;
  /** Totals are set in bold above a rule. */
  strong: boolean;
}

export interface InvoiceDocument {
  /** "Invoice", or "Draft invoice" while it has no number. */
  title: string;
  /** Its number, or DRAFT and the id. */
  reference: string;
  /** The attachment's file name: the number, or the id of a draft. */
  fileName: string;
  currency: string;
  /** A stamp beside the title: Paid, Void, Draft...; null for an open invoice. */
  stamp: string | null;
  facts: Array<{ label: string; value: string }>;
  /** The heading of the page; null: the seller's other lines stand alone. */
  sellerName: string | null;
  /** Address, tax id and e-mail, each given. */
  seller: string[];
  buyer: string[];
  rows: DocumentRow[];
  summary: SummaryRow[];
  /** A sentence under the totals: when it is due, or why nothing is. */
  note: string;
  /** The PDF's creation and modification dates: the invoice's own, so the same invoice gives the same bytes. */
  createdAt: Date;
  modifiedAt: Date;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "1 Dec 2026", on the customer's calendar. */
export function formatDate(instant: Date, zone: string): string {
  const local = toLocal(zone, instant);
  return `${local.day} ${MONTHS[local.month - 1]} ${local.year}`;
}

/** Thousands separated by commas: "-1234567.5" → "-1,234,567.5". */
function grouped(plain: string): string {
  const [whole, fraction] = plain.split('.');
  const sign = whole.startsWith('-') ? '-' : '';
  const digits = sign ? whole.slice(1) : whole;
  const withCommas = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}${withCommas}${fraction === undefined ? '' : `.${fraction}`}`;
}

/** An amount with exactly the currency's decimals and grouped thousands: "1,200" in JPY, "12.500" in KWD. */
export function formatMoney(amount: Decimal.Value, currency: string): string {
  return grouped(decimalString(roundToCurrency(amount, currency), currencyExponent(currency)));
}

/** The same with its currency code in front: "JPY 1,200". */
export function formatMoneyWithCode(amount: Decimal.Value, currency: string): string {
  return `${currency} ${formatMoney(amount, currency)}`;
}

/** A price that may carry more decimals than the currency (0.0015 per call): at least the currency's, never fewer than it has. */
export function formatPrice(amount: Decimal.Value, currency: string): string {
  const value = new Decimal(amount);
  return grouped(decimalString(value, Math.max(currencyExponent(currency), value.decimalPlaces())));
}

/** A quantity as given, grouped: "1,500", "2.5". */
export function formatQuantity(quantity: Decimal.Value): string {
  return grouped(decimalString(quantity));
}

/** What the summary takes off, with a minus sign (never "-0.00"). */
const negated = (amount: Decimal.Value, currency: string) => (new Decimal(amount).isZero() ? formatMoney(0, currency) : formatMoney(new Decimal(amount).negated(), currency));

function tierRange(tier: DocumentTier): string {
  if (tier.up_to === null) return `above ${formatQuantity(tier.from)}`;
  // Bounds hold whole units in practice: the first unit of (100, 200] is 101.
  const from = new Decimal(tier.from);
  const first = from.isInteger() && new Decimal(tier.up_to).isInteger() ? from.plus(1) : from;
  return `${formatQuantity(first)} – ${formatQuantity(tier.up_to)}`;
}

function tierRow(tier: DocumentTier, index: number, currency: string) {
  const parts = [`${formatQuantity(tier.units)} × ${formatPrice(tier.unit_amount, currency)}`];
  if (!new Decimal(tier.flat_amount).isZero()) parts.push(`${formatPrice(tier.flat_amount, currency)} flat`);
  // A tier's amount is exact (the line is rounded, not its parts): shown with the decimals it has.
  return { description: `Tier ${index + 1} (${tierRange(tier)}): ${parts.join(' + ')}`, amount: formatPrice(tier.amount, currency) };
}

function row(line: DocumentLine, invoice: DocumentInvoice, zone: string): DocumentRow {
  const samePeriod = line.periodStart.getTime() === invoice.periodStart.getTime() && line.periodEnd.getTime() === invoice.periodEnd.getTime();
  return {
    description: line.description,
    period: samePeriod ? null : `${formatDate(line.periodStart, zone)} – ${formatDate(line.periodEnd, zone)}`,
    quantity: formatQuantity(line.quantity),
    unitPrice: line.unitAmount === null || line.unitAmount === undefined ? '' : formatPrice(line.unitAmount, invoice.currency),
    amount: formatMoney(line.amount, invoice.currency),
    tiers: (line.tiers ?? []).map((t, i) => tierRow(t, i, invoice.currency)),
  };
}

function summary(invoice: DocumentInvoice): SummaryRow[] {
  const c = invoice.currency;
  const rows: SummaryRow[] = [{ label: 'Subtotal', amount: formatMoney(invoice.subtotal, c), strong: false }];
  for (const d of invoice.discounts) rows.push({ label: `Discount: ${d.name}`, amount: negated(d.amount, c), strong: false });
  for (const t of invoice.taxes) {
    const rate = `${decimalString(new Decimal(t.percentage))}%`;
    const label = t.inclusive ? `${t.name} ${rate} included (on ${formatMoney(t.base, c)})` : `${t.name} ${rate} (on ${formatMoney(t.base, c)})`;
    rows.push({ label, amount: formatMoney(t.amount, c), strong: false });
  }
  rows.push({ label: 'Total', amount: formatMoneyWithCode(invoice.total, c), strong: true });
  const less = (label: string, amount: Decimal) => {
    if (!amount.isZero()) rows.push({ label, amount: negated(amount, c), strong: false });
  };
  less('Customer credit applied', invoice.creditApplied);
  less('Prepaid wallet credit applied', invoice.walletApplied);
  less('Credit notes', invoice.amountCredited);
  rows.push({ label: 'Amount paid', amount: negated(invoice.amountPaid, c), strong: false });
  // A void invoice keeps what was due when it was voided; on paper it is taken off, so nothing is.
  const voided = invoice.status === 'void' ? invoice.amountDue : new Decimal(0);
  less('Voided', voided);
  rows.push({ label: 'Amount due', amount: formatMoneyWithCode(invoice.amountDue.minus(voided), c), strong: true });
  return rows;
}

const STAMPS: Record<DocumentInvoice['status'], string | null> = { draft: 'DRAFT', open: null, paid: 'PAID', void: 'VOID', uncollectible: 'UNCOLLECTIBLE' };
const STATUS: Record<DocumentInvoice['status'], string> = { draft: 'Draft', open: 'Open', paid: 'Paid', void: 'Void', uncollectible: 'Uncollectible' };

function note(invoice: DocumentInvoice, zone: string): string {
  const refunded = invoice.amountRefunded.isZero() ? '' : ` ${formatMoneyWithCode(invoice.amountRefunded, invoice.currency)} of what was paid has been refunded.`;
  return `${state(invoice, zone)}${refunded}`;
}

function state(invoice: DocumentInvoice, zone: string): string {
  const due = formatMoneyWithCode(invoice.amountDue, invoice.currency);
  switch (invoice.status) {
    case 'draft':
      return 'This is a draft: it is not a demand for payment, and its lines and totals may still change.';
    case 'void':
      return `This invoice was voided${invoice.voidedAt ? ` on ${formatDate(invoice.voidedAt, zone)}` : ''}; nothing is owed on it.`;
    case 'uncollectible':
      return `This invoice was written off${invoice.writtenOffAt ? ` on ${formatDate(invoice.writtenOffAt, zone)}` : ''}.`;
    case 'paid':
      return `Paid in full${invoice.paidAt ? ` on ${formatDate(invoice.paidAt, zone)}` : ''}. Thank you.`;
    case 'open':
      return `Please pay ${due} by ${formatDate(invoice.dueAt, zone)}.`;
  }
}

/** The latest thing that happened to the invoice: what a reprint after a payment or a void shows as modified. */
function lastChange(invoice: DocumentInvoice): Date {
  const dates = [invoice.issuedAt, invoice.finalizedAt, invoice.paidAt, invoice.voidedAt, invoice.writtenOffAt].filter((d): d is Date => d instanceof Date);
  return new Date(Math.max(...dates.map((d) => d.getTime())));
}

export function invoiceDocument(input: { invoice: DocumentInvoice; lines: readonly DocumentLine[]; buyer: DocumentBuyer; seller: Seller }): InvoiceDocument {
  const { invoice, buyer, seller } = input;
  const zone = buyer.timezone;
  const draft = invoice.status === 'draft' || invoice.number === null;
  const facts = [
    { label: draft ? 'Draft' : 'Invoice number', value: invoice.number ?? invoice.id },
    { label: 'Status', value: STATUS[invoice.status] },
    { label: 'Issue date', value: formatDate(invoice.finalizedAt ?? invoice.issuedAt, zone) },
    { label: 'Due date', value: formatDate(invoice.dueAt, zone) },
    { label: 'Service period', value: `${formatDate(invoice.periodStart, zone)} – ${formatDate(invoice.periodEnd, zone)}` },
    { label: 'Currency', value: invoice.currency },
  ];
  const present = (lines: ReadonlyArray<string | null | undefined>) => lines.filter((l): l is string => typeof l === 'string' && l.trim() !== '');
  return {
    title: draft ? 'Draft invoice' : 'Invoice',
    reference: draft ? `DRAFT ${invoice.id}` : invoice.number!,
    fileName: `${invoice.number ?? invoice.id}.pdf`,
    currency: invoice.currency,
    stamp: STAMPS[invoice.status],
    facts,
    sellerName: seller.name?.trim() ? seller.name : null,
    seller: present([...seller.addressLines, seller.taxId && `Tax ID: ${seller.taxId}`, seller.email]),
    buyer: present([buyer.name, ...(buyer.addressLines ?? []), buyer.taxId && `Tax ID: ${buyer.taxId}`, buyer.email]),
    rows: [...input.lines].sort((a, b) => a.position - b.position).map((l) => row(l, invoice, zone)),
    summary: summary(invoice),
    note: note(invoice, zone),
    createdAt: invoice.finalizedAt ?? invoice.issuedAt,
    modifiedAt: lastChange(invoice),
  };
}
