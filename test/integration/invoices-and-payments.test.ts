import Decimal from 'decimal.js';
import {
  balanceOf,
  balances,
  daysAgo,
  expectBooksBalanced,
  expectError,
  startStack,
  tableCounts,
  unique,
  waitForInvoices,
  type Stack,
} from './harness';

/**
 * Invoices issued by real subscription workflows on the dev server, read and paid through the API,
 * with the payments' effect on the double-entry ledger.
 */
describe('invoices and payments', () => {
  let stack: Stack;
  /** A customer billed daily for 6 days (5 elapsed + today), oldest invoice first. */
  let alice: { customerId: string; subscriptionId: string; invoices: any[] };
  /** Another customer of the same plan, billed for 2 days. */
  let bob: { customerId: string; subscriptionId: string; invoices: any[] };
  let nextInvoice: () => any;

  async function billedCustomer(name: string, plan: string, daysBack: number) {
    const customer = await stack.admin.post('/v1/customers', { name, email: `${name.toLowerCase()}@example.test`, currency: 'USD' });
    expect(customer.status).toBe(201);
    const sub = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: plan, start_at: daysAgo(daysBack) });
    expect(sub.status).toBe(201);
    const invoices = await waitForInvoices(stack.admin, sub.body.id, daysBack + 1);
    return { customerId: customer.body.id as string, subscriptionId: sub.body.id as string, invoices };
  }

  beforeAll(async () => {
    stack = await startStack('invoices');
    const plan = unique('daily-usd');
    expect((await stack.admin.post('/v1/plans', { code: plan, name: 'Daily', currency: 'USD', interval: 'day', amount: '10.00' })).status).toBe(201);
    alice = await billedCustomer('Alice', plan, 5);
    bob = await billedCustomer('Bob', plan, 1);
    // Each payment test takes an invoice of its own.
    const unpaid = [...alice.invoices];
    nextInvoice = () => {
      const invoice = unpaid.shift();
      if (!invoice) throw new Error('the suite needs more invoices');
      return invoice;
    };
  });

  afterAll(async () => {
    await stack?.stop();
  });

  describe('reading', () => {
    it('lists a subscription\'s invoices newest first, and only that subscription\'s', async () => {
      const res = await stack.readonly.get(`/v1/invoices?subscription_id=${alice.subscriptionId}`);
      expect(res.status).toBe(200);
      expect(res.body.has_more).toBe(false);
      expect(res.body.data.map((i: any) => i.id)).toEqual([...alice.invoices].reverse().map((i) => i.id));
      expect(res.body.data.every((i: any) => i.subscription_id === alice.subscriptionId)).toBe(true);
    });

    it('lists a customer\'s invoices by customer_id', async () => {
      const res = await stack.readonly.get(`/v1/invoices?customer_id=${bob.customerId}`);
      expect(res.status).toBe(200);
      expect(res.body.data.map((i: any) => i.id)).toEqual([...bob.invoices].reverse().map((i) => i.id));
      expect((await stack.readonly.get(`/v1/invoices?customer_id=${alice.customerId}&subscription_id=${bob.subscriptionId}`)).body).toEqual({
        object: 'list',
        url: '/v1/invoices',
        data: [],
        has_more: false,
      });
    });

    it('pages with limit and starting_after, visiting every invoice exactly once', async () => {
      const seen: string[] = [];
      let cursor: string | undefined;
      const pages: Array<{ size: number; hasMore: boolean }> = [];
      for (;;) {
        const res = await stack.readonly.get(`/v1/invoices?subscription_id=${alice.subscriptionId}&limit=4${cursor ? `&starting_after=${cursor}` : ''}`);
        expect(res.status).toBe(200);
        pages.push({ size: res.body.data.length, hasMore: res.body.has_more });
        seen.push(...res.body.data.map((i: any) => i.id));
        if (!res.body.has_more) break;
        cursor = res.body.data[res.body.data.length - 1].id;
      }
      expect(pages).toEqual([
        { size: 4, hasMore: true },
        { size: 2, hasMore: false },
      ]);
      expect(seen).toEqual([...alice.invoices].reverse().map((i) => i.id));
    });

    it('refuses a malformed list query with 400 naming the parameter', async () => {
      expectError(await stack.readonly.get('/v1/invoices?limit=0'), 400, { param: 'limit' });
      expectError(await stack.readonly.get('/v1/invoices?limit=lots'), 400, { param: 'limit' });
      expectError(await stack.readonly.get('/v1/invoices?starting_after=in_doesnotexist'), 400, { param: 'starting_after' });
      expectError(await stack.readonly.get('/v1/invoices?colour=red'), 400, { param: 'colour' });
    });

    it('shows an invoice with its number, amounts, period and lines', async () => {
      const first = alice.invoices[0];
      const res = await stack.readonly.get(`/v1/invoices/${first.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        id: first.id,
        number: expect.stringMatching(/^INV-\d{6}$/),
        status: 'open',
        currency: 'USD',
        customer_id: alice.customerId,
        subscription_id: alice.subscriptionId,
        subtotal: '10.00',
        total: '10.00',
        amount_paid: '0.00',
        amount_due: '10.00',
        period_start: first.period_start,
        period_end: first.period_end,
      });
      expect(res.body.lines).toEqual([
        expect.objectContaining({ description: 'Daily', quantity: '1', amount: '10.00', period_start: first.period_start, period_end: first.period_end }),
      ]);
    });

    it('numbers invoices without gaps, in the order they were issued', async () => {
      const all = (await stack.readonly.get('/v1/invoices?limit=100')).body.data.reverse();
      expect(all.map((i: any) => i.number)).toEqual(all.map((_: unknown, n: number) => `INV-${String(n + 1).padStart(6, '0')}`));
    });

    it('answers an unknown invoice with 404', async () => {
      expectError(await stack.readonly.get('/v1/invoices/in_doesnotexist'), 404, { type: 'not_found_error' });
      expectError(await stack.admin.post('/v1/invoices/in_doesnotexist/payments', { amount: '1.00' }), 404, { type: 'not_found_error' });
    });
  });

  describe('paying', () => {
    it('marks an invoice paid when it is paid in full (201), and debits cash and credits receivables', async () => {
      const invoice = nextInvoice();
      const before = await balances(stack.admin);
      const res = await stack.support.post(`/v1/invoices/${invoice.id}/payments`, { amount: '10.00', reference: 'wire 2027-001' });
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({ invoice_id: invoice.id, amount: '10.00', currency: 'USD', reference: 'wire 2027-001' });
      expect(res.body.invoice).toMatchObject({ id: invoice.id, status: 'paid', amount_paid: '10.00', amount_due: '0.00' });
      expect((await stack.readonly.get(`/v1/invoices/${invoice.id}`)).body).toMatchObject({ status: 'paid', amount_due: '0.00', paid_at: expect.any(String) });

      const after = await balances(stack.admin);
      const moved = (account: string, side: 'debits' | 'credits') => {
        const of = (list: typeof before) => new Decimal(list.find((b) => b.account === account && b.currency === 'USD')?.[side] ?? 0);
        return of(after).minus(of(before)).toFixed(2);
      };
      expect({ cashDebited: moved('cash', 'debits'), receivablesCredited: moved('accounts_receivable', 'credits') }).toEqual({
        cashDebited: '10.00',
        receivablesCredited: '10.00',
      });
      expect(balanceOf(after, 'cash', 'USD').minus(balanceOf(before, 'cash', 'USD')).toFixed(2)).toBe('10.00');
      expect(balanceOf(before, 'accounts_receivable', 'USD').minus(balanceOf(after, 'accounts_receivable', 'USD')).toFixed(2)).toBe('10.00');
      expectBooksBalanced(after);
    });

    it('accepts partial payments: the invoice stays open with the rest due until the last one', async () => {
      const invoice = nextInvoice();
      const first = await stack.admin.post(`/v1/invoices/${invoice.id}/payments`, { amount: '2.50' });
      expect(first.status).toBe(201);
      expect(first.body.invoice).toMatchObject({ status: 'open', amount_paid: '2.50', amount_due: '7.50' });
      const second = await stack.admin.post(`/v1/invoices/${invoice.id}/payments`, { amount: '7.49' });
      expect(second.body.invoice).toMatchObject({ status: 'open', amount_paid: '9.99', amount_due: '0.01' });
      const last = await stack.admin.post(`/v1/invoices/${invoice.id}/payments`, { amount: '0.01' });
      expect(last.status).toBe(201);
      expect(last.body.invoice).toMatchObject({ status: 'paid', amount_paid: '10.00', amount_due: '0.00' });
    });

    it('refuses to pay an invoice that is already paid (409) and records nothing', async () => {
      const invoice = nextInvoice();
      expect((await stack.admin.post(`/v1/invoices/${invoice.id}/payments`, { amount: '10.00' })).status).toBe(201);
      const before = await tableCounts(stack.db);
      expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/payments`, { amount: '10.00' }), 409, { code: 'invoice_not_open' });
      expect(await tableCounts(stack.db)).toEqual(before);
      expect((await stack.readonly.get(`/v1/invoices/${invoice.id}`)).body).toMatchObject({ amount_paid: '10.00', amount_due: '0.00' });
    });

    it('records only one of two full payments racing for the same invoice', async () => {
      const invoice = nextInvoice();
      const before = await tableCounts(stack.db);
      const results = await Promise.all([
        stack.admin.post(`/v1/invoices/${invoice.id}/payments`, { amount: '10.00', reference: 'first' }),
        stack.support.post(`/v1/invoices/${invoice.id}/payments`, { amount: '10.00', reference: 'second' }),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
      expect((await tableCounts(stack.db)).payments).toBe(before.payments + 1);
      expect((await stack.readonly.get(`/v1/invoices/${invoice.id}`)).body).toMatchObject({ status: 'paid', amount_paid: '10.00', amount_due: '0.00' });
    });

    it('refuses a payment of more than is due with 422 naming amount, and records nothing', async () => {
      const invoice = nextInvoice();
      expect((await stack.admin.post(`/v1/invoices/${invoice.id}/payments`, { amount: '4.00' })).status).toBe(201);
      const before = await tableCounts(stack.db);
      expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/payments`, { amount: '6.01' }), 422, { param: 'amount' });
      expect(await tableCounts(stack.db)).toEqual(before);
      expect((await stack.readonly.get(`/v1/invoices/${invoice.id}`)).body).toMatchObject({ status: 'open', amount_due: '6.00' });
    });

    describe('refuses a malformed payment with 400 naming the field, and records nothing', () => {
      it.each([
        { what: 'an amount as a JSON number', body: { amount: 10 }, param: 'amount' },
        { what: 'a negative amount', body: { amount: '-1.00' }, param: 'amount' },
        { what: 'a zero amount', body: { amount: '0.00' }, param: 'amount' },
        { what: 'more decimals than USD has', body: { amount: '1.001' }, param: 'amount' },
        { what: 'no amount', body: { reference: 'cheque 12' }, param: 'amount' },
        { what: 'an unknown field', body: { amount: '1.00', method: 'card' }, param: 'method' },
      ])('$what', async ({ body, param }) => {
        const invoice = bob.invoices[0];
        const before = await tableCounts(stack.db);
        expectError(await stack.admin.post(`/v1/invoices/${invoice.id}/payments`, body), 400, { type: 'invalid_request_error', param });
        expect(await tableCounts(stack.db)).toEqual(before);
        expect((await stack.readonly.get(`/v1/invoices/${invoice.id}`)).body).toMatchObject({ status: 'open', amount_paid: '0.00', amount_due: '10.00' });
      });
    });

    it('forbids a readonly key to record a payment (403)', async () => {
      const invoice = bob.invoices[1];
      const before = await tableCounts(stack.db);
      expectError(await stack.readonly.post(`/v1/invoices/${invoice.id}/payments`, { amount: '10.00' }), 403, { type: 'permission_error' });
      expect(await tableCounts(stack.db)).toEqual(before);
    });
  });

  describe('the ledger', () => {
    it('balances: total debits equal total credits, and cash equals what was paid', async () => {
      const books = await balances(stack.readonly);
      expectBooksBalanced(books);
      const [{ paid }] = await stack.db.orm.em.fork().execute<Array<{ paid: string }>>('select coalesce(sum(amount), 0) as paid from payments');
      expect(balanceOf(books, 'cash', 'USD').toFixed(2)).toBe(new Decimal(paid).toFixed(2));
      // Receivables are what the invoices still have due.
      const [{ due }] = await stack.db.orm.em.fork().execute<Array<{ due: string }>>('select sum(amount_due) as due from invoices');
      expect(balanceOf(books, 'accounts_receivable', 'USD').toFixed(2)).toBe(new Decimal(due).toFixed(2));
      for (const row of books) {
        expect(row).toEqual({
          account: expect.any(String),
          currency: 'USD',
          debits: expect.stringMatching(/^\d+\.\d{2}$/),
          credits: expect.stringMatching(/^\d+\.\d{2}$/),
          balance: expect.stringMatching(/^-?\d+\.\d{2}$/),
          normal_balance: expect.stringMatching(/^(debit|credit)$/),
        });
      }
    });
  });
});
