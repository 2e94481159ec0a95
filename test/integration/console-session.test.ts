import type { Browser } from 'playwright-core';
import { KEYS, startStack, type Stack } from './harness';
import { launchBrowser, newPage, signIn } from '../support/browser';

/**
 * Signing in to the console: the key stays on the server's side of the cookie, the cookie cannot be
 * read by scripts or sent by another site, and a form that did not come from the console acts on nothing.
 */
describe('console sign-in', () => {
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startStack('console-session', { worker: false });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it('refuses a wrong key next to the field and lets a right one in, back to the page first asked for', async () => {
    const page = await newPage(browser);
    await page.goto(`${stack.baseUrl}/console/invoices`);
    expect(new URL(page.url()).pathname).toBe('/console/sign_in');

    await page.fill('input[name=api_key]', 'sk_test_not_a_key');
    await page.click('button[type=submit]');
    expect(await page.textContent('.field-refused .refusal')).toBe('This API key is not valid for this deployment.');

    await page.fill('input[name=api_key]', KEYS.support);
    await Promise.all([page.waitForURL(/\/console\/invoices$/), page.click('button[type=submit]')]);
    expect(await page.textContent('.topbar .who .badge')).toBe('support');

    const [cookie] = (await page.context().cookies()).filter((c) => c.name === 'perennial_console');
    expect({ httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, path: cookie.path, holdsKey: cookie.value.includes(KEYS.support) }).toEqual({
      httpOnly: true,
      sameSite: 'Strict',
      path: '/console',
      holdsKey: false,
    });
    await page.context().close();
  });

  it('refuses a form posted without the session\'s CSRF token, and signs out', async () => {
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.admin);
    const forged = await page.request.post(`${stack.baseUrl}/console/sign_out`, { form: { _csrf: 'forged' }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    // Still signed in: the forged sign-out did nothing.
    await page.goto(`${stack.baseUrl}/console/customers`);
    expect(new URL(page.url()).pathname).toBe('/console/customers');

    await Promise.all([page.waitForURL(/\/console\/sign_in$/), page.click('.topbar .who button')]);
    await page.goto(`${stack.baseUrl}/console/customers`);
    expect(new URL(page.url()).pathname).toBe('/console/sign_in');
    await page.context().close();
  });

  it('answers a console address that does not exist with a page saying so', async () => {
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.support);
    const answer = await page.goto(`${stack.baseUrl}/console/no_such_page`);
    expect({ status: answer!.status(), type: answer!.headers()['content-type'], title: await page.textContent('main h1') }).toEqual({
      status: 404,
      type: expect.stringMatching(/^text\/html/),
      title: 'Not found',
    });
    await page.context().close();
  });

  it('refuses an altered session cookie', async () => {
    const page = await newPage(browser);
    await signIn(page, stack.baseUrl, KEYS.readonly);
    const [cookie] = (await page.context().cookies()).filter((c) => c.name === 'perennial_console');
    const flipped = cookie.value.slice(0, -2) + (cookie.value.endsWith('AA') ? 'AB' : 'AA');
    await page.context().addCookies([{ ...cookie, value: flipped }]);
    await page.goto(`${stack.baseUrl}/console/customers`);
    expect(new URL(page.url()).pathname).toBe('/console/sign_in');
    await page.context().close();
  });
});
