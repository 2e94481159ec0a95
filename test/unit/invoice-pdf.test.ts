import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Decimal from 'decimal.js';
import { loadConfig, ConfigError } from '../../config/env';
import { formatMoney, formatPrice, invoiceDocument, NO_SELLER, winAnsi, type DocumentBuyer, type DocumentInvoice, type DocumentLine } from '../../domain/invoice-document';
import { renderInvoicePdf } from '../../services/invoice-pdf';
import { invoiceOf, lineOf, renewal, SELLER } from './invoice-pdf-fixtures';

const BUYER: DocumentBuyer = { name: 'Acme Robotics GmbH', email: 'ap@acme.example', timezone: 'UTC' };
const ROOT = join(__dirname, '..', '..');

const scratch = mkdtempSync(join(tmpdir(), 'invoice-pdf-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let files = 0;
function pdfFile(bytes: Buffer): string {
  const file = join(scratch, `${(files += 1)}.pdf`);
  writeFileSync(file, bytes);
  return file;
}

/** The text poppler reads out of the PDF, columns kept on their lines; `page` limits it to one page. */
function pdfText(bytes: Buffer, page?: number): string {
  const range = page === undefined ? [] : ['-f', String(page), '-l', String(page)];
  return execFileSync('pdftotext', ['-layout', ...range, pdfFile(bytes), '-'], { encoding: 'utf8' });
}

function pageCount(bytes: Buffer): number {
  const info = execFileSync('pdfinfo', [pdfFile(bytes)], { encoding: 'utf8' });
  return Number(/^Pages:\s+(\d+)$/m.exec(info)![1]);
}

/** Each page's words with their boxes (points from the top), as poppler finds them. */
function pageWords(bytes: Buffer): Array<Array<{ text: string; top: number; bottom: number }>> {
  const html = execFileSync('pdftotext', ['-bbox', pdfFile(bytes), '-'], { encoding: 'utf8' });
  return html
    .split('<page ')
    .slice(1)
    .map((page) => [...page.matchAll(/<word xMin="[\d.]+" yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">([^<]*)<\/word>/g)].map((m) => ({ text: m[3], top: Number(m[1]), bottom: Number(m[2]) })));
}

/** The footer's band at the foot of an A4 page: nothing of the body may reach into it. */
const FOOTER_TOP = 841.89 - 50 - 14;

function expectBodyClearOfFooter(bytes: Buffer, footer: string): void {
  const allowed = new Set(footer.split(/\s+/));
  for (const [index, words] of pageWords(bytes).entries()) {
    const intruding = words.filter((w) => w.bottom > FOOTER_TOP && !(w.top > FOOTER_TOP && (allowed.has(w.text) || /^\d+$/.test(w.text))));
    expect({ page: index + 1, intruding }).toEqual({ page: index + 1, intruding: [] });
  }
}

/** Runs of spaces (the layout's columns) read as one. */
const squeezed = (text: string) => text.replace(/[ \t]+/g, ' ');

const render = (invoice: DocumentInvoice, lines: DocumentLine[], buyer: DocumentBuyer = BUYER, seller = SELLER) => renderInvoicePdf(invoiceDocument({ invoice, lines, buyer, seller }));

describe('invoice amounts on paper', () => {
  it("prints each currency with its own decimals, thousands grouped: JPY none, KWD three", () => {
    expect(formatMoney(new Decimal(1200), 'JPY')).toBe('1,200');
    expect(formatMoney(new Decimal('1234567.5'), 'USD')).toBe('1,234,567.50');
    expect(formatMoney(new Decimal('12.5'), 'KWD')).toBe('12.500');
    expect(formatMoney(new Decimal('-0.617'), 'KWD')).toBe('-0.617');
  });

  it('prints a unit price with the decimals it has, never fewer than the currency', () => {
    expect(formatPrice(new Decimal('0.0015'), 'USD')).toBe('0.0015');
    expect(formatPrice(new Decimal('25'), 'USD')).toBe('25.00');
    expect(formatPrice(new Decimal('150000'), 'JPY')).toBe('150,000');
  });

  it('names a draft by DRAFT and its id, and its file by the id', () => {
    const draft = invoiceDocument({ invoice: invoiceOf({ status: 'draft', number: null, finalizedAt: null }), lines: [], buyer: BUYER, seller: SELLER });
    expect({ title: draft.title, reference: draft.reference, fileName: draft.fileName, stamp: draft.stamp }).toEqual({
      title: 'Draft invoice',
      reference: 'DRAFT in_01HZX4W9Q8',
      fileName: 'in_01HZX4W9Q8.pdf',
      stamp: 'DRAFT',
    });
    expect(invoiceDocument({ invoice: invoiceOf(), lines: [], buyer: BUYER, seller: SELLER }).fileName).toBe('INV-000123.pdf');
  });

  it('states the totals as the invoice holds them: discounts, each tax rate on its base, credit, payments, what is due', () => {
    const { invoice, lines } = renewal();
    const summary = invoiceDocument({ invoice, lines, buyer: BUYER, seller: SELLER }).summary.map((r) => [r.label, r.amount]);
    expect(summary).toEqual([
      ['Subtotal', '1,723.25'],
      ['Discount: Launch partner 10%', '-172.33'],
      ['VAT 20% (on 1,240.74)', '248.15'],
      ['Reduced VAT 8% (on 310.18)', '24.81'],
      ['Total', 'USD 1,823.88'],
      ['Customer credit applied', '-100.00'],
      ['Amount paid', '-500.00'],
      ['Amount due', 'USD 1,223.88'],
    ]);
  });

  it("prints dates on the customer's calendar", () => {
    const late = invoiceOf({ issuedAt: new Date('2026-11-30T20:00:00Z'), finalizedAt: new Date('2026-11-30T20:00:00Z') });
    const facts = (timezone: string) => invoiceDocument({ invoice: late, lines: [], buyer: { ...BUYER, timezone }, seller: SELLER }).facts.find((f) => f.label === 'Issue date')!.value;
    expect([facts('UTC'), facts('Asia/Tokyo')]).toEqual(['30 Nov 2026', '1 Dec 2026']);
  });

  it('leaves off what the seller settings do not give', () => {
    const document = invoiceDocument({ invoice: invoiceOf(), lines: [], buyer: BUYER, seller: { ...NO_SELLER, email: 'billing@seller.example' } });
    expect({ name: document.sellerName, lines: document.seller }).toEqual({ name: null, lines: ['billing@seller.example'] });
  });

  it('takes what a void invoice left due off, so nothing is due, and states credit notes, wallet credit and refunds', () => {
    const { invoice, lines } = renewal();
    // Of 1,823.88: credit 100.00, wallet 25.00, a credit note 50.00, 500.00 paid (and refunded), 1,148.88 left when voided.
    const voided = { ...invoice, status: 'void' as const, voidedAt: new Date('2026-11-05T12:00:00Z'), walletApplied: new Decimal('25.00'), amountCredited: new Decimal('50.00'), amountRefunded: new Decimal('500.00'), amountDue: new Decimal('1148.88') };
    const document = invoiceDocument({ invoice: voided, lines, buyer: BUYER, seller: SELLER });
    expect(document.summary.slice(4).map((r) => [r.label, r.amount])).toEqual([
      ['Total', 'USD 1,823.88'],
      ['Customer credit applied', '-100.00'],
      ['Prepaid wallet credit applied', '-25.00'],
      ['Credit notes', '-50.00'],
      ['Amount paid', '-500.00'],
      ['Voided', '-1,148.88'],
      ['Amount due', 'USD 0.00'],
    ]);
    expect({ stamp: document.stamp, note: document.note }).toEqual({
      stamp: 'VOID',
      note: 'This invoice was voided on 5 Nov 2026; nothing is owed on it. USD 500.00 of what was paid has been refunded.',
    });
  });
});

describe('text outside the PDF fonts', () => {
  it('keeps Windows-1252 text, folds accented letters to their base, and prints one "?" per other character', () => {
    expect(winAnsi('Zoë Ångström – Café € “Ltd”')).toBe('Zoë Ångström – Café € “Ltd”');
    expect(winAnsi('Łódź Dvořák')).toBe('?ódz Dvorák');
    expect(winAnsi('山田太郎')).toBe('????');
    expect(winAnsi('Αθήνα')).toBe('?????');
    expect(winAnsi('Rocket 🚀 ❤️ 👨‍👩‍👧')).toBe('Rocket ? ? ???');
    expect(winAnsi('tab\there\nnew\u0000line')).toBe('tab here new line');
    expect(winAnsi('lone \ud800 surrogate')).toBe('lone ? surrogate');
  });

  it.each([
    ['Japanese', '株式会社山田製作所'],
    ['Greek', 'Παπαδόπουλος Α.Ε.'],
    ['emoji', '🚀 Rocket Labs 🧪'],
    ['Arabic, right to left', 'شركة المثال'],
    ['a lone surrogate and control characters', 'Broken \ud83d name\u0007\u001b[31m'],
  ])('renders a customer named in %s, the same bytes each time', async (_what, name) => {
    const { invoice, lines } = renewal();
    const buyer = { ...BUYER, name };
    const first = await render(invoice, lines, buyer);
    expect((await render(invoice, lines, buyer)).equals(first)).toBe(true);
    const text = pdfText(first);
    expect(text).toContain(winAnsi(name).trim().split(' ')[0]);
    expect(text).toContain('INV-000123');
  });
});

describe('invoice PDF', () => {
  it('gives the same bytes for the same invoice, in this process and in another one on another time zone', async () => {
    const { invoice, lines } = renewal();
    const first = await render(invoice, lines);
    const second = await render(invoice, lines);
    expect(second.equals(first)).toBe(true);

    // Another Node process: no module state, font cache or clock of this one is involved.
    const script = join(scratch, 'render-elsewhere.ts');
    writeFileSync(
      script,
      [
        `import { invoiceDocument } from ${JSON.stringify(join(ROOT, 'domain', 'invoice-document'))};`,
        `import { renderInvoicePdf } from ${JSON.stringify(join(ROOT, 'services', 'invoice-pdf'))};`,
        `import { renewal, SELLER } from ${JSON.stringify(join(__dirname, 'invoice-pdf-fixtures'))};`,
        `const { invoice, lines } = renewal();`,
        `void renderInvoicePdf(invoiceDocument({ invoice, lines, buyer: ${JSON.stringify(BUYER)}, seller: SELLER })).then((b) => process.stdout.write(b.toString('base64')));`,
      ].join('\n'),
    );
    const elsewhere = execFileSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env: { ...process.env, TZ: 'Pacific/Kiritimati' }, encoding: 'utf8' });
    expect(Buffer.from(elsewhere, 'base64').equals(first)).toBe(true);
  });

  it("dates the file with the invoice's own dates, not the time it was rendered", async () => {
    const { invoice, lines } = renewal();
    const paid = await render({ ...invoice, status: 'paid', paidAt: new Date('2026-11-20T09:30:00Z') }, lines);
    const raw = paid.toString('latin1');
    // Creation (finalised) and modification (paid): the only dates in the file.
    expect(raw.match(/\(D:\d{14}Z\)/g)).toEqual(['(D:20261101000005Z)', '(D:20261120093000Z)']);
    // A different invoice is a different file: the comparison above can fail.
    expect(paid.equals(await render(invoice, lines))).toBe(false);
  });

  it('prints the number, the parties, each line with its tiers, each tax rate and the totals', async () => {
    const { invoice, lines } = renewal();
    const text = squeezed(pdfText(await render(invoice, lines)));
    for (const expected of [
      'INVOICE',
      'INV-000123',
      'Perennial Software Ltd',
      '12 Harbour Street',
      'Tax ID: GB 123 4567 89',
      'billing@perennial.example',
      'Acme Robotics GmbH',
      'ap@acme.example',
      'Issue date 1 Nov 2026',
      'Due date 1 Dec 2026',
      'Service period 1 Nov 2026 – 1 Dec 2026',
      'Scale plan 1 1,200.00 1,200.00',
      'API calls (graduated) 125,500 223.25',
      '1 Oct 2026 – 1 Nov 2026',
      'Tier 1 (1 – 10,000): 10,000 × 0.00 0.00',
      'Tier 2 (10,001 – 100,000): 90,000 × 0.002 180.00',
      'Tier 3 (above 100,000): 25,500 × 0.0015 + 5.00 flat 43.25',
      'Extra seats × 12 12 25.00 300.00',
      'Subtotal 1,723.25',
      'Discount: Launch partner 10% -172.33',
      'VAT 20% (on 1,240.74) 248.15',
      'Reduced VAT 8% (on 310.18) 24.81',
      'Total USD 1,823.88',
      'Customer credit applied -100.00',
      'Amount paid -500.00',
      'Amount due USD 1,223.88',
      'Please pay USD 1,223.88 by 1 Dec 2026.',
      'Page 1 of 1',
    ]) {
      expect(text).toContain(expected);
    }
  });

  it('prints yen with no decimals', async () => {
    const invoice = invoiceOf({
      currency: 'JPY',
      subtotal: new Decimal(1200),
      taxTotal: new Decimal(120),
      total: new Decimal(1320),
      amountDue: new Decimal(1320),
      taxes: [{ name: 'Consumption tax', percentage: '10', inclusive: false, base: '1200', amount: '120' }],
    });
    const text = squeezed(pdfText(await render(invoice, [lineOf(0, { description: 'Starter plan', unitAmount: new Decimal(1200), amount: new Decimal(1200) })])));
    expect(text).toContain('Starter plan 1 1,200 1,200');
    expect(text).toContain('Consumption tax 10% (on 1,200) 120');
    expect(text).toContain('Total JPY 1,320');
    expect(text).toContain('Amount due JPY 1,320');
    expect(text).not.toMatch(/1,[23]\d\d\.\d/);
  });

  it('prints dinars with three decimals', async () => {
    const invoice = invoiceOf({
      currency: 'KWD',
      subtotal: new Decimal('12.345'),
      taxTotal: new Decimal('0.617'),
      total: new Decimal('12.962'),
      walletApplied: new Decimal('2.000'),
      amountDue: new Decimal('10.962'),
      taxes: [{ name: 'VAT', percentage: '5', inclusive: false, base: '12.345', amount: '0.617' }],
    });
    const text = squeezed(pdfText(await render(invoice, [lineOf(0, { description: 'Support hours', quantity: new Decimal('2.5'), unitAmount: new Decimal('4.938'), amount: new Decimal('12.345') })])));
    expect(text).toContain('Support hours 2.5 4.938 12.345');
    expect(text).toContain('VAT 5% (on 12.345) 0.617');
    expect(text).toContain('Total KWD 12.962');
    expect(text).toContain('Prepaid wallet credit applied -2.000');
    expect(text).toContain('Amount due KWD 10.962');
  });

  it('continues a long invoice over pages, each numbered, every line printed once and the totals on the last', async () => {
    const lines = Array.from({ length: 80 }, (_, i) =>
      lineOf(i, { description: `Consulting day ${i + 1}: integration workshop on site, with travel and a description long enough to wrap`, amount: new Decimal('150.00'), unitAmount: new Decimal('150.00') }),
    );
    const invoice = invoiceOf({ subtotal: new Decimal('12000.00'), total: new Decimal('12000.00'), amountDue: new Decimal('12000.00') });
    const bytes = await render(invoice, lines);
    const pages = pageCount(bytes);
    expect(pages).toBeGreaterThanOrEqual(3);
    const perPage = Array.from({ length: pages }, (_, i) => squeezed(pdfText(bytes, i + 1)));
    perPage.forEach((text, i) => {
      expect(text).toContain(`Page ${i + 1} of ${pages}`);
      expect(text).toContain('AMOUNT (USD)');
      if (i > 0) expect(text).toContain('Invoice INV-000123 (continued)');
    });
    const all = perPage.join('\n');
    for (let day = 1; day <= 80; day += 1) expect(all.match(new RegExp(`Consulting day ${day}:`, 'g'))).toHaveLength(1);
    expect(perPage[pages - 1]).toContain('Total USD 12,000.00');
    expect(perPage[pages - 1]).toContain('Amount due USD 12,000.00');
    expectBodyClearOfFooter(bytes, 'Perennial Software Ltd · Invoice INV-000123 Page of');
  });

  it('splits a line taller than a page between its tiers, and cuts runaway text short, never drawing over the footer', async () => {
    const tiers = Array.from({ length: 120 }, (_, i) => ({ from: String(i * 10), up_to: String(i * 10 + 10), units: '10', unit_amount: '0.01', flat_amount: '0', amount: '0.1' }));
    const lines = [
      lineOf(0, { description: `Runaway ${'x'.repeat(3000)}`, unitAmount: null, quantity: new Decimal(1200), amount: new Decimal('12.00'), tiers }),
      lineOf(1, { description: 'After the tiers' }),
    ];
    const buyer = { name: 'A'.repeat(2000), email: `${'e'.repeat(300)}@example.test`, timezone: 'UTC' };
    const bytes = await render(invoiceOf({ subtotal: new Decimal('22.00'), total: new Decimal('22.00'), amountDue: new Decimal('22.00') }), lines, buyer);
    const pages = pageCount(bytes);
    expect(pages).toBeGreaterThanOrEqual(3);
    const text = squeezed(pdfText(bytes));
    for (let tier = 1; tier <= 120; tier += 1) expect(text.match(new RegExp(`Tier ${tier} \\(`, 'g'))).toHaveLength(1);
    expect(text).toContain('After the tiers 1 10.00 10.00');
    expect(text).toContain('Amount due USD 22.00');
    expect(text.match(/x{50}/g)!.length).toBeLessThan(30);
    expectBodyClearOfFooter(bytes, 'Perennial Software Ltd · Invoice INV-000123 Page of');
  });

  it('renders without any seller setting', async () => {
    const { invoice, lines } = renewal();
    const text = squeezed(pdfText(await render(invoice, lines, BUYER, NO_SELLER)));
    expect(text).toContain('INV-000123');
    expect(text).toContain('Amount due USD 1,223.88');
    expect(text).not.toContain('Tax ID');
  });
});

describe('seller settings', () => {
  const BASE = { DATABASE_URL: 'postgres://app@localhost/perennial' };
  const problems = (env: Record<string, string>) => {
    try {
      loadConfig({ ...BASE, ...env });
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  it('reads the address lines separated by "|" or a literal \\n', () => {
    const seller = loadConfig({ ...BASE, SELLER_NAME: 'Perennial Ltd', SELLER_ADDRESS: '12 Harbour Street| Bristol BS1 4QA\\nUnited Kingdom', SELLER_TAX_ID: 'GB123', SELLER_EMAIL: 'billing@perennial.example' }).seller;
    expect(seller).toEqual({ name: 'Perennial Ltd', addressLines: ['12 Harbour Street', 'Bristol BS1 4QA', 'United Kingdom'], taxId: 'GB123', email: 'billing@perennial.example' });
    expect(loadConfig(BASE).seller).toEqual(NO_SELLER);
  });

  it('refuses an e-mail that is not one, and text the PDF fonts cannot print', () => {
    expect(problems({ SELLER_EMAIL: 'billing' })).toEqual(['SELLER_EMAIL is not an e-mail address: "billing"']);
    expect(problems({ SELLER_NAME: '山田商事' })).toEqual([expect.stringMatching(/^SELLER_NAME has characters the invoice PDF's fonts cannot print/)]);
    expect(problems({ SELLER_ADDRESS: 'a|b|c|d|e|f|g' })).toEqual([expect.stringMatching(/^SELLER_ADDRESS has 7 lines/)]);
  });
});
