import type { EntityManager } from '@mikro-orm/postgresql';
import PDFDocument from 'pdfkit';
import { Customer } from '../db/entities/customer';
import { invoiceDocument, NO_SELLER, winAnsi, type InvoiceDocument, type Seller } from '../domain/invoice-document';
import { invoiceWithLines } from './invoices';

/**
 * An invoice as a PDF, drawn in process with pdfkit (no browser, no other service). The words and
 * amounts come from domain/invoice-document.ts; this module only places them on A4 pages.
 *
 * The same invoice gives the same bytes: the document's dates are the invoice's own (pdfkit would
 * write the time of rendering, and derives the file ID from them), compression is always on, and
 * only the standard Helvetica faces are used, so no font subset with a random tag is embedded.
 * Helvetica covers the Windows-1252 (WinAnsi) characters only: text outside it is folded to its
 * base letter where it has one (ő → o) and otherwise printed as "?" (see `winAnsi`).
 */

const PAGE = { width: 595.28, height: 841.89 };
const MARGIN = 50;
const CONTENT = PAGE.width - 2 * MARGIN;
/** The footer sits below this line; rows that would cross it go to the next page. */
const BODY_BOTTOM = PAGE.height - MARGIN - 14;

const INK = '#1f2933';
const MUTED = '#616e7c';
const RULE = '#cbd2d9';
const BAND = '#f0f4f8';
const ACCENT = '#243b53';

const REGULAR = 'Helvetica';
const BOLD = 'Helvetica-Bold';

/** Table columns: description takes what the three figures leave. */
const COLUMNS = (() => {
  const amount = 92;
  const unit = 92;
  const quantity = 60;
  const description = CONTENT - amount - unit - quantity;
  const x = MARGIN;
  return {
    description: { x, width: description - 10 },
    quantity: { x: x + description, width: quantity },
    unit: { x: x + description + quantity, width: unit },
    amount: { x: x + description + quantity + unit, width: amount },
  };
})();

type Doc = PDFKit.PDFDocument;

interface TextStyle {
  font?: string;
  size?: number;
  color?: string;
  align?: 'left' | 'right' | 'center';
  width?: number;
  /** Longer text is cut with an ellipsis (a name or description that would not fit a page). */
  maxLines?: number;
}

const LINE_GAP = 1;

function options(doc: Doc, style: TextStyle): PDFKit.Mixins.TextOptions {
  doc.font(style.font ?? REGULAR).fontSize(style.size ?? 9);
  const limit = style.maxLines ? { height: style.maxLines * (doc.currentLineHeight(true) + LINE_GAP), ellipsis: true } : {};
  return { width: style.width, align: style.align ?? 'left', lineGap: LINE_GAP, ...limit };
}

function text(doc: Doc, value: string, x: number, y: number, style: TextStyle = {}): number {
  const textOptions = options(doc, style);
  doc.fillColor(style.color ?? INK);
  // pdfkit leaves doc.y below what it drew: the height, without wrapping the text a second time.
  doc.text(winAnsi(value), x, y, textOptions);
  return doc.y - y;
}

function heightOf(doc: Doc, value: string, style: TextStyle): number {
  const textOptions = options(doc, style);
  // heightOfString measures the whole text; drawn, it stops at the height given.
  return Math.min(doc.heightOfString(winAnsi(value), textOptions), textOptions.height ?? Infinity);
}

function rule(doc: Doc, y: number, from = MARGIN, to = MARGIN + CONTENT, color = RULE, width = 0.6): void {
  doc.moveTo(from, y).lineTo(to, y).lineWidth(width).strokeColor(color).stroke();
}

function header(doc: Doc, d: InvoiceDocument): number {
  let left = MARGIN;
  const sellerWidth = CONTENT * 0.55;
  if (d.sellerName) left += text(doc, d.sellerName, MARGIN, left, { font: BOLD, size: 15, color: ACCENT, width: sellerWidth, maxLines: 3 }) + 4;
  for (const line of d.seller) left += text(doc, line, MARGIN, left, { size: 9, color: MUTED, width: sellerWidth, maxLines: 2 });

  const rightX = MARGIN + CONTENT * 0.55;
  const rightWidth = CONTENT * 0.45;
  let right = MARGIN;
  right += text(doc, d.title.toUpperCase(), rightX, right, { font: BOLD, size: 22, color: ACCENT, align: 'right', width: rightWidth }) + 2;
  right += text(doc, d.reference, rightX, right, { size: 10, color: MUTED, align: 'right', width: rightWidth }) + 6;
  if (d.stamp) {
    doc.font(BOLD).fontSize(10);
    const w = doc.widthOfString(d.stamp) + 16;
    const x = MARGIN + CONTENT - w;
    const color = d.stamp === 'PAID' ? '#2f8132' : d.stamp === 'DRAFT' ? '#9a6c00' : '#ab091e';
    doc.roundedRect(x, right, w, 18, 3).lineWidth(1.2).strokeColor(color).stroke();
    text(doc, d.stamp, x, right + 4.5, { font: BOLD, size: 10, color, align: 'center', width: w });
    right += 24;
  }
  return Math.max(left, right) + 14;
}

function parties(doc: Doc, d: InvoiceDocument, top: number): number {
  const half = CONTENT / 2 - 10;
  let left = top;
  left += text(doc, 'BILL TO', MARGIN, left, { font: BOLD, size: 8, color: MUTED }) + 4;
  d.buyer.forEach((line, i) => {
    left += text(doc, line, MARGIN, left, { font: i === 0 ? BOLD : REGULAR, size: i === 0 ? 11 : 9, width: half, maxLines: i === 0 ? 4 : 2 }) + (i === 0 ? 2 : 0);
  });

  const factsX = MARGIN + CONTENT / 2 + 10;
  const labelWidth = 90;
  const valueWidth = MARGIN + CONTENT - factsX - labelWidth;
  let right = top;
  for (const fact of d.facts) {
    const h = Math.max(
      heightOf(doc, fact.label, { size: 9, width: labelWidth }),
      heightOf(doc, fact.value, { font: BOLD, size: 9, width: valueWidth }),
    );
    text(doc, fact.label, factsX, right, { size: 9, color: MUTED, width: labelWidth });
    text(doc, fact.value, factsX + labelWidth, right, { font: BOLD, size: 9, width: valueWidth, align: 'right' });
    right += h + 3;
  }
  return Math.max(left, right) + 14;
}

function tableHeader(doc: Doc, y: number, currency: string): number {
  doc.rect(MARGIN, y, CONTENT, 20).fill(BAND);
  const style = { font: BOLD, size: 8, color: MUTED } as const;
  text(doc, 'DESCRIPTION', COLUMNS.description.x + 6, y + 6.5, { ...style, width: COLUMNS.description.width });
  text(doc, 'QTY', COLUMNS.quantity.x, y + 6.5, { ...style, width: COLUMNS.quantity.width, align: 'right' });
  text(doc, 'UNIT PRICE', COLUMNS.unit.x, y + 6.5, { ...style, width: COLUMNS.unit.width, align: 'right' });
  text(doc, `AMOUNT (${currency})`, COLUMNS.amount.x, y + 6.5, { ...style, width: COLUMNS.amount.width - 6, align: 'right' });
  return y + 26;
}

const TIER_WIDTH = COLUMNS.description.width + COLUMNS.quantity.width + COLUMNS.unit.width - 24;
const ROW_PAD = { top: 4.5, bottom: 3.5 };
/** Far more than any description the API takes (500 characters); only a runaway one is cut. */
const DESCRIPTION = { size: 9, width: COLUMNS.description.width - 6, maxLines: 24 } as const;
const PERIOD = { size: 7.5, color: MUTED, width: COLUMNS.description.width - 6 } as const;
const TIER = { size: 7.5, color: MUTED, width: TIER_WIDTH, maxLines: 4 } as const;

type Row = InvoiceDocument['rows'][number];

/** A row's heights: its description and period, then each tier (a row of many tiers may go over pages between them). */
function measureRow(doc: Doc, row: Row): { head: number; tiers: number[]; total: number } {
  const head = heightOf(doc, row.description, DESCRIPTION) + (row.period ? heightOf(doc, row.period, PERIOD) + 1 : 0);
  const tiers = row.tiers.map((t) => heightOf(doc, t.description, TIER) + 1);
  return { head, tiers, total: ROW_PAD.top + head + tiers.reduce((a, b) => a + b, 0) + ROW_PAD.bottom };
}

function drawRow(doc: Doc, d: InvoiceDocument, row: Row, heights: { tiers: number[] }, y: number): number {
  const descriptionX = COLUMNS.description.x + 6;
  let inner = y + ROW_PAD.top;
  text(doc, row.quantity, COLUMNS.quantity.x, inner, { width: COLUMNS.quantity.width, align: 'right' });
  text(doc, row.unitPrice, COLUMNS.unit.x, inner, { width: COLUMNS.unit.width, align: 'right' });
  text(doc, row.amount, COLUMNS.amount.x, inner, { width: COLUMNS.amount.width - 6, align: 'right' });
  inner += text(doc, row.description, descriptionX, inner, DESCRIPTION);
  if (row.period) inner += text(doc, row.period, descriptionX, inner + 1, PERIOD) + 1;
  row.tiers.forEach((tier, i) => {
    if (inner + heights.tiers[i] > BODY_BOTTOM) {
      inner = tableHeader(doc, newPage(doc, d), d.currency);
      inner += text(doc, `${row.description} (continued)`, descriptionX, inner, { ...DESCRIPTION, maxLines: 1 }) + 1;
    }
    text(doc, tier.description, descriptionX + 10, inner + 1, TIER);
    text(doc, tier.amount, COLUMNS.amount.x, inner + 1, { size: 7.5, color: MUTED, width: COLUMNS.amount.width - 6, align: 'right' });
    inner += heights.tiers[i];
  });
  const bottom = inner + ROW_PAD.bottom;
  rule(doc, bottom, MARGIN, MARGIN + CONTENT, '#e4e7eb', 0.5);
  return bottom;
}

function newPage(doc: Doc, d: InvoiceDocument): number {
  doc.addPage();
  const y = MARGIN + text(doc, `${d.title} ${d.reference} (continued)`, MARGIN, MARGIN, { font: BOLD, size: 10, color: MUTED }) + 10;
  return y;
}

const SUMMARY = { labelX: MARGIN + CONTENT * 0.4, labelWidth: CONTENT * 0.6 - 110, amountWidth: 104 };

/** Lays the totals and the note out from `top`, drawing them when `draw`; returns the bottom (so a dry run measures it). */
function summary(doc: Doc, d: InvoiceDocument, top: number, draw: boolean): number {
  let y = top + 8;
  const amountX = MARGIN + CONTENT - SUMMARY.amountWidth - 6;
  for (const s of d.summary) {
    const style = { font: s.strong ? BOLD : REGULAR, size: s.strong ? 10 : 9 } as const;
    if (s.strong) {
      const due = s.label === 'Amount due';
      if (draw) rule(doc, y, SUMMARY.labelX, MARGIN + CONTENT, due ? ACCENT : RULE, due ? 1.2 : 0.6);
      y += 5;
    }
    const label = { ...style, width: SUMMARY.labelWidth, color: s.strong ? INK : MUTED };
    const h = draw ? text(doc, s.label, SUMMARY.labelX, y, label) : heightOf(doc, s.label, label);
    if (draw) text(doc, s.amount, amountX, y, { ...style, width: SUMMARY.amountWidth, align: 'right' });
    y += h + (s.strong ? 5 : 3.5);
  }
  y += 10;
  const note = { size: 9, color: INK, width: CONTENT };
  return y + (draw ? text(doc, d.note, MARGIN, y, note) : heightOf(doc, d.note, note));
}

function footers(doc: Doc, d: InvoiceDocument): void {
  const { start, count } = doc.bufferedPageRange();
  for (let i = start; i < start + count; i += 1) {
    doc.switchToPage(i);
    const y = PAGE.height - MARGIN + 4;
    rule(doc, y - 6);
    const left = [d.sellerName, `${d.title} ${d.reference}`].filter(Boolean).join('  ·  ');
    text(doc, left, MARGIN, y, { size: 7.5, color: MUTED, width: CONTENT * 0.75 });
    text(doc, `Page ${i - start + 1} of ${count}`, MARGIN, y, { size: 7.5, color: MUTED, width: CONTENT, align: 'right' });
  }
}

/** The PDF's bytes. */
export function renderInvoicePdf(d: InvoiceDocument): Promise<Buffer> {
  const doc = new PDFDocument({
    size: 'A4',
    // No bottom margin for pdfkit: pages break where BODY_BOTTOM says, never by pdfkit on its own
    // (it would open a page for the footer, drawn below the body).
    margins: { top: MARGIN, left: MARGIN, right: MARGIN, bottom: 0 },
    compress: true,
    bufferPages: true,
    // Both dates are written, so pdfkit takes nothing from the clock; the file ID is a hash of these.
    info: {
      Title: winAnsi(`${d.title} ${d.reference}`),
      Author: winAnsi(d.sellerName ?? ''),
      Subject: winAnsi(`${d.title} ${d.reference}`),
      Producer: 'Perennial',
      Creator: 'Perennial',
      CreationDate: d.createdAt,
      ModDate: d.modifiedAt,
    },
  });
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  let y = header(doc, d);
  rule(doc, y - 10, MARGIN, MARGIN + CONTENT, ACCENT, 1.2);
  y = parties(doc, d, y);
  y = tableHeader(doc, y, d.currency);
  const totals = summary(doc, d, 0, false);
  // Where the rows of a continued page start: a row taller than a page from there is split between its tiers.
  const pageRoom = BODY_BOTTOM - (MARGIN + 56);
  d.rows.forEach((row, i) => {
    const heights = measureRow(doc, row);
    // The last line goes over with the totals rather than leave them alone on a page.
    const last = i === d.rows.length - 1 && i > 0;
    const fitsHere = y + heights.total + (last ? totals : 0) <= BODY_BOTTOM;
    const headFitsHere = y + ROW_PAD.top + heights.head + (heights.tiers[0] ?? 0) <= BODY_BOTTOM;
    if (!fitsHere && (heights.total <= pageRoom || !headFitsHere)) y = tableHeader(doc, newPage(doc, d), d.currency);
    y = drawRow(doc, d, row, heights, y);
  });
  if (y + totals > BODY_BOTTOM) y = newPage(doc, d);
  summary(doc, d, y, true);
  footers(doc, d);
  doc.end();
  return done;
}

/**
 * The PDF of an invoice by its id (a 404 BillingError when there is none), for the API, the console
 * and the portal alike; the portal checks the invoice is its customer's before calling this.
 */
export async function invoicePdf(em: EntityManager, invoiceId: string, seller: Seller = NO_SELLER): Promise<{ fileName: string; bytes: Buffer }> {
  const { invoice, lines } = await invoiceWithLines(em, invoiceId);
  const customer = await em.findOneOrFail(Customer, { id: invoice.customerId });
  const document = invoiceDocument({ invoice, lines, buyer: { name: customer.name, email: customer.email, timezone: customer.timezone }, seller });
  return { fileName: document.fileName, bytes: await renderInvoicePdf(document) };
}
