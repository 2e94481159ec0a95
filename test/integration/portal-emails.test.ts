import type { Browser } from 'playwright-core';
import { createCollectionActivities } from '../../activities/collection';
import { launchBrowser, newPage } from '../support/browser';
import { daysAgo, startStack, waitForInvoices, type Stack } from './harness';

/**
 * The collection e-mails that need the customer carry a portal link made for that e-mail: it opens
 * that customer's portal, and the same e-mail written again (a retried activity) names the same link.
 */
describe('portal links in collection e-mails', () => {
  let stack: Stack;
  let browser: Browser;
  let customerId: string;
  let invoiceId: string;

  beforeAll(async () => {
    stack = await startStack('portal-emails');
    browser = await launchBrowser();
    expect((await stack.admin.post('/v1/plans', { code: 'mail-pro', name: 'Pro', currency: 'USD', interval: 'month', amount: '49.00' })).status).toBe(201);
    const customer = await stack.admin.post('/v1/customers', { name: 'Grace Hopper Inc', email: 'ap@hopper.example', currency: 'USD' });
    customerId = customer.body.id;
    const subscription = await stack.admin.post('/v1/subscriptions', { customer_id: customerId, plan_code: 'mail-pro', start_at: daysAgo(3) });
    [{ id: invoiceId }] = await waitForInvoices(stack.admin, subscription.body.id, 1);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  const emailsOf = async (template: string) => (await stack.readonly.get(`/v1/emails?customer_id=${customerId}&limit=100`)).body.data.filter((m: any) => m.template === template);
  const linkIn = (body: string): string => {
    const found = /(http:\/\/\S+\/portal\/s\/\S+)/.exec(body);
    if (!found) throw new Error(`no portal link in:\n${body}`);
    return found[1];
  };

  it('a payment failure e-mail links the portal of its customer, and its retry writes the same link', async () => {
    const activities = createCollectionActivities({ orm: stack.db.orm, stripe: null, mail: null, publicUrl: stack.baseUrl });
    const request = { invoiceId, template: 'payment_failed' as const, key: `${invoiceId}:attempt-1`, declineReason: 'Your card has insufficient funds.', nextRetryAt: new Date(Date.now() + 3 * 86_400_000).toISOString() };
    await activities.notifyCustomer(request);
    const [email] = await emailsOf('payment_failed');
    expect(email.body).toContain('Update your card in your billing portal (the link works for 24 hours):');
    const link = linkIn(email.body);
    expect(link.startsWith(`${stack.baseUrl}/portal/s/bps_`)).toBe(true);

    // The activity retried (its first try's answer lost): one e-mail, one portal session, the same link.
    await createCollectionActivities({ orm: stack.db.orm, stripe: null, mail: null, publicUrl: stack.baseUrl }).notifyCustomer(request);
    expect((await emailsOf('payment_failed')).map((m: any) => linkIn(m.body))).toEqual([link]);
    const [{ count }] = await stack.db.orm.em.fork().execute<Array<{ count: number }>>('select count(*)::int as count from portal_sessions where customer_id = ?', [customerId]);
    expect(count).toBe(1);

    const page = await newPage(browser);
    await page.goto(link);
    expect(new URL(page.url()).pathname).toBe('/portal');
    expect(await page.textContent('h1')).toBe('Grace Hopper Inc');
    expect(await page.textContent('[data-amount-due]')).toBe('USD 49.00');
    expect(await page.$(`tr[data-invoice="${invoiceId}"]`)).not.toBeNull();
    await page.context().close();
  });

  it('the reminder and the action-required e-mails carry links of their own; without a public address there is none', async () => {
    const activities = createCollectionActivities({ orm: stack.db.orm, stripe: null, mail: null, publicUrl: stack.baseUrl });
    await activities.notifyCustomer({ invoiceId, template: 'payment_reminder', key: `${invoiceId}:reminder`, finalRetryAt: new Date(Date.now() + 5 * 86_400_000).toISOString() });
    await activities.notifyCustomer({ invoiceId, template: 'payment_action_required', key: `${invoiceId}:attempt-2`, paymentIntentId: 'pi_123', actionUrl: null });
    const [reminder] = await emailsOf('payment_reminder');
    const [action] = await emailsOf('payment_action_required');
    const failed = linkIn((await emailsOf('payment_failed'))[0].body);
    expect(new Set([linkIn(reminder.body), linkIn(action.body), failed]).size).toBe(3);

    const unlinked = createCollectionActivities({ orm: stack.db.orm, stripe: null, mail: null });
    await unlinked.notifyCustomer({ invoiceId, template: 'payment_method_required', key: `${invoiceId}:attempt-3`, declineReason: 'The card was reported stolen.' });
    const [required] = await emailsOf('payment_method_required');
    expect(required.body).not.toContain('/portal/');
  });
});
