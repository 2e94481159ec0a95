import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { KEYS, startStack, waitForInvoices, type Stack } from './harness';
import { launchBrowser, newPage, screenshot, signIn } from '../support/browser';
import { seedCatalog, subscribe, type Seeded } from './console-seed';

/**
 * Invoices in Chromium: the list and its status filter, one invoice with its totals, a payment
 * recorded then partly refunded, a refusal next to its field, the card attempts and collection
 * state read from GET /v1/invoices/:id/collection, and a readonly key that sees no actions.
 */
describe('console: invoices', () => {
  let stack: Stack;
  let browser: Browser;
  let seeded: Seeded;
  let invoice: any;

  beforeAll(async () => {
    stack = await startStack('console-invoice');
    browser = await launchBrowser();
    seeded = await seedCatalog(stack.admin);
    const plans = [seeded.plans.growth, seeded.plans.starter, seeded.plans.team, seeded.plans.starter, seeded.plans.growth];
    const subscriptions: string[] = [];
    for (const [i, c] of seeded.customers.entries()) subscriptions.push(await subscribe(stack.admin, c.id, plans[i], 5 + i * 9, i === 2 ? 12 : undefined));
    for (const id of subscriptions) await waitForInvoices(stack.admin, id, 1);
    // Globex's 12 seats of the Team plan: 5 at 20.00 and 7 at 15.00.
    [invoice] = await waitForInvoices(stack.admin, subscriptions[2], 1);
    // One paid by hand, so the list shows more than one status.
    const [paid] = await waitForInvoices(stack.admin, subscriptions[3], 1);
    expect((await stack.admin.post(`/v1/invoices/${paid.id}/payments`, { amount: paid.amount_due, reference: 'WIRE-5521' })).status).toBe(201);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  const openInvoice = (page: Page) => page.goto(`${stack.baseUrl}/console/invoices/${invoice.id}`);
  const submit = async (page: Page, action: string) =>
    Promise.all([page.waitForURL(new RegExp(`/console/invoices/${invoice.id}$`)), page.click(`details[data-action=${action}] button[type=submit]`)]);

  it('lists invoices with their customers and filters them by status', async () => {
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.support);
    await page.goto(`${stack.baseUrl}/console/invoices`);
    const rows = await page.locator('#invoice-list tbody tr').allInnerTexts();
    expect(rows).toHaveLength(7); // the two subscriptions older than a month have renewed once
    expect(rows.join('\n')).toContain('Northwind Traders');
    await screenshot(page, 'console-invoices');
    await page.selectOption('select[name=status]', 'paid');
    await Promise.all([page.waitForURL(/status=paid/), page.click('form.filters button')]);
    const paid = await page.locator('#invoice-list tbody tr').allInnerTexts();
    expect(paid).toHaveLength(1);
    expect(paid[0]).toContain('Initech Software');

    // Pages of three, newest first: forward to the last page and back again.
    await page.goto(`${stack.baseUrl}/console/invoices?limit=3`);
    const go = async (label: 'Older' | 'Newer') => {
      const from = page.url();
      await Promise.all([page.waitForURL((url) => url.toString() !== from), page.click(`.pager a:has-text("${label}")`)]);
    };
    const numbers = async () => (await page.locator('#invoice-list tbody tr td:first-child').allInnerTexts()).map((t) => t.trim());
    const first = await numbers();
    await go('Older');
    const second = await numbers();
    await go('Older');
    const third = await numbers();
    expect([first.length, second.length, third.length]).toEqual([3, 3, 1]);
    expect(new Set([...first, ...second, ...third]).size).toBe(7);
    expect(await page.locator('.pager a:has-text("Older")').count()).toBe(0);
    await go('Newer');
    expect(await numbers()).toEqual(second);
    await go('Newer');
    expect(await numbers()).toEqual(first);
    expect(await page.locator('.pager a:has-text("Newer")').count()).toBe(0);
    await page.context().close();
  });

  it('records a payment, refunds part of it, and shows the refund and the amounts after it', async () => {
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.support);
    await openInvoice(page);
    expect(await page.textContent('h1')).toBe(`Invoice ${invoice.number}`);
    expect(await page.textContent('#amount-due')).toBe('USD 246.00'); // 205.00 + 20% VAT
    expect(await page.locator('#lines table.totals').innerText()).toMatch(/VAT 20%.*USD 41\.00/);
    expect(await page.locator('#lines tr.tier').allInnerTexts()).toEqual([
      expect.stringMatching(/up to 5\t5\tUSD 20\.00\tUSD 100\.00/),
      expect.stringMatching(/over 5 up to 20\t7\tUSD 15\.00\tUSD 105\.00/),
    ]);

    // A refusal of the API, next to the field it names.
    await page.click('details[data-action=payments] summary');
    await page.fill('details[data-action=payments] input[name=amount]', '12.345.6');
    await page.click('details[data-action=payments] button[type=submit]');
    const refused = page.locator('details[data-action=payments][open] .field-refused');
    expect(await refused.locator('label').innerText()).toBe('Amount');
    expect(await refused.locator('.refusal').innerText()).toMatch(/decimal string/);

    await page.fill('details[data-action=payments] input[name=amount]', '246.00');
    await page.fill('details[data-action=payments] input[name=reference]', 'WIRE-2026-1187');
    await submit(page, 'payments');
    expect(await page.textContent('.banner-done')).toBe('Payment of USD 246.00 recorded.');
    expect(await page.locator('.page-head .badge').first().innerText()).toBe('paid');
    expect(await page.locator('#payments tbody tr').allInnerTexts()).toEqual([expect.stringMatching(/By hand\tWIRE-2026-1187\tUSD 246\.00/)]);

    await page.click('details[data-action=refunds] summary');
    await page.fill('details[data-action=refunds] input[name=amount]', '40.00');
    await page.fill('details[data-action=refunds] input[name=reason]', 'Seats removed mid-period');
    await submit(page, 'refunds');
    expect(await page.textContent('.banner-done')).toBe('Refund of USD 40.00 made.');
    expect(await page.locator('#refunds tbody tr').allInnerTexts()).toEqual([expect.stringMatching(/By hand\tSeats removed mid-period\tUSD 40\.00/)]);
    expect(await page.locator('#lines table.totals').innerText()).toMatch(/Refunded\s+USD 40\.00/);
    const after = (await stack.support.get(`/v1/invoices/${invoice.id}`)).body;
    expect({ paid: after.amount_paid, refunded: after.amount_refunded, status: after.status }).toEqual({ paid: '246.00', refunded: '40.00', status: 'paid' });
    await screenshot(page, 'console-invoice');
    await page.context().close();
  });

  it('downloads the invoice PDF the API renders, the same bytes', async () => {
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.readonly);
    await openInvoice(page);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#pdf')]);
    expect(download.suggestedFilename()).toBe(`${invoice.number}.pdf`);
    const bytes = await readFile((await download.path())!);
    const fromApi = Buffer.from(await (await fetch(`${stack.baseUrl}/v1/invoices/${invoice.id}/pdf`, { headers: { authorization: `Bearer ${KEYS.readonly}` } })).arrayBuffer());
    expect(bytes.subarray(0, 5).toString()).toBe('%PDF-');
    expect(bytes.equals(fromApi)).toBe(true);

    const missing = await page.request.get(`${stack.baseUrl}/console/invoices/in_missing/pdf`);
    expect(missing.status()).toBe(404);
    expect(await missing.text()).toContain('No such invoice: &#39;in_missing&#39;');
    await page.context().close();
  });

  it('reads card attempts with their decline codes and the collection state', async () => {
    const [open] = (await stack.support.get(`/v1/invoices?status=open&customer_id=${seeded.customers[1].id}`)).body.data;
    // As the charge activity records a declined attempt (the card stack's Stripe is not part of this suite).
    await stack.db.orm.em
      .fork()
      .execute(
        `insert into payment_attempts (id, invoice_id, attempt, idempotency_key, amount, currency, status, failure_code, decline_code, failure_message, hard_decline)
         values ('pa_console_1', ?, 1, ?, ?, 'USD', 'failed', 'card_declined', 'insufficient_funds', 'Your card has insufficient funds.', false)`,
        [open.id, `invoice-${open.id}-attempt-1`, open.amount_due],
      );
    const res = await stack.readonly.get(`/v1/invoices/${open.id}/collection`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      object: 'invoice_collection',
      invoice_id: open.id,
      invoice_status: 'open',
      subscription_status: 'active',
      attempts: [{ attempt: 1, amount: open.amount_due, status: 'failed', failure_code: 'card_declined', decline_code: 'insufficient_funds', hard_decline: false }],
    });
    expect((await stack.readonly.get('/v1/invoices/in_missing/collection')).status).toBe(404);

    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.readonly);
    await page.goto(`${stack.baseUrl}/console/invoices/${open.id}`);
    expect(await page.locator('#attempts tbody tr').allInnerTexts()).toEqual([expect.stringMatching(/^1\t.*\tfailed\tinsufficient_funds\tYour card has insufficient funds\.\tUSD /)]);
    // Readonly: the invoice, and no action.
    expect(await page.locator('main form, main button, details.action').count()).toBe(0);
    expect(await page.locator('#pdf').count()).toBe(1);
    await page.context().close();
  });
});
