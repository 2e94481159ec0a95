import type { Browser } from 'playwright-core';
import { KEYS, startStack, type Stack } from './harness';
import { launchBrowser, newPage, screenshot, signIn } from '../support/browser';

/**
 * The catalog screens in Chromium: every key reads plans, metrics and coupons; only an admin key,
 * the only one the API lets change the catalog, is offered the forms that create them.
 */
describe('console catalog', () => {
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startStack('console-catalog', { worker: false });
    browser = await launchBrowser();
    const metrics = [
      { code: `api_calls`, name: 'API calls', aggregation: 'count' },
      { code: `storage_gb`, name: 'Storage (GB-hours)', aggregation: 'weighted_sum', field: 'gb' },
      { code: `seats`, name: 'Active seats', aggregation: 'unique_count', field: 'user_id' },
    ];
    for (const m of metrics) expect((await stack.admin.post('/v1/metrics', m)).status).toBe(201);
    const plans = [
      { code: `starter`, name: 'Starter', currency: 'USD', interval: 'month', amount: '29.00', trial_days: 14 },
      {
        code: `growth`,
        name: 'Growth',
        currency: 'USD',
        interval: 'month',
        amount: '249.00',
        setup_fee: '500.00',
        charges: [
          { metric_code: `api_calls`, model: 'graduated', properties: { tiers: [{ up_to: 100000, unit_amount: '0' }, { up_to: 1000000, unit_amount: '0.002' }, { up_to: null, unit_amount: '0.001', flat_amount: '50' }] } },
          { metric_code: `storage_gb`, model: 'package', properties: { package_size: 100, amount: '5.00', free_units: 50 } },
        ],
      },
      { code: `enterprise`, name: 'Enterprise', currency: 'EUR', interval: 'year', amount: '24000.00', charges: [{ metric_code: `seats`, model: 'standard', properties: { unit_amount: '12.50' } }] },
      { code: `tokyo`, name: 'Tokyo Team', currency: 'JPY', interval: 'month', amount: '12000' },
    ];
    for (const p of plans) expect((await stack.admin.post('/v1/plans', p)).status).toBe(201);
    expect((await stack.admin.post(`/v1/plans/growth/versions`, { amount: '299.00' })).status).toBe(201);
    for (const c of [
      { code: `WELCOME20`, name: 'Welcome 20%', percent_off: '20', duration: 'repeating', duration_periods: 3 },
      { code: `LAUNCH`, name: 'Launch credit', amount_off: '100.00', currency: 'USD', duration: 'once' },
    ]) {
      expect((await stack.admin.post('/v1/coupons', c)).status).toBe(201);
    }
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('admin reads the plans and one plan, and creates a metric, a coupon and a plan (refusals next to their fields)', async () => {
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.admin);

    await page.goto(`${stack.baseUrl}/console/plans`);
    const plans = await page.locator('main table tbody tr').allInnerTexts();
    expect(plans).toHaveLength(4);
    expect(plans.find((r) => r.includes(`growth`))).toMatch(/Growth\s+v2\s+per month\s+USD 299\.00\s+USD\s+2/);
    expect(plans.find((r) => r.includes(`tokyo`))).toContain('JPY 12,000');
    expect(plans.find((r) => r.includes(`enterprise`))).toContain('EUR 24,000.00');
    await screenshot(page, 'console-plans');

    await Promise.all([page.waitForURL(/\/console\/plans\/growth$/), page.click('a[href="/console/plans/growth"]')]);
    expect(await page.textContent('h1')).toBe('Growth');
    expect(await page.locator('#charges > table > tbody > tr').count()).toBe(2);
    const charges = await page.locator('#charges').innerText();
    expect(charges).toContain('USD 0.002');
    expect(charges).toContain('USD 5.00 per 100 units, first 50 free');
    expect(await page.locator('.stat').nth(2).innerText()).toContain('USD 500.00');
    await screenshot(page, 'console-plan');

    // A metric: the API refuses a code with a space, next to the code field.
    await page.goto(`${stack.baseUrl}/console/metrics`);
    await page.click('#new-metric summary');
    await page.fill('#new-metric input[name=code]', 'bad code');
    await page.fill('#new-metric input[name=name]', 'Messages sent');
    await page.selectOption('#new-metric select[name=aggregation]', 'sum');
    await page.fill('#new-metric input[name=field]', 'messages');
    await page.click('#new-metric button[type=submit]');
    expect(await page.locator('#new-metric .field-refused input').getAttribute('name')).toBe('code');
    expect(await page.textContent('#new-metric .field-refused .refusal')).toContain('must be 1-100 letters, digits');
    await page.fill('#new-metric input[name=code]', `messages`);
    await Promise.all([page.waitForURL(/\/console\/metrics$/), page.click('#new-metric button[type=submit]')]);
    expect(await page.textContent('.banner-done')).toBe(`Metric messages created.`);
    expect(await page.locator('main table tbody tr').first().innerText()).toMatch(/messages\s+Messages sent\s+sum/);
    expect((await stack.admin.get(`/v1/metrics/messages`)).body).toMatchObject({ aggregation: 'sum', field: 'messages' });
    await screenshot(page, 'console-metrics');

    // A coupon: a percentage in words is refused next to its field.
    await page.goto(`${stack.baseUrl}/console/coupons`);
    await page.click('#new-coupon summary');
    await page.fill('#new-coupon input[name=code]', `SPRING`);
    await page.fill('#new-coupon input[name=name]', 'Spring sale');
    await page.fill('#new-coupon input[name=percent_off]', 'ten');
    await page.selectOption('#new-coupon select[name=duration]', 'forever');
    await page.click('#new-coupon button[type=submit]');
    expect(await page.locator('#new-coupon .field-refused input').getAttribute('name')).toBe('percent_off');
    await page.fill('#new-coupon input[name=percent_off]', '15');
    await Promise.all([page.waitForURL(/\/console\/coupons$/), page.click('#new-coupon button[type=submit]')]);
    expect(await page.textContent('.banner-done')).toBe(`Coupon SPRING created.`);
    const coupons = await page.locator('main table tbody tr').allInnerTexts();
    expect(coupons[0]).toMatch(/SPRING\s+Spring sale\s+percent\s+15%\s+Forever/);
    expect(coupons.find((r) => r.includes(`LAUNCH`))).toMatch(/amount\s+USD 100\.00\s+Once/);
    expect(coupons.find((r) => r.includes(`WELCOME20`))).toMatch(/20%\s+3 periods/);
    expect((await stack.admin.get(`/v1/coupons/SPRING`)).body).toMatchObject({ percent_off: '15', duration: 'forever' });
    await screenshot(page, 'console-coupons');

    // A simple plan with one usage charge.
    await page.goto(`${stack.baseUrl}/console/plans`);
    await page.click('#new-plan summary');
    await page.fill('#new-plan input[name=code]', `scale`);
    await page.fill('#new-plan input[name=name]', 'Scale');
    await page.fill('#new-plan input[name=amount]', '499.00');
    await page.fill('#new-plan input[name=trial_days]', '30');
    await page.selectOption('#new-plan select[name=charge_metric]', `api_calls`);
    await page.fill('#new-plan input[name=charge_unit_amount]', 'cheap');
    await page.click('#new-plan button[type=submit]');
    expect(await page.locator('#new-plan .field-refused input').getAttribute('name')).toBe('charge_unit_amount');
    await page.fill('#new-plan input[name=charge_unit_amount]', '0.0015');
    await Promise.all([page.waitForURL(/\/console\/plans\/scale$/), page.click('#new-plan button[type=submit]')]);
    expect(await page.textContent('.banner-done')).toBe(`Plan scale created.`);
    expect(await page.locator('#charges > table > tbody > tr').innerText()).toMatch(/standard\s+USD 0\.0015 per unit/);
    expect((await stack.admin.get(`/v1/plans/scale`)).body).toMatchObject({ amount: '499.00', trial_days: 30, charges: [{ metric_code: `api_calls`, model: 'standard', properties: { unit_amount: '0.0015' } }] });
    await page.context().close();
  });

  it('support and readonly read the catalog and are offered no create form', async () => {
    for (const key of [KEYS.support, KEYS.readonly]) {
      const page = await newPage(browser);
      await signIn(page, stack.baseUrl, key);
      for (const [path, form] of [['plans', '#new-plan'], ['metrics', '#new-metric'], ['coupons', '#new-coupon']]) {
        await page.goto(`${stack.baseUrl}/console/${path}`);
        expect(await page.locator('main table tbody tr').count()).toBeGreaterThanOrEqual(2);
        expect(await page.locator(form).count()).toBe(0);
        expect(await page.locator('main form[method=post]').count()).toBe(0);
      }
      await page.context().close();
    }
    // The API agrees: support may not create a metric.
    expect((await stack.support.post('/v1/metrics', { code: `nope`, name: 'Nope', aggregation: 'count' })).status).toBe(403);
  });
});
