import type { Browser, Page } from 'playwright-core';
import { KEYS, startStack, waitForInvoices, type Stack } from './harness';
import { launchBrowser, newPage, screenshot, signIn } from '../support/browser';

/**
 * The console's customer screens in Chromium: support finds a customer by e-mail or by their own
 * system's id, reads what they have, owe and went through, and creates one; the API's refusal of a
 * bad e-mail appears next to the e-mail field; a readonly key sees no action.
 */
describe('console customers', () => {
  let stack: Stack;
  let browser: Browser;
  let northwind: { id: string; name: string };
  let subscriptionId: string;
  let workshopNumber: string;

  async function customer(name: string, email: string, currency: string, externalId: string, extra: Record<string, unknown> = {}) {
    const res = await stack.admin.post('/v1/customers', { name, email, currency, external_id: externalId, ...extra });
    expect(res.status).toBe(201);
    return res.body as { id: string; name: string };
  }

  beforeAll(async () => {
    stack = await startStack('console-customers');
    browser = await launchBrowser();

    expect((await stack.admin.post('/v1/metrics', { code: 'api_calls', name: 'API calls', aggregation: 'count' })).status).toBe(201);
    const plan = await stack.admin.post('/v1/plans', {
      code: 'growth',
      name: 'Growth',
      currency: 'USD',
      interval: 'month',
      amount: '249.00',
      charges: [{ metric_code: 'api_calls', model: 'standard', properties: { unit_amount: '0.002' } }],
    });
    expect(plan.status).toBe(201);

    // A customer list as a support team sees it: several currencies, external ids from a CRM.
    await customer('Initech LLC', `ap@initech.example`, 'USD', `CRM-1001`);
    await customer('Umbrella Health GmbH', `rechnung@umbrella.example`, 'EUR', `CRM-1002`, { timezone: 'Europe/Berlin', net_terms_days: 14 });
    await customer('Kaizen Tools KK', `keiri@kaizen.example`, 'JPY', `CRM-1003`, { timezone: 'Asia/Tokyo' });
    await customer('Globex Corporation', `billing@globex.example`, 'USD', `CRM-1004`, { net_terms_days: 30 });
    await customer('Brightside Dental', `office@brightside.example`, 'GBP', `CRM-1005`);
    northwind = await customer('Northwind Traders', `finance@northwind.example`, 'USD', `CRM-1006`, { net_terms_days: 15 });
    await customer('Hooli XYZ', `payables@hooli.example`, 'USD', `CRM-1007`);

    const sub = await stack.support.post('/v1/subscriptions', { customer_id: northwind.id, plan_code: 'growth' });
    expect(sub.status).toBe(201);
    subscriptionId = sub.body.id;
    await waitForInvoices(stack.admin, subscriptionId, 1);

    // Before the credit note: credit the customer holds is spent on the next invoice issued.
    const seats = await stack.support.post('/v1/invoices', { customer_id: northwind.id, currency: 'USD', lines: [{ description: 'Extra seats', quantity: 5, unit_amount: '39.00' }], collect: false });
    expect(seats.status).toBe(201);
    expect((await stack.support.post(`/v1/invoices/${seats.body.id}/payments`, { amount: '95.00' })).status).toBe(201);
    const workshop = await stack.support.post('/v1/invoices', {
      customer_id: northwind.id,
      currency: 'USD',
      lines: [{ description: 'Onboarding workshop (2 days)', unit_amount: '1200.00' }],
      collect: false,
    });
    expect(workshop.status).toBe(201);
    workshopNumber = workshop.body.number;
    expect((await stack.support.post(`/v1/invoices/${workshop.body.id}/payments`, { amount: '1200.00', reference: 'SEPA 2026-11-14' })).status).toBe(201);
    expect((await stack.support.post(`/v1/invoices/${workshop.body.id}/credit_notes`, { amount: '150.00', reason: 'Half day cancelled' })).status).toBe(201);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  const rowNames = (page: Page) => page.locator('table.customers tbody tr td:first-child strong').allTextContents();

  it('support finds a customer by e-mail and by external id, and reads their subscriptions, invoices and timeline', async () => {
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.support);
    await page.goto(`${stack.baseUrl}/console/customers`);
    expect((await rowNames(page)).slice(0, 7)).toEqual(['Hooli XYZ', 'Northwind Traders', 'Brightside Dental', 'Globex Corporation', 'Kaizen Tools KK', 'Umbrella Health GmbH', 'Initech LLC']);
    await screenshot(page, 'console-customers');

    await page.fill('input[name=q]', `FINANCE@northwind`);
    await Promise.all([page.waitForURL(/q=/), page.click('form.search button[type=submit]')]);
    expect(await rowNames(page)).toEqual(['Northwind Traders']);

    await page.fill('input[name=q]', `CRM-1004`);
    await Promise.all([page.waitForURL(/q=CRM/), page.click('form.search button[type=submit]')]);
    expect(await rowNames(page)).toEqual(['Globex Corporation']);

    await page.fill('input[name=q]', `CRM-1006`);
    await Promise.all([page.waitForURL(/1006/), page.click('form.search button[type=submit]')]);
    await Promise.all([page.waitForURL(/\/console\/customers\/cus_/), page.click('text=Northwind Traders')]);
    expect(await page.textContent('h1')).toBe('Northwind Traders');

    const subscriptions = page.locator('#subscriptions tbody tr');
    expect(await subscriptions.count()).toBe(1);
    expect(await subscriptions.first().innerText()).toMatch(/^Growth growth v1\b/);
    expect(await subscriptions.first().locator('a').getAttribute('href')).toBe(`/console/subscriptions/${subscriptionId}`);

    const invoices = await page.locator('#invoices tbody tr').allInnerTexts();
    expect(invoices).toHaveLength(3);
    expect(invoices.find((r) => r.includes(workshopNumber))).toMatch(/paid\s+USD 1,200\.00\s+USD 0\.00/);
    expect(invoices.find((r) => r.includes('partially') || r.includes('USD 195.00'))).toMatch(/open\s+USD 195\.00\s+USD 100\.00/);

    expect(await page.locator('.stat').first().innerText()).toMatch(/Amount due\s+USD 349\.00\s+2 open invoices/i);
    expect(await page.locator('.stat').nth(1).innerText()).toContain('USD 150.00');

    const timeline = await page.locator('#timeline li').allInnerTexts();
    expect(timeline.at(-1)).toContain('Customer Northwind Traders created, billed in USD');
    expect(timeline.join('\n')).toContain(`Payment of USD 1,200.00 received on Invoice ${workshopNumber} (recorded by hand)`);
    expect(timeline.join('\n')).toContain(`Subscribed to Growth (growth v1) at USD 249.00 per period`);
    expect(timeline.slice(0, 2).join('\n')).toContain(`Credit note`);
    expect(timeline.join('\n')).toContain('Payment of USD 95.00 received');

    // Actions are there for support.
    expect(await page.locator('#customer-actions summary').allTextContents()).toEqual(['Edit details', 'Grant credit', 'Portal link']);
    await screenshot(page, 'console-customer');
    await page.context().close();
  });

  it("shows the API's refusal of a bad e-mail next to the e-mail field, then creates the customer", async () => {
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.support);
    await page.goto(`${stack.baseUrl}/console/customers`);
    await page.click('#new-customer summary');
    await page.fill('#new-customer input[name=name]', 'Pied Piper Inc');
    await page.fill('#new-customer input[name=email]', 'richard-at-piedpiper');
    await page.fill('#new-customer input[name=currency]', 'usd');
    await page.fill('#new-customer input[name=external_id]', `CRM-2001`);
    await page.click('#new-customer button[type=submit]');

    const refused = page.locator('#new-customer .field-refused');
    expect(await refused.count()).toBe(1);
    expect(await refused.locator('input').getAttribute('name')).toBe('email');
    expect(await refused.locator('.refusal').textContent()).toMatch(/^Invalid email: /);
    // What was typed is kept.
    expect(await page.inputValue('#new-customer input[name=name]')).toBe('Pied Piper Inc');
    expect((await stack.admin.get(`/v1/customers?external_id=CRM-2001`)).body.data).toEqual([]);

    await page.fill('#new-customer input[name=email]', 'richard@piedpiper.example');
    await Promise.all([page.waitForURL(/\/console\/customers\/cus_/), page.click('#new-customer button[type=submit]')]);
    expect(await page.textContent('h1')).toBe('Pied Piper Inc');
    expect(await page.textContent('.banner-done')).toBe('Customer Pied Piper Inc created.');
    const [created] = (await stack.admin.get(`/v1/customers?external_id=CRM-2001`)).body.data;
    expect(created).toMatchObject({ name: 'Pied Piper Inc', email: 'richard@piedpiper.example', currency: 'USD' });

    // Edit refused next to its field, then saved; credit granted lands in a wallet.
    await page.click('#customer-actions summary:text("Edit details")');
    await page.fill('#customer-actions input[name=net_terms_days]', '-3');
    await page.click('#customer-actions form[action$="/edit"] button[type=submit]');
    expect(await page.locator('#customer-actions .field-refused input').getAttribute('name')).toBe('net_terms_days');
    await page.fill('#customer-actions input[name=net_terms_days]', '30');
    await Promise.all([page.waitForURL(/\/console\/customers\/cus_[^/]*$/), page.click('#customer-actions form[action$="/edit"] button[type=submit]')]);
    expect(await page.textContent('.banner-done')).toBe('Details of Pied Piper Inc saved.');
    expect((await stack.admin.get(`/v1/customers/${created.id}`)).body.net_terms_days).toBe(30);

    await page.click('#customer-actions summary:text("Grant credit")');
    await page.fill('#customer-actions input[name=granted_credits]', '25.50');
    await Promise.all([page.waitForURL(/\/console\/customers\/cus_[^/]*$/), page.click('#customer-actions form[action$="/credit"] button[type=submit]')]);
    expect(await page.textContent('.banner-done')).toBe('USD 25.50 of credit granted to Pied Piper Inc.');
    const wallets = (await stack.admin.get(`/v1/wallets?customer_id=${created.id}`)).body.data;
    expect(wallets.map((w: { balance: string; granted_balance: string }) => [w.balance, w.granted_balance])).toEqual([['25.50', '25.50']]);
    expect(await page.locator('#wallets').innerText()).toContain('USD 25.50');
    await page.context().close();
  });

  it('readonly sees the customer and no action form', async () => {
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.readonly);
    await page.goto(`${stack.baseUrl}/console/customers`);
    expect(await page.locator('#new-customer').count()).toBe(0);
    await page.goto(`${stack.baseUrl}/console/customers/${northwind.id}`);
    expect(await page.textContent('h1')).toBe('Northwind Traders');
    expect(await page.locator('#timeline li').count()).toBeGreaterThan(5);
    expect(await page.locator('#customer-actions').count()).toBe(0);
    // The only form left is signing out.
    expect(await page.locator('main form[method=post]').count()).toBe(0);
    await page.context().close();
  });

  it('pages through the customers with Next and Previous', async () => {
    for (let i = 1; i <= 14; i++) await customer(`Bulk Customer ${String(i).padStart(2, '0')}`, `bulk${i}@example.test`, 'USD', `BULK-${i}`);
    const all = (await stack.admin.get('/v1/customers?limit=100')).body.data.map((c: { name: string }) => c.name);
    expect(all.length).toBeGreaterThan(20);

    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.readonly);
    await page.goto(`${stack.baseUrl}/console/customers`);
    expect(await rowNames(page)).toEqual(all.slice(0, 20));
    expect(await page.locator('.pager a[rel=prev]').count()).toBe(0);
    await Promise.all([page.waitForURL(/starting_after=/), page.click('.pager a[rel=next]')]);
    expect(await rowNames(page)).toEqual(all.slice(20, 40));
    expect(await page.locator('.pager a[rel=next]').count()).toBe(all.length > 40 ? 1 : 0);
    await Promise.all([page.waitForURL(/ending_before=/), page.click('.pager a[rel=prev]')]);
    expect(await rowNames(page)).toEqual(all.slice(0, 20));
    expect(await page.locator('.pager a[rel=prev]').count()).toBe(0);
    await page.context().close();
  });
});
