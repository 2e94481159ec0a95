import type { Browser } from 'playwright-core';
import { StripeGateway, stripeClient as gatewayClient } from '../../payments/stripe-gateway';
import { startStripeEmulator, type StripeEmulator } from '../../scripts/stripe-emulator';
import { freePort } from '../../scripts/wait-for-port';
import { launchBrowser, newPage, screenshot } from '../support/browser';
import { stripeClient } from '../support/stripe';
import { startStack, type Stack } from './harness';

/**
 * Replacing the card from the portal: the page loads Stripe.js from the configured address (here the
 * emulator's copy, localstripe's v3 script), the browser confirms a SetupIntent with it, and the
 * card it collected becomes the customer's default once the server has checked the intent with Stripe.
 */
describe('portal card update through Stripe.js', () => {
  let emulator: StripeEmulator;
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    emulator = await startStripeEmulator({ port: await freePort(), quiet: true });
    const gateway = new StripeGateway(gatewayClient({ secretKey: 'sk_test_portal_card', webhookSecret: null, apiBase: emulator.apiBase }));
    stack = await startStack('portal-card', {
      // The browser loads localstripe's own v3 script and so talks to localstripe directly, which answers
      // its cross-origin calls; the front the server's SDK goes through passes on no CORS headers.
      app: { stripe: { gateway, webhookSecret: null }, stripeJs: { url: `${emulator.upstreamBase}/js.stripe.com/v3/`, publishableKey: 'pk_test_portal_card' } },
    });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    await emulator?.stop();
  });

  it('a card entered in the Stripe.js field becomes the default, and an intent of another customer is refused', async () => {
    const customer = await stack.admin.post('/v1/customers', { name: 'Katherine Johnson', email: 'kj@orbit.example', currency: 'USD' });
    const other = await stack.admin.post('/v1/customers', { name: 'Dorothy Vaughan', email: 'dv@orbit.example', currency: 'USD' });
    const link = await stack.support.post(`/v1/customers/${customer.body.id}/portal_sessions`, {});
    const page = await newPage(browser);
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      // The browser's own ask for /favicon.ico is no problem of the page's.
      if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) problems.push(`${message.text()} ${message.location().url}`);
    });
    await page.goto(link.body.url);
    await page.click('.portal-nav a[href="/portal/payment_method"]');
    expect(await page.textContent('[data-card]')).toBe('No card on file');
    await page.waitForSelector('#card-form[data-ready=true]');
    const field = (name: string) => page.locator(`#card-element input[placeholder=${name}]`);
    await field('number').fill('4242424242424242');
    await field('exp_month').fill('12');
    await field('exp_year').fill('34');
    await field('cvc').fill('123');
    await field('postal_code').fill('10001');
    await screenshot(page, 'portal-payment-method');
    await page.click('button:has-text("Save card")');
    await page.waitForSelector('.banner-done, #card-errors:not(:empty)');
    expect({ problems, refused: await page.textContent('#card-errors') }).toEqual({ problems: [], refused: '' });
    expect(await page.textContent('.banner-done')).toBe('Saved: Visa •••• 4242, expires 12/2034. We charge it from now on.');
    expect(await page.textContent('[data-card]')).toBe('Visa •••• 4242, expires 12/2034');

    // Stripe holds it as the customer's default for off-session charges.
    const [row] = await stack.db.orm.em.fork().execute<Array<{ stripe_customer_id: string; default_payment_method: string }>>('select stripe_customer_id, default_payment_method from customers where id = ?', [customer.body.id]);
    const stripe = stripeClient(emulator.apiBase, { apiKey: 'sk_test_portal_card' });
    const held = await stripe.customers.retrieve(row.stripe_customer_id);
    expect(!held.deleted && held.invoice_settings.default_payment_method).toBe(row.default_payment_method);

    // A SetupIntent confirmed for another customer cannot be claimed with this customer's form.
    const theirs = await stack.admin.post(`/v1/customers/${other.body.id}/setup_intents`, {});
    await stripe.setupIntents.confirm(theirs.body.id, { payment_method: (await stripe.paymentMethods.create({ type: 'card', card: { number: '5555555555554444', exp_month: 1, exp_year: 2035, cvc: '123' } })).id });
    const csrf = (await page.getAttribute('input[name=_csrf]', 'value'))!;
    const claimed = await page.request.post(`${stack.baseUrl}/portal/payment_method`, { form: { _csrf: csrf, setup_intent: theirs.body.id } });
    expect(claimed.status()).toBe(400);
    expect(await claimed.text()).toContain('The card was not confirmed; enter it again.');
    const [after] = await stack.db.orm.em.fork().execute<Array<{ default_payment_method: string }>>('select default_payment_method from customers where id = ?', [customer.body.id]);
    expect(after.default_payment_method).toBe(row.default_payment_method);
    await page.context().close();
  });
});
