import { eventually, expectError, startStack, unique, waitForInvoices, type Stack } from './harness';

/**
 * Every collection lists the same way, as Stripe's lists do: `{object: "list", url, data,
 * has_more}`, at most `limit` objects (1-100, default 10), paged by the id of an object of the list
 * (`starting_after` forward, `ending_before` back), and has_more says whether the database holds
 * more in the direction read. Each suite has a database of its own, so counts here are exact.
 */
describe('lists', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack('lists');
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const ids = (res: { body: { data: Array<{ id: string }> } }) => res.body.data.map((o) => o.id);

  async function customer(currency = 'USD'): Promise<string> {
    const name = unique('customer');
    const res = await stack.admin.post('/v1/customers', { name, email: `${name}@example.test`, currency });
    expect(res.status).toBe(201);
    return res.body.id;
  }

  it('customers: newest first, forward and back by cursor, has_more true exactly while more remain', async () => {
    // Given three customers, the only ones in this database
    const c1 = await customer();
    const c2 = await customer();
    const c3 = await customer();
    // Then the first page of two holds the newest two, and says there are more
    const first = await stack.readonly.get('/v1/customers?limit=2');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ object: 'list', url: '/v1/customers', has_more: true });
    expect(ids(first)).toEqual([c3, c2]);
    // And the page after c2 holds the last one, and says there are no more
    const second = await stack.readonly.get(`/v1/customers?limit=2&starting_after=${c2}`);
    expect({ ids: ids(second), has_more: second.body.has_more }).toEqual({ ids: [c1], has_more: false });
    // And paging back from c1 returns the newer ones in the list's order
    const back = await stack.readonly.get(`/v1/customers?limit=2&ending_before=${c1}`);
    expect({ ids: ids(back), has_more: back.body.has_more }).toEqual({ ids: [c3, c2], has_more: false });
    const backOne = await stack.readonly.get(`/v1/customers?limit=1&ending_before=${c1}`);
    expect({ ids: ids(backOne), has_more: backOne.body.has_more }).toEqual({ ids: [c2], has_more: true });
    // And without a limit, all three fit the default page of 10
    const all = await stack.readonly.get('/v1/customers');
    expect({ ids: ids(all), has_more: all.body.has_more }).toEqual({ ids: [c3, c2, c1], has_more: false });
    // And a filter narrows the list
    const one = await stack.readonly.get(`/v1/customers?email=${encodeURIComponent((await stack.readonly.get(`/v1/customers/${c2}`)).body.email)}`);
    expect(ids(one)).toEqual([c2]);
  });

  it('refuses an unknown cursor (400, naming it) and a limit outside 1-100', async () => {
    expectError(await stack.readonly.get('/v1/customers?starting_after=cus_missing'), 400, { type: 'invalid_request_error', code: 'resource_missing', param: 'starting_after' });
    expectError(await stack.readonly.get('/v1/subscriptions?ending_before=sub_missing'), 400, { type: 'invalid_request_error', code: 'resource_missing', param: 'ending_before' });
    expectError(await stack.readonly.get('/v1/coupons?limit=0'), 400, { code: 'parameter_invalid', param: 'limit' });
    expectError(await stack.readonly.get('/v1/tax_rates?limit=101'), 400, { code: 'parameter_invalid', param: 'limit' });
    expectError(await stack.readonly.get('/v1/metrics?colour=blue'), 400, { code: 'parameter_unknown', param: 'colour' });
  });

  it('subscriptions filter by customer, status and plan code, across every version of the plan', async () => {
    // Given plans A and B, and a second version of A
    const a = unique('plan-a');
    const b = unique('plan-b');
    for (const code of [a, b]) expect((await stack.admin.post('/v1/plans', { code, name: code, currency: 'USD', interval: 'month', amount: '10.00' })).status).toBe(201);
    const alice = await customer();
    const bob = await customer();
    const s1 = (await stack.admin.post('/v1/subscriptions', { customer_id: alice, plan_code: a })).body.id;
    expect((await stack.admin.post(`/v1/plans/${a}/versions`, { amount: '12.00' })).status).toBe(201);
    // And one subscription on A v2 that starts next year (scheduled), one of Bob's on B
    const s2 = (await stack.admin.post('/v1/subscriptions', { customer_id: alice, plan_code: a, start_at: `${new Date().getUTCFullYear() + 1}-01-01T00:00:00Z` })).body.id;
    const s3 = (await stack.admin.post('/v1/subscriptions', { customer_id: bob, plan_code: b })).body.id;
    // Then each filter, alone or together, finds exactly its subscriptions, newest first
    expect(ids(await stack.readonly.get('/v1/subscriptions'))).toEqual([s3, s2, s1]);
    expect(ids(await stack.readonly.get(`/v1/subscriptions?customer_id=${alice}`))).toEqual([s2, s1]);
    expect(ids(await stack.readonly.get(`/v1/subscriptions?plan_code=${a}`))).toEqual([s2, s1]);
    // (the status filter reads the state each workflow mirrors, which passes through "scheduled" as it starts)
    const scheduled = await eventually('only s2 is scheduled', async () => ids(await stack.readonly.get(`/v1/subscriptions?plan_code=${a}&status=scheduled`)), (list) => list.length === 1);
    expect(scheduled).toEqual([s2]);
    expect(ids(await stack.readonly.get(`/v1/subscriptions?plan_code=${a}&status=active`))).toEqual([s1]);
    expect(ids(await stack.readonly.get(`/v1/subscriptions?customer_id=${bob}&plan_code=${a}`))).toEqual([]);
    const page = await stack.readonly.get(`/v1/subscriptions?customer_id=${alice}&limit=1`);
    expect(page.body).toMatchObject({ object: 'list', url: '/v1/subscriptions', has_more: true, data: [expect.objectContaining({ id: s2, object: 'subscription', plan_code: a, plan_version: 2 })] });
    const next = await stack.readonly.get(`/v1/subscriptions?customer_id=${alice}&limit=1&starting_after=${s2}`);
    expect({ ids: ids(next), has_more: next.body.has_more }).toEqual({ ids: [s1], has_more: false });
    expectError(await stack.readonly.get('/v1/subscriptions?status=sleeping'), 400, { code: 'parameter_invalid', param: 'status' });
    // And plans list every version, newest first; `code` narrows to one plan's
    const versions = await stack.readonly.get(`/v1/plans?code=${a}`);
    expect(versions.body.data.map((p: any) => [p.code, p.version])).toEqual([
      [a, 2],
      [a, 1],
    ]);
    const oldest = await stack.readonly.get(`/v1/plans/${a}/versions?limit=1`);
    expect(oldest.body).toMatchObject({ url: `/v1/plans/${a}/versions`, has_more: true, data: [expect.objectContaining({ version: 1 })] });
  });

  it('metrics, coupons and tax rates page one at a time to the end', async () => {
    const created: Record<string, string[]> = { metrics: [], coupons: [], tax_rates: [] };
    for (let i = 0; i < 2; i++) {
      created.metrics.push((await stack.admin.post('/v1/metrics', { code: unique('calls'), name: 'Calls', aggregation: 'count' })).body.id);
      created.coupons.push((await stack.admin.post('/v1/coupons', { code: unique('off'), name: 'Off', percent_off: '10', duration: 'once' })).body.id);
      created.tax_rates.push((await stack.admin.post('/v1/tax_rates', { code: unique('vat'), name: 'VAT', percentage: '20' })).body.id);
    }
    for (const [path, [older, newer]] of Object.entries(created)) {
      const first = await stack.readonly.get(`/v1/${path}?limit=1`);
      expect({ url: first.body.url, ids: ids(first), has_more: first.body.has_more }).toEqual({ url: `/v1/${path}`, ids: [newer], has_more: true });
      const second = await stack.readonly.get(`/v1/${path}?limit=1&starting_after=${newer}`);
      expect({ ids: ids(second), has_more: second.body.has_more }).toEqual({ ids: [older], has_more: false });
      const back = await stack.readonly.get(`/v1/${path}?limit=1&ending_before=${older}`);
      expect({ ids: ids(back), has_more: back.body.has_more }).toEqual({ ids: [newer], has_more: false });
    }
  });

  it("an invoice's payments, refunds and credit notes, and the ledger's transactions, page oldest (or newest) first", async () => {
    // Given two invoices of 10.00: one paid in two parts and refunded twice, one credited twice
    const plan = unique('monthly');
    expect((await stack.admin.post('/v1/plans', { code: plan, name: 'Monthly', currency: 'USD', interval: 'month', amount: '10.00' })).status).toBe(201);
    const invoiceOf = async () => {
      const sub = await stack.admin.post('/v1/subscriptions', { customer_id: await customer(), plan_code: plan });
      return (await waitForInvoices(stack.admin, sub.body.id, 1))[0];
    };
    const paid = await invoiceOf();
    const p1 = (await stack.admin.post(`/v1/invoices/${paid.id}/payments`, { amount: '6.00' })).body.id;
    const p2 = (await stack.admin.post(`/v1/invoices/${paid.id}/payments`, { amount: '4.00' })).body.id;
    const r1 = (await stack.admin.post(`/v1/invoices/${paid.id}/refunds`, { amount: '1.00' })).body.refunds[0].id;
    const r2 = (await stack.admin.post(`/v1/invoices/${paid.id}/refunds`, { amount: '2.00' })).body.refunds[0].id;
    const credited = await invoiceOf();
    const n1 = (await stack.admin.post(`/v1/invoices/${credited.id}/credit_notes`, { amount: '2.00' })).body.id;
    const n2 = (await stack.admin.post(`/v1/invoices/${credited.id}/credit_notes`, { amount: '3.00' })).body.id;
    // Then each list pages forward and back, oldest first
    for (const [path, [older, newer]] of [
      [`/v1/invoices/${paid.id}/payments`, [p1, p2]],
      [`/v1/invoices/${paid.id}/refunds`, [r1, r2]],
      [`/v1/invoices/${credited.id}/credit_notes`, [n1, n2]],
    ] as const) {
      const all = await stack.readonly.get(path);
      expect({ url: all.body.url, ids: ids(all), has_more: all.body.has_more }).toEqual({ url: path, ids: [older, newer], has_more: false });
      const first = await stack.readonly.get(`${path}?limit=1`);
      expect({ ids: ids(first), has_more: first.body.has_more }).toEqual({ ids: [older], has_more: true });
      const second = await stack.readonly.get(`${path}?limit=1&starting_after=${older}`);
      expect({ ids: ids(second), has_more: second.body.has_more }).toEqual({ ids: [newer], has_more: false });
      const back = await stack.readonly.get(`${path}?limit=1&ending_before=${newer}`);
      expect({ ids: ids(back), has_more: back.body.has_more }).toEqual({ ids: [older], has_more: false });
    }
    expectError(await stack.readonly.get('/v1/invoices/in_missing/refunds'), 404, { code: 'resource_missing', param: 'id' });
    // And the ledger lists the paid invoice's transactions newest first, each balanced:
    // issued, two payments, two refunds
    const ledger = await stack.readonly.get(`/v1/ledger/transactions?invoice_id=${paid.id}`);
    expect(ledger.status).toBe(200);
    expect(ledger.body).toMatchObject({ object: 'list', url: '/v1/ledger/transactions', has_more: false });
    expect(ledger.body.data).toHaveLength(5);
    for (const t of ledger.body.data) {
      expect(t).toMatchObject({ object: 'ledger_transaction', invoice_id: paid.id, currency: 'USD' });
      const side = (d: string) => t.entries.filter((e: any) => e.direction === d).reduce((s: number, e: any) => s + Math.round(Number(e.amount) * 100), 0);
      expect(side('debit')).toBe(side('credit'));
    }
    const [newest, next] = ids(ledger);
    const page = await stack.readonly.get(`/v1/ledger/transactions?invoice_id=${paid.id}&limit=1`);
    expect({ ids: ids(page), has_more: page.body.has_more }).toEqual({ ids: [newest], has_more: true });
    const after = await stack.readonly.get(`/v1/ledger/transactions?invoice_id=${paid.id}&limit=1&starting_after=${newest}`);
    expect(ids(after)).toEqual([next]);
  });
});
