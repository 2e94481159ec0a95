import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import Decimal from 'decimal.js';
import PDFDocument from 'pdfkit';
import { invoiceDocument, type DocumentInvoice, type DocumentLine, type DocumentTier, type InvoiceDocument, type Seller } from '../domain/invoice-document';
import { renderInvoicePdf } from '../services/invoice-pdf';

/**
 * `npm run bench:pdf`: 1,000 PDFs of a realistic invoice (10 lines, three of them graduated with
 * their tiers, a discount, two tax rates, credit and a part payment), from the stored invoice to the
 * bytes, in one process. Beside it, the ceiling that bounds it, measured in the same run: the same
 * pdfkit drawing calls (every text run, rule and fill the renderer made, recorded once) replayed on
 * a new document, so the difference is our own work (wording, amounts, measuring text, page breaks).
 */

const COUNT = 1000;
const WARM_UP = 50;
const ROUND = 50;

const SELLER: Seller = { name: 'Perennial Software Ltd', addressLines: ['12 Harbour Street', 'Bristol BS1 4QA', 'United Kingdom'], taxId: 'GB 123 4567 89', email: 'billing@perennial.example' };
const BUYER = { name: 'Acme Robotics GmbH', email: 'ap@acme.example', timezone: 'Europe/Berlin' };

const tiers = (scale: number): DocumentTier[] => [
  { from: '0', up_to: String(1000 * scale), units: String(1000 * scale), unit_amount: '0', flat_amount: '0', amount: '0' },
  { from: String(1000 * scale), up_to: String(10000 * scale), units: String(9000 * scale), unit_amount: '0.002', flat_amount: '0', amount: String(18 * scale) },
  { from: String(10000 * scale), up_to: null, units: '2500', unit_amount: '0.0015', flat_amount: '5', amount: '8.75' },
];

function realisticInvoice(): { invoice: DocumentInvoice; lines: DocumentLine[] } {
  const period = { periodStart: new Date('2026-11-01T00:00:00Z'), periodEnd: new Date('2026-12-01T00:00:00Z') };
  const arrears = { periodStart: new Date('2026-10-01T00:00:00Z'), periodEnd: new Date('2026-11-01T00:00:00Z') };
  const line = (position: number, description: string, quantity: string, unit: string | null, amount: string, extra: Partial<DocumentLine> = {}): DocumentLine => ({
    position,
    description,
    quantity: new Decimal(quantity),
    unitAmount: unit === null ? null : new Decimal(unit),
    amount: new Decimal(amount),
    ...period,
    ...extra,
  });
  const lines = [
    line(0, 'Scale plan', '1', '1200.00', '1200.00'),
    line(1, 'Extra seats × 12', '12', '25.00', '300.00'),
    line(2, 'API calls (graduated)', '12500', null, '26.75', { ...arrears, tiers: tiers(1) }),
    line(3, 'Webhook deliveries (graduated)', '22500', null, '44.75', { ...arrears, tiers: tiers(2) }),
    line(4, 'Storage GB-months (graduated)', '32500', null, '62.75', { ...arrears, tiers: tiers(3) }),
    line(5, 'Priority support', '1', '250.00', '250.00'),
    line(6, 'SSO add-on', '1', '99.00', '99.00'),
    line(7, 'Data export add-on', '1', '49.00', '49.00'),
    line(8, 'Onboarding workshop (one-off)', '2', '450.00', '900.00'),
    line(9, 'Unused time on Growth plan from 2026-11-01 to 2026-11-15', '1', null, '-140.00'),
  ];
  // 2,792.25 subtotal; 10% off 279.23 → 2,513.02; VAT 20% on 2,012.70 = 402.54, 8% on 500.32 = 40.03.
  const invoice: DocumentInvoice = {
    id: 'in_bench',
    number: 'INV-004242',
    status: 'open',
    currency: 'EUR',
    subtotal: new Decimal('2792.25'),
    discountTotal: new Decimal('279.23'),
    taxTotal: new Decimal('442.57'),
    total: new Decimal('2955.59'),
    creditApplied: new Decimal('100.00'),
    walletApplied: new Decimal('0'),
    amountPaid: new Decimal('500.00'),
    amountDue: new Decimal('2355.59'),
    amountCredited: new Decimal('0'),
    amountRefunded: new Decimal('0'),
    discounts: [{ name: 'Partner 10%', amount: '279.23' }],
    taxes: [
      { name: 'VAT', percentage: '20', inclusive: false, base: '2012.70', amount: '402.54' },
      { name: 'Reduced VAT', percentage: '8', inclusive: false, base: '500.32', amount: '40.03' },
    ],
    ...period,
    issuedAt: new Date('2026-11-01T00:00:05Z'),
    dueAt: new Date('2026-12-01T00:00:05Z'),
    finalizedAt: new Date('2026-11-01T00:00:05Z'),
  };
  return { invoice, lines };
}

type Call = [method: string, args: unknown[]];
const DRAWING = ['addPage', 'switchToPage', 'font', 'fontSize', 'fillColor', 'strokeColor', 'lineWidth', 'text', 'moveTo', 'lineTo', 'stroke', 'rect', 'roundedRect', 'fill'] as const;

/** Every drawing call the renderer makes on its document (not the calls pdfkit makes inside them). */
async function recordDrawing(document: InvoiceDocument): Promise<{ calls: Call[]; options: PDFKit.PDFDocumentOptions }> {
  const prototype = PDFDocument.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = new Map(DRAWING.map((name) => [name, prototype[name]]));
  const calls: Call[] = [];
  let depth = 0;
  for (const name of DRAWING) {
    prototype[name] = function (this: unknown, ...args: unknown[]) {
      if (depth === 0) calls.push([name, args.map((a) => (typeof a === 'object' && a !== null ? { ...a } : a))]);
      depth += 1;
      try {
        return originals.get(name)!.apply(this, args);
      } finally {
        depth -= 1;
      }
    };
  }
  try {
    await renderInvoicePdf(document);
  } finally {
    for (const [name, original] of originals) prototype[name] = original;
  }
  // The constructor sets its font and adds the first page itself: not calls of the renderer's.
  calls.splice(0, calls.findIndex(([method]) => method === 'addPage') + 1);
  const options: PDFKit.PDFDocumentOptions = {
    size: 'A4',
    margins: { top: 50, left: 50, right: 50, bottom: 0 },
    compress: true,
    bufferPages: true,
    info: { Producer: 'Perennial', Creator: 'Perennial', CreationDate: document.createdAt, ModDate: document.modifiedAt },
  };
  return { calls, options };
}

/** The recorded calls on a new document: pdfkit's own cost for the same page. */
function replay(calls: readonly Call[], options: PDFKit.PDFDocumentOptions): Promise<Buffer> {
  const doc = new PDFDocument(options) as unknown as Record<string, (...args: unknown[]) => unknown> & PDFKit.PDFDocument;
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve) => {
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
  });
  for (const [method, args] of calls) doc[method](...args);
  doc.end();
  return done;
}

/**
 * Each variant COUNT times, interleaved in rounds of ROUND so that a busy machine slows them alike
 * and the ratio stays meaningful; returns the seconds each took in all.
 */
async function timed(variants: ReadonlyArray<[label: string, run: () => Promise<unknown>]>): Promise<number[]> {
  for (const [, run] of variants) for (let i = 0; i < WARM_UP; i += 1) await run();
  const totals = variants.map(() => 0);
  for (let done = 0; done < COUNT; done += ROUND) {
    for (const [index, [, run]] of variants.entries()) {
      const start = performance.now();
      for (let i = 0; i < ROUND; i += 1) await run();
      totals[index] += performance.now() - start;
    }
  }
  return variants.map(([label], index) => {
    const seconds = totals[index] / 1000;
    console.log(`${label.padEnd(44)} ${seconds.toFixed(2).padStart(6)} s  ${(COUNT / seconds).toFixed(0).padStart(5)} PDFs/s  ${((seconds / COUNT) * 1000).toFixed(2)} ms each`);
    return seconds;
  });
}

async function main(): Promise<void> {
  const { invoice, lines } = realisticInvoice();
  const document = () => invoiceDocument({ invoice, lines, buyer: BUYER, seller: SELLER });
  const sample = await renderInvoicePdf(document());
  if (process.env.BENCH_PDF_SAMPLE) writeFileSync(process.env.BENCH_PDF_SAMPLE, sample);
  const { calls, options } = await recordDrawing(document());
  const texts = calls.filter(([m]) => m === 'text').length;
  const pages = calls.filter(([m]) => m === 'addPage').length + 1;
  console.log(`invoice: ${lines.length} lines (${lines.filter((l) => l.tiers).length} with tiers), ${invoice.taxes.length} tax rates; PDF ${sample.length} bytes, ${pages} page(s), ${texts} text runs, ${calls.length} drawing calls`);
  console.log(`${COUNT} PDFs each, after ${WARM_UP} to warm up, interleaved in rounds of ${ROUND}, one process (Node ${process.version}):`);

  const [ours, ceiling, , wording] = await timed([
    ['invoiceDocument + renderInvoicePdf', () => renderInvoicePdf(document())],
    ['ceiling: the same pdfkit calls replayed', () => replay(calls, options)],
    ['pdfkit alone: an empty page, both fonts', () => replay([['font', ['Helvetica-Bold']], ['font', ['Helvetica']]], options)],
    ['invoiceDocument alone (wording, amounts)', async () => document()],
  ]);
  console.log(`ours / ceiling: ${(ours / ceiling).toFixed(2)} (the renderer reaches ${((ceiling / ours) * 100).toFixed(0)}% of the ceiling's rate; invoiceDocument is ${((wording / ours) * 100).toFixed(1)}% of our time)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
