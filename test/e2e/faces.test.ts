import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import type { PerennialClient } from '../../client';
import { launchBrowser, newPage, signIn } from '../support/browser';
import { typedClient } from '../support/http';
import { eventually, freeStackPorts, startNpmStart, stopNpmStart, type RunningStack, type StackPorts } from '../support/npm-start';

/**
 * The console and the portal as people use them, on the stack exactly as `npm start` runs it, in
 * Debian's Chromium: support finds a customer, previews and applies an upgrade, schedules a
 * cancellation and refunds a payment; a readonly key finds nothing to press; a customer opens a
 * portal link, downloads a PDF (read back with pdftotext), cancels with a reason, and cannot reach
 * another customer's invoice with their link.
 */
const run = promisify(execFile);
const KEYS = {
  admin: `sk_admin_e2e_${randomBytes(8).toString('hex')}`,
  support: `sk_support_e2e_${randomBytes(8).toString('hex')}`,
  readonly: `sk_readonly_e2e_${randomBytes(8).toString('hex')}`,
};

async function pdfText(path: string): Promise<string> {
  return (await run('pdftotext', ['-layout', path, '-'])).stdout;
}

async function firstInvoice(api: PerennialClient, subscriptionId: string) {
  return eventually('the first invoice', async () => (await api.GET('/v1/invoices', { params: { query: { subscription_id: subscriptionId } } })).data?.data[0]);
}

describe('npm start: the console and the portal in a browser', () => {
  let dataDir: string;
  let ports: StackPorts;
  let stack: RunningStack | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'perennial-e2e-faces-'));
    ports = await freeStackPorts();
  });

  afterAll(async () => {
    await browser?.close();
    if (stack && !stack.hasExited()) await stopNpmStart(stack);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('lets support act, readonly look, and a customer serve themselves, each only where they may', async () => {
    stack = await startNpmStart({
      dataDir,
      ports,
      env: {
        BILLING_API_KEYS: `admin:${KEYS.admin},support:${KEYS.support},readonly:${KEYS.readonly}`,
        SELLER_NAME: 'Perennial Demo Ltd',
        PORTAL_PLAN_CODES: 'basic,premium',
      },
    });
    const base = `http://127.0.0.1:${ports.api}`;
    const api = typedClient(base, KEYS.admin);
    browser = await launchBrowser();

    for (const [code, name, amount] of [['basic', 'Basic', '20.00'], ['premium', 'Premium', '50.00']]) {
      expect((await api.POST('/v1/plans', { body: { code, name, currency: 'USD', interval: 'month', amount } })).response.status).toBe(201);
    }
    const customer = async (name: string, email: string, externalId: string) => (await api.POST('/v1/customers', { body: { name, email, currency: 'USD', external_id: externalId } })).data!;
    const alice = await customer('Alice Anders', 'alice@faces.test', 'CRM-ALICE');
    const bob = await customer('Bob Brandt', 'bob@faces.test', 'CRM-BOB');
    const subscribe = async (customerId: string) => (await api.POST('/v1/subscriptions', { body: { customer_id: customerId, plan_code: 'basic' } })).data!;
    const aliceSubscription = await subscribe(alice.id);
    const bobSubscription = await subscribe(bob.id);
    const aliceInvoice = await firstInvoice(api, aliceSubscription.id);
    const bobInvoice = await firstInvoice(api, bobSubscription.id);
    expect((await api.POST('/v1/invoices/{id}/payments', { params: { path: { id: aliceInvoice.id } }, body: { amount: '20.00', reference: 'WIRE-1' } })).response.status).toBe(201);

    // Support: find Alice by part of her e-mail, open her subscription.
    const support: Page = await newPage(browser);
    await signIn(support, base, KEYS.support);
    await support.goto(`${base}/console/customers`);
    await support.fill('input[name=q]', 'alice@faces');
    await Promise.all([support.waitForURL(/q=/), support.click('form.search button[type=submit]')]);
    await Promise.all([support.waitForURL(new RegExp(`/console/customers/${alice.id}$`)), support.click(`a[href="/console/customers/${alice.id}"]`)]);
    await Promise.all([support.waitForURL(new RegExp(`/console/subscriptions/${aliceSubscription.id}$`)), support.click(`a[href="/console/subscriptions/${aliceSubscription.id}"]`)]);

    // Upgrade now: the preview invoice first, applied only when confirmed.
    await support.click('details[data-action=change_plan] summary');
    await support.selectOption('details[data-action=change_plan] select[name=plan_code]', 'premium');
    await support.selectOption('details[data-action=change_plan] select[name=at]', 'now');
    await support.click('details[data-action=change_plan] button[type=submit]');
    const preview = support.locator('#change-preview');
    expect(await preview.locator('h2').innerText()).toContain('premium');
    expect((await api.GET('/v1/subscriptions/{id}', { params: { path: { id: aliceSubscription.id } } })).data!.plan_code).toBe('basic');
    await Promise.all([support.waitForURL(new RegExp(`/console/subscriptions/${aliceSubscription.id}$`)), preview.locator('button[type=submit]').click()]);
    expect(await support.locator('.stat').first().innerText()).toContain('Premium');
    const afterUpgrade = (await api.GET('/v1/invoices', { params: { query: { subscription_id: aliceSubscription.id } } })).data!.data;
    expect(afterUpgrade).toHaveLength(2);
    expect(await support.locator('#invoices tbody tr').first().innerText()).toContain(afterUpgrade[0].number!);

    // Cancel at period end: scheduled, not done.
    await support.click('details[data-action=cancel] summary');
    await support.selectOption('details[data-action=cancel] select[name=at]', 'period_end');
    await Promise.all([support.waitForURL(new RegExp(`/console/subscriptions/${aliceSubscription.id}$`)), support.click('details[data-action=cancel] button[type=submit]')]);
    expect(await support.locator('#scheduled-changes').innerText()).toMatch(/cancel/i);
    expect((await api.GET('/v1/subscriptions/{id}', { params: { path: { id: aliceSubscription.id } } })).data).toMatchObject({ status: 'active', cancel_at_period_end: true });

    // Refund part of the payment on Alice's first invoice.
    await support.goto(`${base}/console/invoices/${aliceInvoice.id}`);
    await support.click('details[data-action=refunds] summary');
    await support.fill('details[data-action=refunds] input[name=amount]', '5.00');
    await support.fill('details[data-action=refunds] input[name=reason]', 'Goodwill');
    await Promise.all([support.waitForURL(new RegExp(`/console/invoices/${aliceInvoice.id}$`)), support.click('details[data-action=refunds] button[type=submit]')]);
    expect(await support.locator('#refunds tbody tr').allInnerTexts()).toEqual([expect.stringMatching(/Goodwill\tUSD 5\.00/)]);
    expect((await api.GET('/v1/invoices/{id}', { params: { path: { id: aliceInvoice.id } } })).data!.amount_refunded).toBe('5.00');

    // Readonly: the same pages, nothing to press.
    const readonly = await newPage(browser);
    await signIn(readonly, base, KEYS.readonly);
    for (const path of [`/console/customers/${alice.id}`, `/console/subscriptions/${aliceSubscription.id}`, `/console/invoices/${aliceInvoice.id}`]) {
      await readonly.goto(`${base}${path}`);
      expect({ path, actions: await readonly.locator('main form, main button, details.action').count() }).toEqual({ path, actions: 0 });
    }

    // Support makes Bob a portal link on his page (a return address that is not one is refused next to it).
    await support.goto(`${base}/console/customers/${bob.id}`);
    await support.click('details[data-action=portal_link] summary');
    await support.fill('details[data-action=portal_link] input[name=return_url]', 'app.example.test/account');
    await support.click('details[data-action=portal_link] button[type=submit]');
    expect(await support.locator('details[data-action=portal_link] .field-refused .refusal').innerText()).toMatch(/return_url|http/);
    await support.fill('details[data-action=portal_link] input[name=return_url]', 'https://app.example.test/account');
    await support.click('details[data-action=portal_link] button[type=submit]');
    const link = await support.locator('input.portal-link').inputValue();
    expect(link).toMatch(new RegExp(`^http://localhost:${ports.api}/portal/s/`));

    // Bob's portal: his invoice as a PDF, his cancellation with a reason.
    const portal = await newPage(browser);
    await portal.goto(link.replace(`http://localhost:${ports.api}`, base));
    expect(await portal.locator('main').innerText()).toContain(bobInvoice.number!);
    const [download] = await Promise.all([portal.waitForEvent('download'), portal.click(`a[href="/portal/invoices/${bobInvoice.id}/pdf"]`)]);
    const pdf = join(dataDir, 'bob.pdf');
    await download.saveAs(pdf);
    const text = await pdfText(pdf);
    expect(text).toContain(bobInvoice.number!);
    expect(text).toContain('Perennial Demo Ltd');
    expect(text).toMatch(/Total\s+USD 20\.00/);
    expect(text).toMatch(/Amount due\s+USD 20\.00/);

    await portal.click(`[data-subscription="${bobSubscription.id}"] a:has-text("Cancel subscription")`);
    await portal.check('input[name=reason][value=too_expensive]');
    await Promise.all([portal.waitForURL(/\/portal$/), portal.click('button:has-text("Cancel subscription")')]);
    expect((await api.GET('/v1/subscriptions/{id}', { params: { path: { id: bobSubscription.id } } })).data).toMatchObject({
      cancel_at_period_end: true,
      cancellation_details: { reason: 'too_expensive' },
    });

    // Alice's invoice through Bob's link: not found, as if it did not exist.
    for (const path of [`/portal/invoices/${aliceInvoice.id}`, `/portal/invoices/${aliceInvoice.id}/pdf`]) {
      const refused = await portal.request.get(`${base}${path}`);
      expect({ path, status: refused.status(), leaks: (await refused.text()).includes(alice.name) }).toEqual({ path, status: 404, leaks: false });
    }

    const stopped = await stopNpmStart(stack);
    expect(stopped.code).toBe(0);
  }, 400_000);
});
