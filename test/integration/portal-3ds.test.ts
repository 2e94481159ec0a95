import type { Worker } from '@temporalio/worker';
import type { Browser, Page } from 'playwright-core';
import type Stripe from 'stripe';
import { StripeGateway, stripeClient as gatewayClient } from '../../payments/stripe-gateway';
import { startStripeEmulator, type StripeEmulator } from '../../scripts/stripe-emulator';
import { freePort } from '../../scripts/wait-for-port';
import { invoiceWorkflowId } from '../../workflows/messages';
import { launchBrowser, newPage, screenshot } from '../support/browser';
import { stripeClient } from '../support/stripe';
import { billingWorker } from '../support/temporal';
import { eventually, startStack, type Stack } from './harness';

/**
 * Completing a payment that waits for 3-D Secure from the portal: collection charges a card that
 * needs the customer's authentication and leaves the invoice open; the portal offers "Complete
 * payment", whose page runs Stripe.js's confirmCardPayment (here localstripe's v3 script and its
 * authentication dialog) and posts the intent's id; the server checks it with Stripe and records
 * the payment as the payment_intent.succeeded webhook does: once.
 */
describe('portal: completing a payment that needs 3-D Secure', () => {
  const KEY = 'sk_test_portal_3ds';
  let emulator: StripeEmulator;
  let stack: Stack;
  let worker: Worker;
  let running: Promise<void>;
  let browser: Browser;
  let stripe: Stripe;

  beforeAll(async () => {
    emulator = await startStripeEmulator({ port: await freePort(), quiet: true });
    stripe = stripeClient(emulator.apiBase, { apiKey: KEY });
    const gateway = new StripeGateway(gatewayClient({ secretKey: KEY, webhookSecret: null, apiBase: emulator.apiBase }));
    // No webhook endpoint is registered with the emulator: the portal's post is what records the payment.
    stack = await startStack('portal-3ds', {
      worker: false,
      app: { stripe: { gateway, webhookSecret: null }, stripeJs: { url: `${emulator.upstreamBase}/js.stripe.com/v3/`, publishableKey: 'pk_test_portal_3ds' } },
    });
    // The stack's own worker charges no cards; this one collects with the emulator.
    worker = await billingWorker({ connection: stack.temporal.connection, taskQueue: stack.taskQueue, orm: stack.db.orm, stripe: gateway });
    running = worker.run();
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    const invoices = stack ? await stack.db.orm.em.fork().execute<Array<{ id: string }>>('select id from invoices') : [];
    await Promise.all(invoices.map((i) => stack.temporal.client.workflow.getHandle(invoiceWorkflowId(i.id)).terminate('suite finished').catch(() => undefined)));
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    await stack?.stop();
    await emulator?.stop();
  });

  async function customerWithCard(name: string, email: string, number: string): Promise<string> {
    const customer = await stack.admin.post('/v1/customers', { name, email, currency: 'USD' });
    expect(customer.status).toBe(201);
    const method = await stripe.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });
    expect((await stack.admin.post(`/v1/customers/${customer.body.id}/payment_methods`, { payment_method: method.id })).status).toBe(201);
    return customer.body.id;
  }

  async function portalPage(customerId: string): Promise<Page> {
    const link = await stack.support.post(`/v1/customers/${customerId}/portal_sessions`, {});
    const page = await newPage(browser);
    await page.goto(link.body.url);
    return page;
  }

  it('the customer authenticates in the browser and the invoice is paid once; another customer cannot open the page', async () => {
    // 4000 0027 6000 3184: localstripe (like Stripe) asks for authentication on every payment.
    const payer = await customerWithCard('Grace Hopper', 'grace@navy.example', '4000002760003184');
    const other = await customerWithCard('Ada Lovelace', 'ada@engine.example', '4242424242424242');
    const created = await stack.admin.post('/v1/invoices', { customer_id: payer, currency: 'USD', lines: [{ description: 'Compiler support, November', unit_amount: '240.00' }] });
    expect(created.status).toBe(201);
    const invoiceId = created.body.id as string;
    const collection = await eventually(
      'the charge waits for authentication',
      async () => (await stack.admin.get(`/v1/invoices/${invoiceId}/collection`)).body,
      (c) => c.attempts.length === 1 && c.attempts[0].status === 'requires_action',
    );
    const intentId = collection.attempts[0].payment_intent_id as string;
    expect(collection.invoice_status).toBe('open');

    const page = await portalPage(payer);
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) problems.push(`${message.text()} ${message.location().url}`);
    });
    // The home page's "Payment due" row and the invoice page both offer it.
    const row = page.locator(`.portal-due tr[data-invoice="${invoiceId}"]`);
    expect(await row.locator('a:has-text("Complete payment")').getAttribute('href')).toBe(`/portal/invoices/${invoiceId}/pay`);
    await row.locator(`a[href="/portal/invoices/${invoiceId}"]`).click();
    expect(await page.textContent('.portal-action-needed')).toContain('Your bank asks you to confirm this payment.');
    await page.click('.portal-action-needed a:has-text("Complete payment")');
    await page.waitForSelector('#pay-form[data-ready=true]');
    expect(await page.textContent('[data-amount-due]')).toBe('USD 240.00');
    await screenshot(page, 'portal-complete-payment');

    // localstripe's confirmCardPayment shows its stand-in for the bank's 3-D Secure dialog.
    await page.click('button:has-text("Confirm payment")');
    await page.click('button:has-text("Complete authentication")');
    await page.waitForSelector('.banner-done, #pay-errors:not(:empty)');
    expect({ problems, refused: await page.locator('#pay-errors').allTextContents() }).toEqual({ problems: [], refused: [] });
    expect(await page.textContent('.banner-done')).toBe('Paid: USD 240.00. Thank you.');
    expect(await page.textContent('[data-amount-due]')).toBe('USD 0.00');
    expect(await page.locator('.portal-action-needed').count()).toBe(0);

    const invoice = await stack.admin.get(`/v1/invoices/${invoiceId}`);
    expect(invoice.body.status).toBe('paid');
    const payments = async () => (await stack.admin.get(`/v1/invoices/${invoiceId}/payments`)).body.data.map((p: any) => ({ method: p.method, amount: p.amount, reference: p.reference }));
    expect(await payments()).toEqual([{ method: 'card', amount: '240.00', reference: intentId }]);

    // The same intent posted again records nothing more, and Stripe charged once.
    const csrf = await csrfOf(page);
    const again = await page.request.post(`${stack.baseUrl}/portal/invoices/${invoiceId}/pay`, { form: { _csrf: csrf, payment_intent: intentId } });
    expect(again.status()).toBe(200);
    expect(await again.text()).toContain('This payment is already recorded.');
    expect(await payments()).toEqual([{ method: 'card', amount: '240.00', reference: intentId }]);
    const [{ stripe_customer_id }] = await stack.db.orm.em.fork().execute<Array<{ stripe_customer_id: string }>>('select stripe_customer_id from customers where id = ?', [payer]);
    const charges = await stripe.charges.list({ customer: stripe_customer_id, limit: 100 });
    expect(charges.data.filter((c) => c.status === 'succeeded').length).toBe(1);
    // The collection hears of it, and its waiting attempt ends as succeeded.
    await eventually('the collection ends paid', async () => (await stack.admin.get(`/v1/invoices/${invoiceId}/collection`)).body, (c) => c.attempts.map((a: any) => a.status).join() === 'succeeded');
    // Nothing is left to complete.
    await page.goto(`${stack.baseUrl}/portal/invoices/${invoiceId}/pay`);
    expect(await page.textContent('[data-nothing-to-complete]')).toBe('This invoice has no card payment waiting for you to confirm.');
    await page.context().close();

    // Another customer's portal: the page, and a post of that intent, are "not found".
    const theirs = await portalPage(other);
    const opened = await theirs.goto(`${stack.baseUrl}/portal/invoices/${invoiceId}/pay`);
    expect(opened?.status()).toBe(404);
    expect(await theirs.textContent('.card')).toContain('There is nothing here for your account.');
    const claimed = await theirs.request.post(`${stack.baseUrl}/portal/invoices/${invoiceId}/pay`, { form: { _csrf: await csrfOf(theirs), payment_intent: intentId } });
    expect(claimed.status()).toBe(404);
    await theirs.context().close();
    expect(await payments()).toHaveLength(1);
  });

  /** The visit's CSRF value, from a page that has a form. */
  async function csrfOf(page: Page): Promise<string> {
    await page.goto(`${stack.baseUrl}/portal/payment_method`);
    return (await page.getAttribute('input[name=_csrf]', 'value'))!;
  }
});
