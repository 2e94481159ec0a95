import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { createPortalSession, signPortalToken } from '../../db/portal-sessions';
import { signingSecret } from '../../db/signing-secrets';
import { launchBrowser, newPage, screenshot } from '../support/browser';
import { daysAgo, eventually, expectError, KEYS, startStack, waitForInvoices, type Stack } from './harness';

/**
 * The customer portal in Chromium: a link made by support opens one customer's billing, which
 * shows what is due and lets the customer cancel at period end with a reason or change to a plan
 * the operator offers, after seeing the preview. The link never reaches another customer's data,
 * and an expired or altered link opens nothing.
 */
/** The words of a PDF, as pdftotext lays them out. */
function pdfText(bytes: Buffer): string {
  const file = join(mkdtempSync(join(tmpdir(), 'portal-pdf-')), 'invoice.pdf');
  writeFileSync(file, bytes);
  return execFileSync('pdftotext', ['-layout', file, '-'], { encoding: 'utf8' }).replace(/[ \t]+/g, ' ');
}

describe('customer portal', () => {
  let stack: Stack;
  let browser: Browser;
  const OFFERED = ['portal-team', 'portal-business'];
  let ada: { customer: string; subscription: string; invoices: any[] };
  let bob: { customer: string; subscription: string; invoices: any[] };

  async function customerWithSubscription(name: string, email: string, plan: string, startAt: string, invoices: number) {
    const customer = await stack.admin.post('/v1/customers', { name, email, currency: 'USD' });
    expect(customer.status).toBe(201);
    const subscription = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: plan, start_at: startAt });
    expect(subscription.status).toBe(201);
    return { customer: customer.body.id as string, subscription: subscription.body.id as string, invoices: await waitForInvoices(stack.admin, subscription.body.id, invoices) };
  }

  /** A portal link for `customerId`, as support makes it. */
  async function portalLink(customerId: string, returnUrl?: string): Promise<string> {
    const res = await stack.support.post(`/v1/customers/${customerId}/portal_sessions`, returnUrl ? { return_url: returnUrl } : {});
    expect(res.status).toBe(201);
    return res.body.url;
  }

  /** A browser page signed in to the portal through `customerId`'s link. */
  async function openPortal(customerId: string, returnUrl?: string): Promise<Page> {
    const page = await newPage(browser);
    await page.goto(await portalLink(customerId, returnUrl));
    expect(new URL(page.url()).pathname).toBe('/portal');
    return page;
  }

  /** The CSRF token of the page's portal visit, read from one of its forms. */
  async function csrfOf(page: Page, path: string): Promise<string> {
    await page.goto(`${stack.baseUrl}${path}`);
    return (await page.getAttribute('input[name=_csrf]', 'value'))!;
  }

  beforeAll(async () => {
    stack = await startStack('portal', {
      app: { portalPlanCodes: OFFERED, seller: { name: 'Northwind Analytics', addressLines: ['500 Howard Street', 'San Francisco, CA 94105'], taxId: 'US 94-1234567', email: 'billing@northwind.example' } },
    });
    browser = await launchBrowser();
    for (const [code, name, amount] of [
      ['portal-starter', 'Starter', '29.00'],
      ['portal-team', 'Team', '79.00'],
      ['portal-business', 'Business', '199.00'],
      ['portal-enterprise', 'Enterprise', '990.00'],
    ]) {
      expect((await stack.admin.post('/v1/plans', { code, name, currency: 'USD', interval: 'month', amount })).status).toBe(201);
    }
    // Started 70 days ago: three monthly invoices, of which Ada paid the first.
    ada = await customerWithSubscription('Ada Lovelace Ltd', 'billing@lovelace.example', 'portal-starter', daysAgo(70), 3);
    expect((await stack.admin.post(`/v1/invoices/${ada.invoices[0].id}/payments`, { amount: '29.00' })).status).toBe(201);
    // A goodwill credit on the paid invoice becomes credit for her next invoices.
    expect((await stack.admin.post(`/v1/invoices/${ada.invoices[0].id}/credit_notes`, { amount: '10.00', reason: 'Outage on 3 March' })).status).toBe(201);
    bob = await customerWithSubscription('Babbage Engines', 'accounts@babbage.example', 'portal-team', daysAgo(10), 1);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  describe('POST /v1/customers/:id/portal_sessions', () => {
    it('gives support a link to the customer\'s portal valid for one hour, with where to return', async () => {
      const before = Date.now();
      const res = await stack.support.post(`/v1/customers/${ada.customer}/portal_sessions`, { return_url: 'https://app.lovelace.example/settings' });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        object: 'portal_session',
        id: expect.stringMatching(/^bps_/),
        customer_id: ada.customer,
        url: expect.stringMatching(new RegExp(`^${stack.baseUrl}/portal/s/bps_\\w+\\.${ada.customer}\\.\\d+\\.[\\w-]+$`)),
        return_url: 'https://app.lovelace.example/settings',
        expires_at: expect.any(String),
        created_at: expect.any(String),
      });
      // An hour from when it was made, in the whole seconds the token states.
      const expires = Date.parse(res.body.expires_at);
      expect(expires % 1000).toBe(0);
      expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 3_600_000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 3_600_000);
    });

    it('is refused to a readonly key, for a return URL that is not a web page, and for an unknown customer', async () => {
      expectError(await stack.readonly.post(`/v1/customers/${ada.customer}/portal_sessions`, {}), 403, { type: 'permission_error' });
      expectError(await stack.support.post(`/v1/customers/${ada.customer}/portal_sessions`, { return_url: 'javascript:alert(1)' }), 400, { code: 'return_url_invalid', param: 'return_url' });
      expectError(await stack.support.post('/v1/customers/cus_missing/portal_sessions', {}), 404, { type: 'not_found_error' });
    });
  });

  it('opens on what is due, the credit held and the subscription, and the link is kept in a strict cookie', async () => {
    const page = await openPortal(ada.customer, 'https://app.lovelace.example/settings');
    const [cookie] = (await page.context().cookies()).filter((c) => c.name === 'perennial_portal');
    expect({ httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, path: cookie.path }).toEqual({ httpOnly: true, sameSite: 'Strict', path: '/portal' });
    expect(cookie.expires * 1000 - Date.now()).toBeLessThanOrEqual(3_600_000);

    expect(await page.textContent('h1')).toBe('Ada Lovelace Ltd');
    expect(await page.textContent('.topbar .brand')).toBe('Northwind Analytics');
    // Two invoices of USD 29.00 are open; the credit note's USD 10.00 waits for the next invoice.
    expect(await page.textContent('[data-amount-due]')).toBe('USD 58.00');
    expect(await page.textContent('[data-credit]')).toBe('USD 10.00');
    const due = await page.$$eval('.portal-due tbody tr', (rows) => rows.map((r) => r.getAttribute('data-invoice')));
    expect(due.sort()).toEqual([ada.invoices[1].id, ada.invoices[2].id].sort());
    const subscription = await page.textContent(`[data-subscription="${ada.subscription}"]`);
    expect(subscription).toContain('Starter');
    expect(subscription).toContain('USD 29.00 per month');
    expect(subscription).toMatch(/Renews on \d{1,2} \w{3} \d{4}/);
    expect(await page.getAttribute('.portal-return', 'href')).toBe('https://app.lovelace.example/settings');
    expect(await page.textContent('.portal-return')).toBe('← Return to app.lovelace.example');
    await screenshot(page, 'portal-home');

    await page.click('.portal-nav a[href="/portal/invoices"]');
    const listed = await page.$$eval('.portal-invoices tbody tr', (rows) => rows.map((r) => r.getAttribute('data-invoice')));
    expect(listed.sort()).toEqual(ada.invoices.map((i) => i.id).sort());
    expect(await page.textContent(`tr[data-invoice="${ada.invoices[0].id}"]`)).toContain('paid');
    await screenshot(page, 'portal-invoices');

    await page.click(`tr[data-invoice="${ada.invoices[2].id}"] a[href="/portal/invoices/${ada.invoices[2].id}"]`);
    expect(await page.textContent('h1')).toBe(`Invoice ${ada.invoices[2].number}`);
    expect(await page.textContent('[data-amount-due]')).toBe('USD 29.00');

    // The PDF the portal downloads is the API's, byte for byte, and states this invoice.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a:has-text("Download PDF")')]);
    const bytes = await readFile((await download.path())!);
    const fromApi = await fetch(`${stack.baseUrl}/v1/invoices/${ada.invoices[2].id}/pdf`, { headers: { authorization: `Bearer ${KEYS.readonly}` } });
    expect(Buffer.from(await fromApi.arrayBuffer()).equals(bytes)).toBe(true);
    const text = pdfText(bytes);
    expect(text).toContain(ada.invoices[2].number);
    expect(text).toContain('Ada Lovelace Ltd');
    expect(text).toMatch(/Amount due\s+USD 29\.00/);
    await page.context().close();
  });

  it('never shows or changes another customer\'s invoice, PDF or subscription, answering as for an id that does not exist', async () => {
    const page = await openPortal(ada.customer);
    const csrf = await csrfOf(page, `/portal/subscriptions/${ada.subscription}/cancel`);
    const theirs = bob.invoices[0];
    for (const path of [`/portal/invoices/${theirs.id}`, `/portal/invoices/${theirs.id}/pdf`, `/portal/subscriptions/${bob.subscription}/cancel`, `/portal/subscriptions/${bob.subscription}/change_plan`]) {
      const res = await page.request.get(`${stack.baseUrl}${path}`, { maxRedirects: 0 });
      const missing = await page.request.get(`${stack.baseUrl}${path.replace(theirs.id, 'in_doesnotexist').replace(bob.subscription, 'sub_doesnotexist')}`, { maxRedirects: 0 });
      expect({ path, status: res.status() }).toEqual({ path, status: 404 });
      const text = await res.text();
      expect(text).not.toContain(theirs.number);
      expect(text).not.toContain('Babbage');
      // The same page as for an id that exists nowhere, so an id tells nothing.
      expect(text).toBe(await missing.text());
    }
    const cancel = await page.request.post(`${stack.baseUrl}/portal/subscriptions/${bob.subscription}/cancel`, { form: { _csrf: csrf, reason: 'unused' }, maxRedirects: 0 });
    expect(cancel.status()).toBe(404);
    const change = await page.request.post(`${stack.baseUrl}/portal/subscriptions/${bob.subscription}/change_plan`, { form: { _csrf: csrf, plan_code: 'portal-business' }, maxRedirects: 0 });
    expect(change.status()).toBe(404);
    const after = await stack.readonly.get(`/v1/subscriptions/${bob.subscription}`);
    expect(after.body).toMatchObject({ plan_code: 'portal-team', cancel_at_period_end: false, cancellation_details: null });
    await page.context().close();
  });

  it('refuses an expired link, an altered one, and a form posted without the page\'s CSRF token', async () => {
    const em = stack.db.orm.em.fork();
    const secret = await signingSecret(em, 'portal_sessions');
    const { token: expired } = await createPortalSession(em, secret, { customerId: ada.customer, now: new Date(Date.now() - 2 * 3_600_000) });
    const page = await newPage(browser);
    const refused = await page.goto(`${stack.baseUrl}/portal/s/${expired}`);
    expect(refused!.status()).toBe(410);
    expect(await page.textContent('h1')).toBe('This link has expired; ask for a new one');
    expect((await page.context().cookies()).filter((c) => c.name === 'perennial_portal')).toEqual([]);

    // Ada's genuine link, rewritten to name Bob, or to last a day longer.
    const link = await portalLink(ada.customer);
    const [session, customer, expiry, signature] = link.slice(link.lastIndexOf('/') + 1).split('.');
    for (const altered of [[session, bob.customer, expiry, signature], [session, customer, String(Number(expiry) + 86_400), signature]]) {
      const res = await page.goto(`${stack.baseUrl}/portal/s/${altered.join('.')}`);
      expect(res!.status()).toBe(403);
      expect(await page.textContent('h1')).toBe('This link is not valid');
    }
    // A cookie holding an expired token (signed by us) opens nothing either.
    const stale = signPortalToken(secret, { sessionId: session, customerId: ada.customer, expiresAt: new Date(Date.now() - 1000) });
    await page.context().addCookies([{ name: 'perennial_portal', value: stale, domain: new URL(stack.baseUrl).hostname, path: '/portal' }]);
    expect((await page.goto(`${stack.baseUrl}/portal`))!.status()).toBe(410);

    await page.context().clearCookies();
    await page.goto(link);
    expect(new URL(page.url()).pathname).toBe('/portal');
    const forged = await page.request.post(`${stack.baseUrl}/portal/subscriptions/${ada.subscription}/cancel`, { form: { _csrf: 'forged', reason: 'unused' }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    expect((await stack.readonly.get(`/v1/subscriptions/${ada.subscription}`)).body.cancel_at_period_end).toBe(false);
    await page.context().close();
  });

  it('changes plan among the plans offered, after showing the preview; a plan not offered is refused', async () => {
    const page = await openPortal(bob.customer);
    await page.click(`[data-subscription="${bob.subscription}"] a:has-text("Change plan")`);
    const offered = await page.$$eval('input[name=plan_code]', (inputs) => inputs.map((i) => i.getAttribute('value')));
    // Its own plan is not offered again, and the enterprise plan is not on the operator's list.
    expect(offered).toEqual(['portal-business']);
    await page.check('input[value="portal-business"]');
    await page.click('button:has-text("Preview the change")');
    expect(await page.textContent('h1')).toBe('Change plan');
    // Credited the rest of the month at 79.00 and charged it at 199.00: a positive amount due now.
    const total = await page.textContent('[data-preview-total]');
    expect(total).toMatch(/^USD \d+\.\d{2}$/);
    expect(await page.textContent('.portal-preview')).toContain('Business');
    await screenshot(page, 'portal-change-plan');
    expect((await stack.readonly.get(`/v1/subscriptions/${bob.subscription}`)).body.plan_code).toBe('portal-team');

    const csrf = (await page.getAttribute('input[name=_csrf]', 'value'))!;
    const byHand = await page.request.post(`${stack.baseUrl}/portal/subscriptions/${bob.subscription}/change_plan`, { form: { _csrf: csrf, plan_code: 'portal-enterprise' } });
    expect(byHand.status()).toBe(400);
    expect(await byHand.text()).toContain('This plan cannot be chosen here');

    await Promise.all([page.waitForURL(/\/portal$/), page.click('button:has-text("Confirm and change plan")')]);
    expect(await page.textContent('.banner-done')).toBe('Your plan is now Business.');
    expect(await page.textContent(`[data-subscription="${bob.subscription}"]`)).toContain('USD 199.00 per month');
    const after = await stack.readonly.get(`/v1/subscriptions/${bob.subscription}`);
    expect(after.body.plan_code).toBe('portal-business');
    await page.context().close();
  });

  it('cancels at period end with the customer\'s reason, which the API shows', async () => {
    const page = await openPortal(ada.customer);
    await page.click(`[data-subscription="${ada.subscription}"] a:has-text("Cancel subscription")`);
    // Without a reason the form says so next to the reasons.
    const csrf = (await page.getAttribute('input[name=_csrf]', 'value'))!;
    const noReason = await page.request.post(`${stack.baseUrl}/portal/subscriptions/${ada.subscription}/cancel`, { form: { _csrf: csrf, reason: 'bored' } });
    expect(noReason.status()).toBe(400);
    expect(await noReason.text()).toContain('Choose the reason closest to yours.');

    await page.check('input[name=reason][value=switched_service]');
    await page.fill('textarea[name=comment]', 'We moved our billing in-house.');
    await screenshot(page, 'portal-cancel');
    await Promise.all([page.waitForURL(/\/portal$/), page.click('button:has-text("Cancel subscription")')]);
    expect(await page.textContent('.banner-done')).toMatch(/^Your subscription is cancelled\. It stays active until \d{1,2} \w{3} \d{4}\.$/);
    const card = await page.textContent(`[data-subscription="${ada.subscription}"]`);
    expect(card).toContain('Ends on');
    expect(card).toContain('I switched to another service');
    expect(await page.$(`[data-subscription="${ada.subscription}"] a:has-text("Cancel subscription")`)).toBeNull();

    const after = await eventually(
      'the cancellation is read from the workflow',
      async () => (await stack.readonly.get(`/v1/subscriptions/${ada.subscription}`)).body,
      (body) => body.state_source === 'workflow',
    );
    expect(after).toMatchObject({ status: 'active', cancel_at_period_end: true, cancellation_details: { reason: 'switched_service', comment: 'We moved our billing in-house.' } });
    await page.context().close();
  });

  it('says cards are not taken here when Stripe is not configured', async () => {
    const page = await openPortal(bob.customer);
    await page.click('.portal-nav a[href="/portal/payment_method"]');
    expect(await page.textContent('[data-no-cards]')).toContain('Cards are not taken here.');
    await page.context().close();
  });

  it('the API takes a reason with a cancellation and forgets it when the cancellation is taken back', async () => {
    const res = await stack.support.post(`/v1/subscriptions/${bob.subscription}/cancel`, { at: 'period_end', cancellation_details: { reason: 'too_expensive' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ cancel_at_period_end: true, cancellation_details: { reason: 'too_expensive', comment: null } });
    expectError(await stack.support.post(`/v1/subscriptions/${bob.subscription}/cancel`, { at: 'period_end', cancellation_details: { reason: 'meh' } }), 400, { param: 'cancellation_details.reason' });
    const back = await stack.support.post(`/v1/subscriptions/${bob.subscription}/reactivate`, {});
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ cancel_at_period_end: false, cancellation_details: null });

    // Taken back as a scheduled change (the console's "remove"), the reason goes too.
    const again = await stack.support.post(`/v1/subscriptions/${bob.subscription}/cancel`, { at: 'period_end', cancellation_details: { reason: 'unused', comment: 'Nobody logs in' } });
    const change = again.body.scheduled_changes.find((c: { type: string }) => c.type === 'cancel');
    const removed = await stack.support.delete(`/v1/subscriptions/${bob.subscription}/scheduled_changes/${change.id}`);
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ cancel_at_period_end: false, cancellation_details: null });
  });
});
