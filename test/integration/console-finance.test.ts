import Decimal from 'decimal.js';
import type { Browser } from 'playwright-core';
import { addMonths, monthOf } from '../../domain/months';
import { monthLabel } from '../../web/charts';
import { REVENUE_RECOGNITION_WORKFLOW, revenueRecognitionWorkflowId, type RevenueRecognitionWorkflow } from '../../workflows/messages';
import { eventually, KEYS, startStack, unique, waitForInvoices, type Stack } from './harness';
import { launchBrowser, newPage, screenshot, signIn } from '../support/browser';
import { seedCatalog, subscribeAt, type Seeded } from './console-seed';

/**
 * The finance screen in Chromium for a known book of subscriptions (calendar months, so each
 * month's end is covered by the invoice of that month): MRR and its movements drawn as SVG with the
 * figures of the MRR rules, receivables by age as bars, and the deferred revenue waterfall.
 */
describe('console: finance', () => {
  let stack: Stack;
  let browser: Browser;
  let seeded: Seeded;
  const M = monthOf(new Date());
  const fifteenth = (month: string) => `${month}-15T12:00:00Z`;

  beforeAll(async () => {
    stack = await startStack('console-finance');
    browser = await launchBrowser();
    seeded = await seedCatalog(stack.admin);
    const [northwind, acme, globex, initech, umbrella] = seeded.customers.map((c) => c.id);
    const { starter, growth, scale } = seeded.plans;
    const calendar = { billing_alignment: 'calendar' };
    const subs = {
      umbrella: await subscribeAt(stack.admin, umbrella, starter, fifteenth(addMonths(M, -11)), calendar),
      northwind: await subscribeAt(stack.admin, northwind, growth, fifteenth(addMonths(M, -2)), calendar),
      acme: await subscribeAt(stack.admin, acme, growth, fifteenth(addMonths(M, -2)), calendar),
      globex: await subscribeAt(stack.admin, globex, starter, fifteenth(addMonths(M, -1)), { ...calendar, quantity: 2 }),
      initech: await subscribeAt(stack.admin, initech, scale, new Date(Date.now() - 120_000).toISOString(), calendar),
    };
    await waitForInvoices(stack.admin, subs.umbrella, 12);
    await waitForInvoices(stack.admin, subs.northwind, 3);
    await waitForInvoices(stack.admin, subs.acme, 3);
    await waitForInvoices(stack.admin, subs.globex, 2);
    await waitForInvoices(stack.admin, subs.initech, 1);
    // This month: Northwind goes from 1 seat to 3 (expansion), Acme leaves (churn).
    expect((await stack.admin.post(`/v1/subscriptions/${subs.northwind}/change_quantity`, { quantity: 3, at: 'now' })).status).toBe(200);
    expect((await stack.admin.post(`/v1/subscriptions/${subs.acme}/cancel`, { at: 'now' })).status).toBe(200);
    await waitForInvoices(stack.admin, subs.northwind, 4);
    await eventually('Acme is canceled', async () => (await stack.admin.get(`/v1/subscriptions/${subs.acme}`)).body.status, (s) => s === 'canceled');
    // Revenue recognised up to now, as the daily Schedule does, so the waterfall has both sides.
    await stack.temporal.client.workflow.execute<RevenueRecognitionWorkflow>(REVENUE_RECOGNITION_WORKFLOW, {
      taskQueue: stack.taskQueue,
      workflowId: revenueRecognitionWorkflowId(unique('console-finance')),
      args: [{ through: new Date().toISOString() }],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('draws MRR and its movements, receivables by age and the deferred revenue waterfall', async () => {
    const from = addMonths(M, -11);
    const report = (await stack.readonly.get(`/v1/reports/mrr?from=${from}&to=${M}&currency=USD`)).body.data[0];
    // The book as the MRR rules read it, month by month.
    const expected = new Map([
      [from, { new: '29.00', mrr: '29.00' }],
      [addMonths(M, -2), { new: '198.00', mrr: '227.00' }],
      [addMonths(M, -1), { new: '58.00', mrr: '285.00' }],
      [M, { new: '299.00', expansion: '198.00', churn: '99.00', mrr: '683.00' }],
    ]);
    for (const m of report.months) {
      const e = expected.get(m.month) ?? { mrr: '29.00' };
      expect({ month: m.month, new: m.new, expansion: m.expansion, churn: m.churn, mrr: m.mrr }).toEqual({ month: m.month, new: '0.00', expansion: '0.00', churn: '0.00', ...e });
    }

    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.readonly);
    await page.goto(`${stack.baseUrl}/console/finance`);
    expect(await page.locator('#stat-mrr .value').innerText()).toBe('USD 683.00');
    const svg = page.locator('#mrr-chart svg');
    expect(await svg.locator('text').allTextContents()).toEqual(expect.arrayContaining([monthLabel(from), monthLabel(M)]));
    expect(await svg.locator('circle').count()).toBe(12);
    expect(await svg.locator('rect.bar-new').count()).toBe(4);
    expect(await svg.locator('rect.bar-churn title').allTextContents()).toEqual([`${monthLabel(M)} · Churn: USD 99.00`]);
    expect(await svg.locator('rect.bar-expansion title').allTextContents()).toEqual([`${monthLabel(M)} · Expansion: USD 198.00`]);
    // Churn hangs below the zero line, new above it.
    const zero = Number(await svg.locator('line.axis').getAttribute('y1'));
    expect(Number(await svg.locator('rect.bar-churn').getAttribute('y'))).toBeCloseTo(zero, 6);
    const newBar = svg.locator('rect.bar-new').last();
    expect(Number(await newBar.getAttribute('y')) + Number(await newBar.getAttribute('height'))).toBeCloseTo(zero, 6);

    // Receivables: every open invoice's amount due, in the bucket of its age, as the API ages them.
    const aging = (await stack.readonly.get('/v1/reports/ar_aging?currency=USD')).body.data[0];
    const open = (await stack.readonly.get('/v1/invoices?status=open&limit=100')).body.data as Array<{ amount_due: string }>;
    expect(aging.totals.total).toBe(open.reduce((s, i) => s.plus(i.amount_due), new Decimal(0)).toFixed(2));
    const bars = await page.locator('#aging-bars .hbar[data-bucket]').evaluateAll((rows) =>
      rows.map((r) => [r.getAttribute('data-bucket'), r.querySelector('.hbar-value')!.textContent, /width:([\d.]+%)/.exec(r.querySelector('.hbar-fill')!.getAttribute('style') ?? '')?.[1]]),
    );
    const usd = (amount: string) => `USD ${new Decimal(amount).toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, ',')}`;
    const largest = Decimal.max(...bars.map(([k]) => new Decimal(aging.totals[k!])));
    expect(bars).toEqual(
      ['not_yet_due', 'days_1_30', 'days_31_60', 'days_61_90', 'days_91_120', 'days_over_120'].map((k) => [
        k,
        usd(aging.totals[k]),
        `${new Decimal(aging.totals[k]).dividedBy(largest).times(100).toFixed(2)}%`,
      ]),
    );
    expect(await page.locator('#stat-ar .value').innerText()).toBe(usd(aging.totals.total));

    // The waterfall: one row a month, each closing on what the ledger holds.
    const deferred = (await stack.readonly.get(`/v1/reports/deferred_revenue?currency=USD&from=${from}&to=${M}`)).body;
    const rows = await page.locator('#deferred-table tbody tr').allInnerTexts();
    expect(rows).toHaveLength(12);
    expect(rows[0]).toContain(usd(deferred.months[11].closing));
    expect(deferred.months.every((m: { balanced: boolean }) => m.balanced)).toBe(true);
    expect(new Decimal(deferred.months[10].recognized).gt(0)).toBe(true);
    expect(await page.locator('#deferred-chart svg circle').count()).toBe(12);
    await screenshot(page, 'console-finance');
    await page.context().close();
  });
});
