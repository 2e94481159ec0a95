import type { Browser, Page } from 'playwright-core';
import { createApp } from '../../api/app';
import { usagePool } from '../../api/usage-ingest';
import { parseApiKeySpec } from '../../config/env';
import { listen } from '../support/http';
import { eventually, KEYS, startStack, waitForInvoices, type Stack } from './harness';
import { launchBrowser, newPage, screenshot, signIn } from '../support/browser';
import { seedCatalog, subscribe, type Seeded } from './console-seed';

/**
 * The subscription screen in Chromium: live state from the workflow, a plan change previewed and
 * then confirmed, a cancellation scheduled and taken back, a refusal next to its field, and a
 * readonly key that sees no actions.
 */
describe('console: a subscription', () => {
  let stack: Stack;
  let browser: Browser;
  let seeded: Seeded;
  let subscriptionId: string;

  beforeAll(async () => {
    stack = await startStack('console-subscription');
    browser = await launchBrowser();
    seeded = await seedCatalog(stack.admin);
    subscriptionId = await subscribe(stack.admin, seeded.customers[0].id, seeded.plans.starter, 10, 3);
    for (const [i, c] of seeded.customers.slice(1).entries()) await subscribe(stack.admin, c.id, i % 2 ? seeded.plans.growth : seeded.plans.starter, 3 + i * 7);
    await waitForInvoices(stack.admin, subscriptionId, 1);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  const open = async (page: Page) => page.goto(`${stack.baseUrl}/console/subscriptions/${subscriptionId}`);
  const texts = (page: Page, selector: string) => page.locator(selector).allInnerTexts();

  it('previews an upgrade, applies it only when confirmed, and shows the new plan and its invoice', async () => {
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.support);
    await open(page);
    expect(await page.textContent('h1')).toBe('Northwind Traders · Starter');
    expect(await page.locator('.stat').first().innerText()).toContain(seeded.plans.starter);
    expect(await page.locator('.page-head .badge').first().innerText()).toBe('active');
    expect(await texts(page, '#invoices tbody tr')).toHaveLength(1);
    expect(await page.locator('#upcoming-invoice').innerText()).toContain('USD 104.40'); // 3 x 29.00 + 20% VAT
    await screenshot(page, 'console-subscription');

    await page.click('details[data-action=change_plan] summary');
    await page.selectOption('details[data-action=change_plan] select[name=plan_code]', seeded.plans.growth);
    await page.selectOption('details[data-action=change_plan] select[name=at]', 'now');
    await page.click('details[data-action=change_plan] button[type=submit]');
    const preview = page.locator('#change-preview');
    expect(await preview.locator('h2').innerText()).toMatch(new RegExp(`^Preview: change to Growth\\s+${seeded.plans.growth} v1$`));
    const lines = await preview.locator('table.lines > tbody > tr').allInnerTexts();
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(await preview.locator('table.totals').innerText()).toMatch(/VAT 20%/);
    await screenshot(page, 'console-change-preview');
    // Nothing has changed before the confirmation.
    expect((await stack.support.get(`/v1/subscriptions/${subscriptionId}`)).body.plan_code).toBe(seeded.plans.starter);

    await Promise.all([page.waitForURL(new RegExp(`/console/subscriptions/${subscriptionId}$`)), preview.locator('button[type=submit]').click()]);
    expect(await page.textContent('.banner-done')).toBe(`Plan changed to ${seeded.plans.growth} v1.`);
    expect(await page.locator('.stat').first().innerText()).toContain(seeded.plans.growth);
    expect((await stack.support.get(`/v1/subscriptions/${subscriptionId}`)).body.plan_code).toBe(seeded.plans.growth);

    // The change's invoice is issued by the workflow: it appears on the page once issued.
    await eventually('the plan change invoice is listed', async () => (await open(page), await texts(page, '#invoices tbody tr')), (rows) => rows.length === 2);
    const invoices = await waitForInvoices(stack.support, subscriptionId, 2);
    expect(await page.locator('#invoices tbody tr').first().innerText()).toContain(invoices[1].number);
    await page.context().close();
  });

  it('schedules a cancellation at period end, then removes it', async () => {
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.support);
    await open(page);
    await page.click('details[data-action=cancel] summary');
    await page.selectOption('details[data-action=cancel] select[name=at]', 'period_end');
    await Promise.all([page.waitForURL(new RegExp(`/console/subscriptions/${subscriptionId}$`)), page.click('details[data-action=cancel] button[type=submit]')]);
    expect(await page.textContent('.banner-done')).toMatch(/^Cancellation scheduled for /);
    expect(await texts(page, '#scheduled-changes tbody tr td:first-child')).toEqual(['Cancel']);
    expect(await page.textContent('.banner-warn')).toMatch(/Cancels at the end of the period/);
    expect((await stack.support.get(`/v1/subscriptions/${subscriptionId}`)).body.cancel_at_period_end).toBe(true);

    await Promise.all([page.waitForURL(new RegExp(`/console/subscriptions/${subscriptionId}$`)), page.click('#scheduled-changes button')]);
    expect(await page.textContent('.banner-done')).toBe('Scheduled change removed.');
    expect(await page.textContent('#scheduled-changes')).toContain('No scheduled changes.');
    const after = (await stack.support.get(`/v1/subscriptions/${subscriptionId}`)).body;
    expect({ cancel: after.cancel_at_period_end, scheduled: after.scheduled_changes }).toEqual({ cancel: false, scheduled: [] });
    await page.context().close();
  });

  it('shows a refusal next to the field it concerns and keeps the form open', async () => {
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.support);
    await open(page);
    await page.click('details[data-action=cancel] summary');
    await page.selectOption('details[data-action=cancel] select[name=at]', 'date');
    await page.fill('details[data-action=cancel] input[name=at_date]', '2020-01-15');
    await page.click('details[data-action=cancel] button[type=submit]');
    const refused = page.locator('details[data-action=cancel][open] .field-refused');
    expect(await refused.locator('label').innerText()).toBe('Date');
    expect(await refused.locator('.refusal').innerText()).toMatch(/is not in the future/);
    expect(await page.inputValue('details[data-action=cancel] input[name=at_date]')).toBe('2020-01-15');
    expect((await stack.support.get(`/v1/subscriptions/${subscriptionId}`)).body.status).toBe('active');
    await page.context().close();
  });

  it('takes a scheduled cancellation back with reactivate, and pauses and resumes', async () => {
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.support);
    await open(page);
    const act = async (action: string) => Promise.all([page.waitForURL(new RegExp(`/console/subscriptions/${subscriptionId}$`)), page.click(`details[data-action=${action}] button[type=submit]`)]);
    await page.click('details[data-action=cancel] summary');
    await act('cancel');
    expect(await page.locator('details[data-action=reactivate]').count()).toBe(1);
    await page.click('details[data-action=reactivate] summary');
    await act('reactivate');
    expect(await page.textContent('.banner-done')).toBe('Cancellation taken back: the subscription renews as before.');
    expect((await stack.support.get(`/v1/subscriptions/${subscriptionId}`)).body.cancel_at_period_end).toBe(false);

    await page.click('details[data-action=pause] summary');
    await act('pause');
    expect(await page.textContent('.banner-done')).toBe('Subscription paused.');
    expect(await page.locator('.page-head .badge').first().innerText()).toBe('paused');
    await page.click('details[data-action=resume] summary');
    await act('resume');
    expect(await page.textContent('.banner-done')).toBe('Subscription resumed.');
    expect((await stack.support.get(`/v1/subscriptions/${subscriptionId}`)).body.status).toBe('active');
    await page.context().close();
  });

  it('extends a trial to a date, then ends it now', async () => {
    const trial = `trial-${subscriptionId.slice(-6).toLowerCase()}`;
    expect((await stack.admin.post('/v1/plans', { code: trial, name: 'Growth with trial', currency: 'USD', interval: 'month', amount: '99.00', trial_days: 14 })).status).toBe(201);
    const id = await subscribe(stack.admin, seeded.customers[4].id, trial, 0);
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.support);
    await page.goto(`${stack.baseUrl}/console/subscriptions/${id}`);
    expect(await page.locator('.page-head .badge').first().innerText()).toBe('trialing');
    const day = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    await page.click('details[data-action=extend_trial] summary');
    await page.fill('details[data-action=extend_trial] input[name=trial_end]', day);
    await Promise.all([page.waitForURL(new RegExp(`/console/subscriptions/${id}$`)), page.click('details[data-action=extend_trial] button[type=submit]')]);
    expect((await stack.support.get(`/v1/subscriptions/${id}`)).body.trial_end).toBe(`${day}T00:00:00.000Z`);

    await page.click('details[data-action=end_trial] summary');
    await Promise.all([page.waitForURL(new RegExp(`/console/subscriptions/${id}$`)), page.click('details[data-action=end_trial] button[type=submit]')]);
    expect(await page.textContent('.banner-done')).toBe('Trial ended.');
    await eventually('the trial has ended', async () => (await stack.support.get(`/v1/subscriptions/${id}`)).body.status, (status) => status === 'active');
    await page.context().close();
  });

  it('shows a readonly key the subscription and no action', async () => {
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.readonly);
    await open(page);
    expect(await page.locator('.stat').first().innerText()).toContain(seeded.plans.growth);
    expect(await page.locator('main form, main button, details.action').count()).toBe(0);
    // No Temporal UI configured: no link to it.
    expect(await page.locator('a', { hasText: 'Temporal' }).count()).toBe(0);
    await page.context().close();
  });

  it('links to the run in the Temporal UI when one is configured', async () => {
    // The same database and Temporal, served by an app told where the Temporal UI is (TEMPORAL_UI_URL).
    const pool = usagePool(stack.db.url);
    const server = await listen(
      createApp({ orm: stack.db.orm, temporal: stack.temporal.client, taskQueue: stack.taskQueue, apiKeys: parseApiKeySpec(`readonly:${KEYS.readonly}`), usagePool: pool, temporalUi: { url: 'http://temporal-ui.test:8233', namespace: 'billing' } }),
    );
    try {
      const page = await newPage(browser);
      await signIn(page, server.baseUrl, KEYS.readonly);
      await page.goto(`${server.baseUrl}/console/subscriptions/${subscriptionId}`);
      expect(await page.locator('a', { hasText: 'Temporal' }).getAttribute('href')).toBe(`http://temporal-ui.test:8233/namespaces/billing/workflows/subscription-${subscriptionId}`);
      await page.context().close();
    } finally {
      await server.close();
      await pool.end();
    }
  });
});
