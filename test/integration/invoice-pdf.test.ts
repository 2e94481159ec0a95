import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../api/app';
import { usagePool } from '../../api/usage-ingest';
import { loadConfig } from '../../config/env';
import { invoicePdf } from '../../services/invoice-pdf';
import { responseProblem } from '../contract/response-validator';
import { listen } from '../support/http';
import { expectError, KEYS, startStack, unique, type Stack } from './harness';

/**
 * Invoice PDFs over HTTP: a one-off invoice in yen with a tax rate and a part payment, downloaded
 * from GET /v1/invoices/:id/pdf of an API built from SELLER_* settings as api/server.ts builds it,
 * and read back with poppler's pdftotext.
 */
describe('invoice PDF download', () => {
  let stack: Stack;
  let api: { baseUrl: string; close(): Promise<void> };
  let closePool: () => Promise<void>;
  const scratch = mkdtempSync(join(tmpdir(), 'invoice-pdf-http-'));

  const SELLER_ENV = {
    DATABASE_URL: 'postgres://unused@localhost/unused',
    SELLER_NAME: 'Perennial Software Ltd',
    SELLER_ADDRESS: '12 Harbour Street|Bristol BS1 4QA|United Kingdom',
    SELLER_TAX_ID: 'GB 123 4567 89',
    SELLER_EMAIL: 'billing@perennial.example',
  };

  beforeAll(async () => {
    stack = await startStack('invoice-pdf', { worker: false });
    const config = loadConfig({ ...SELLER_ENV, BILLING_API_KEYS: `admin:${KEYS.admin},readonly:${KEYS.readonly}` }, { database: true, apiKeys: true });
    const pool = usagePool(stack.db.url);
    closePool = () => pool.end();
    api = await listen(createApp({ orm: stack.db.orm, temporal: stack.temporal.client, taskQueue: stack.taskQueue, apiKeys: config.apiKeys, usagePool: pool, seller: config.seller }));
  });

  afterAll(async () => {
    await api?.close();
    await closePool?.();
    await stack?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  async function download(path: string, key: string | null = KEYS.readonly) {
    const response = await fetch(`${api.baseUrl}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
    const bytes = Buffer.from(await response.arrayBuffer());
    const type = response.headers.get('content-type');
    const body = type?.startsWith('application/json') ? JSON.parse(bytes.toString('utf8')) : bytes;
    const problem = responseProblem({ method: 'GET', url: `${api.baseUrl}${path}`, status: response.status, contentType: type, body });
    if (problem) throw new Error(`The answer breaks the OpenAPI document: ${problem}`);
    return { status: response.status, headers: response.headers, bytes, body };
  }

  let files = 0;
  function pdfText(bytes: Buffer): string {
    const file = join(scratch, `${(files += 1)}.pdf`);
    writeFileSync(file, bytes);
    return execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' }).replace(/[ \t]+/g, ' ');
  }

  it("downloads an invoice with its number, lines, tax, totals and what is still due, in yen's whole units", async () => {
    const vat = unique('ct');
    expect((await stack.admin.post('/v1/tax_rates', { code: vat, name: 'Consumption tax', percentage: '10', inclusive: false })).status).toBe(201);
    const customer = await stack.admin.post('/v1/customers', { name: 'Yamada Trading', email: 'ap@yamada.example', currency: 'JPY' });
    expect(customer.status).toBe(201);
    expect((await stack.admin.post(`/v1/customers/${customer.body.id}/tax_rates`, { tax_rates: [vat] })).status).toBe(200);
    const created = await stack.admin.post('/v1/invoices', {
      customer_id: customer.body.id,
      currency: 'JPY',
      lines: [
        { description: 'Onboarding workshop', quantity: '2', unit_amount: '1500' },
        { description: 'Data migration', unit_amount: '800' },
      ],
      collect: false,
    });
    expect(created.status).toBe(201);
    const invoice = created.body;
    // 2 x 1,500 + 800 = 3,800; 10% tax 380; total 4,180; 1,000 paid by hand leaves 3,180.
    expect({ total: invoice.total, tax: invoice.tax_total }).toEqual({ total: '4180', tax: '380' });
    expect((await stack.admin.post(`/v1/invoices/${invoice.id}/payments`, { amount: '1000', reference: 'wire 42' })).status).toBe(201);

    const pdf = await download(`/v1/invoices/${invoice.id}/pdf`);
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(pdf.headers.get('content-disposition')).toBe(`attachment; filename="${invoice.number}.pdf"`);
    expect(pdf.bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');

    const text = pdfText(pdf.bytes);
    for (const expected of [
      'Perennial Software Ltd',
      'Bristol BS1 4QA',
      'Tax ID: GB 123 4567 89',
      'Yamada Trading',
      'ap@yamada.example',
      `Invoice number ${invoice.number}`,
      'Onboarding workshop 2 1,500 3,000',
      'Data migration 1 800 800',
      'Subtotal 3,800',
      'Consumption tax 10% (on 3,800) 380',
      'Total JPY 4,180',
      'Amount paid -1,000',
      'Amount due JPY 3,180',
    ]) {
      expect(text).toContain(expected);
    }

    // The same invoice, the same bytes: over HTTP again, and from the function the console and portal call.
    expect((await download(`/v1/invoices/${invoice.id}/pdf`, KEYS.admin)).bytes.equals(pdf.bytes)).toBe(true);
    const direct = await invoicePdf(stack.db.orm.em.fork(), invoice.id, loadConfig(SELLER_ENV).seller);
    expect({ fileName: direct.fileName, same: direct.bytes.equals(pdf.bytes) }).toEqual({ fileName: `${invoice.number}.pdf`, same: true });
  });

  it('answers 404 in the error envelope for an invoice that does not exist, and 401 without a key', async () => {
    const missing = await download('/v1/invoices/in_does_not_exist/pdf');
    expectError({ status: missing.status, body: missing.body, headers: missing.headers }, 404, { type: 'not_found_error', code: 'resource_missing', param: 'id' });
    expect((await download('/v1/invoices/in_does_not_exist/pdf', null)).status).toBe(401);
  });
});
