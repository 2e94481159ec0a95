import { expectError, KEYS, startStack, tableCounts, unique, type Stack } from './harness';

/**
 * The API's public contract against real Postgres and the Temporal dev server: who may call what,
 * the error envelope, customers and plans, and that a rejected request writes nothing at all.
 */
describe('API contract', () => {
  let stack: Stack;

  beforeAll(async () => {
    // Nothing here starts a subscription, so no worker is needed.
    stack = await startStack('api-contract', { worker: false });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  describe('access', () => {
    it('answers GET /health without any key', async () => {
      const res = await fetch(`${stack.baseUrl}/health`);
      expect(res.status).toBe(200);
    });

    it('refuses a request without a key, or with a key it does not know, with 401', async () => {
      expectError(await stack.as(null).get('/v1/ledger/balances'), 401, { type: 'authentication_error' });
      expectError(await stack.as('sk_test_not_a_real_key').get('/v1/ledger/balances'), 401, { type: 'authentication_error' });
      expectError(await stack.as(null).post('/v1/customers', { name: 'A', email: 'a@example.test', currency: 'USD' }), 401, {
        type: 'authentication_error',
      });
      const basic = await fetch(`${stack.baseUrl}/v1/ledger/balances`, { headers: { authorization: `Basic ${KEYS.admin}` } });
      expect(basic.status).toBe(401);
    });

    it('lets every role read', async () => {
      for (const api of [stack.admin, stack.support, stack.readonly]) {
        expect((await api.get('/v1/ledger/balances')).status).toBe(200);
      }
    });

    it('forbids a readonly key to write (403) and writes nothing', async () => {
      const before = await tableCounts(stack.db);
      expectError(await stack.readonly.post('/v1/customers', { name: 'Ro', email: 'ro@example.test', currency: 'USD' }), 403, {
        type: 'permission_error',
      });
      expectError(await stack.readonly.post('/v1/plans', { code: unique('ro'), name: 'Ro', currency: 'USD', interval: 'month', amount: '1.00' }), 403, {
        type: 'permission_error',
      });
      expect(await tableCounts(stack.db)).toEqual(before);
    });

    it('lets support create customers but not plans (403)', async () => {
      const customer = await stack.support.post('/v1/customers', { name: 'Support-made', email: 'sm@example.test', currency: 'EUR' });
      expect(customer.status).toBe(201);
      const before = await tableCounts(stack.db);
      expectError(
        await stack.support.post('/v1/plans', { code: unique('support'), name: 'Nope', currency: 'EUR', interval: 'month', amount: '1.00' }),
        403,
        { type: 'permission_error' },
      );
      expect(await tableCounts(stack.db)).toEqual(before);
    });
  });

  describe('error envelope', () => {
    it('answers an unknown route with a 404 in the error envelope', async () => {
      expectError(await stack.admin.get('/v1/nothing-here'), 404, { type: 'not_found_error' });
    });

    it('answers a body that is not JSON with a 400 in the error envelope', async () => {
      expectError(await stack.admin.post('/v1/customers', '{"name": "broken'), 400, { type: 'invalid_request_error' });
    });
  });

  describe('customers', () => {
    it('creates a customer (201) that can then be fetched by id', async () => {
      const externalId = unique('crm');
      const created = await stack.admin.post('/v1/customers', { name: 'Acme', email: 'billing@acme.test', currency: 'USD', external_id: externalId });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ name: 'Acme', email: 'billing@acme.test', currency: 'USD', external_id: externalId });
      expect(created.body.id).toEqual(expect.any(String));

      const fetched = await stack.readonly.get(`/v1/customers/${created.body.id}`);
      expect(fetched.status).toBe(200);
      expect(fetched.body).toEqual(created.body);
    });

    it('answers an unknown customer id with 404', async () => {
      expectError(await stack.admin.get('/v1/customers/cus_doesnotexist'), 404, { type: 'not_found_error' });
    });

    it('refuses a second customer with the same external_id (409) and keeps only the first', async () => {
      const externalId = unique('dup');
      const first = await stack.admin.post('/v1/customers', { name: 'First', email: 'first@example.test', currency: 'USD', external_id: externalId });
      expect(first.status).toBe(201);
      const before = await tableCounts(stack.db);
      const second = await stack.admin.post('/v1/customers', { name: 'Second', email: 'second@example.test', currency: 'USD', external_id: externalId });
      expectError(second, 409, { type: 'conflict_error', param: 'external_id' });
      expect(await tableCounts(stack.db)).toEqual(before);
      expect((await stack.admin.get(`/v1/customers/${first.body.id}`)).body.name).toBe('First');
    });
  });

  describe('plans', () => {
    it('creates a plan (201) that can then be fetched by its code', async () => {
      const code = unique('pro');
      const created = await stack.admin.post('/v1/plans', {
        code,
        name: 'Pro',
        currency: 'USD',
        interval: 'month',
        interval_count: 3,
        trial_days: 14,
        amount: '49.00',
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ code, name: 'Pro', currency: 'USD', interval: 'month', interval_count: 3, trial_days: 14, amount: '49.00' });
      const fetched = await stack.readonly.get(`/v1/plans/${code}`);
      expect(fetched.status).toBe(200);
      expect(fetched.body).toEqual(created.body);
    });

    it('answers an unknown plan code with 404', async () => {
      expectError(await stack.admin.get('/v1/plans/no-such-plan'), 404, { type: 'not_found_error' });
    });

    it('refuses a second plan with the same code (409) and keeps the first', async () => {
      const code = unique('dup-plan');
      expect((await stack.admin.post('/v1/plans', { code, name: 'One', currency: 'USD', interval: 'month', amount: '10.00' })).status).toBe(201);
      const before = await tableCounts(stack.db);
      expectError(await stack.admin.post('/v1/plans', { code, name: 'Two', currency: 'USD', interval: 'year', amount: '99.00' }), 409, {
        type: 'conflict_error',
        param: 'code',
      });
      expect(await tableCounts(stack.db)).toEqual(before);
      expect((await stack.admin.get(`/v1/plans/${code}`)).body).toMatchObject({ name: 'One', amount: '10.00' });
    });

    it.each([
      ['JPY', '1000', '1000'],
      ['KWD', '5', '5.000'],
      ['KWD', '1.234', '1.234'],
      ['USD', '49', '49.00'],
    ])('shows a %s amount of "%s" with exactly the currency\'s decimals: "%s"', async (currency, amount, shown) => {
      const code = unique(`dec-${currency}`);
      const created = await stack.admin.post('/v1/plans', { code, name: `Plan ${currency}`, currency, interval: 'month', amount });
      expect(created.status).toBe(201);
      expect(created.body.amount).toBe(shown);
      expect((await stack.admin.get(`/v1/plans/${code}`)).body.amount).toBe(shown);
    });
  });

  describe('a rejected request names the offending field and writes nothing', () => {
    let usdCustomerId: string;
    let jpyPlanCode: string;
    let usdPlanCode: string;

    beforeAll(async () => {
      const customer = await stack.admin.post('/v1/customers', { name: 'Validation', email: 'v@example.test', currency: 'USD' });
      usdCustomerId = customer.body.id;
      jpyPlanCode = unique('jpy');
      usdPlanCode = unique('usd');
      expect((await stack.admin.post('/v1/plans', { code: jpyPlanCode, name: 'Yen', currency: 'JPY', interval: 'month', amount: '1000' })).status).toBe(201);
      expect((await stack.admin.post('/v1/plans', { code: usdPlanCode, name: 'Dollar', currency: 'USD', interval: 'month', amount: '10.00' })).status).toBe(201);
    });

    const customer = { name: 'Valid', email: 'valid@example.test', currency: 'USD' };
    const plan = (): Record<string, unknown> => ({ code: unique('bad'), name: 'Bad', currency: 'USD', interval: 'month', amount: '10.00' });

    it.each<[string, () => Record<string, unknown>, string]>([
      ['an unknown field', () => ({ ...customer, nickname: 'Val' }), 'nickname'],
      ['a name of the wrong type', () => ({ ...customer, name: 42 }), 'name'],
      ['a missing email', () => ({ name: 'Valid', currency: 'USD' }), 'email'],
      ['an email that is not one', () => ({ ...customer, email: 'not-an-email' }), 'email'],
      ['a currency that is not ISO 4217', () => ({ ...customer, currency: 'XYZ' }), 'currency'],
      ['a currency of the wrong type', () => ({ ...customer, currency: 840 }), 'currency'],
    ])('POST /v1/customers with %s is a 400 naming %s', async (_what, body, param) => {
      const before = await tableCounts(stack.db);
      expectError(await stack.admin.post('/v1/customers', body()), 400, { type: 'invalid_request_error', param });
      expect(await tableCounts(stack.db)).toEqual(before);
    });

    it.each<[string, () => Record<string, unknown>, string]>([
      ['an unknown field', () => ({ ...plan(), price: '10.00' }), 'price'],
      ['a negative amount', () => ({ ...plan(), amount: '-10.00' }), 'amount'],
      ['an amount as a JSON number', () => ({ ...plan(), amount: 10 }), 'amount'],
      ['an amount that is not a number', () => ({ ...plan(), amount: 'ten' }), 'amount'],
      ['a JPY amount with decimals ("1.5")', () => ({ ...plan(), currency: 'JPY', amount: '1.5' }), 'amount'],
      ['a KWD amount with four decimals ("1.2345")', () => ({ ...plan(), currency: 'KWD', amount: '1.2345' }), 'amount'],
      ['a USD amount with three decimals ("1.005")', () => ({ ...plan(), amount: '1.005' }), 'amount'],
      ['a currency that is not ISO 4217', () => ({ ...plan(), currency: 'ABC' }), 'currency'],
      ['an unknown interval', () => ({ ...plan(), interval: 'fortnight' }), 'interval'],
      ['an interval_count of the wrong type', () => ({ ...plan(), interval_count: '3' }), 'interval_count'],
      ['a negative trial', () => ({ ...plan(), trial_days: -1 }), 'trial_days'],
      ['a missing code', () => ({ name: 'Bad', currency: 'USD', interval: 'month', amount: '10.00' }), 'code'],
    ])('POST /v1/plans with %s is a 400 naming %s', async (_what, body, param) => {
      const before = await tableCounts(stack.db);
      expectError(await stack.admin.post('/v1/plans', body()), 400, { type: 'invalid_request_error', param });
      expect(await tableCounts(stack.db)).toEqual(before);
    });

    it.each<[string, () => Record<string, unknown>, number, string, string?]>([
      ['a plan code that does not exist', () => ({ customer_id: usdCustomerId, plan_code: 'no-such-plan' }), 400, 'plan_code'],
      ['a customer that does not exist', () => ({ customer_id: 'cus_doesnotexist', plan_code: usdPlanCode }), 400, 'customer_id'],
      ['a customer paying in another currency than the plan', () => ({ customer_id: usdCustomerId, plan_code: jpyPlanCode }), 422, 'plan_code', 'currency_mismatch'],
      ['a start_at that is not a timestamp', () => ({ customer_id: usdCustomerId, plan_code: usdPlanCode, start_at: 'next tuesday' }), 400, 'start_at'],
      ['a start_at without a time zone', () => ({ customer_id: usdCustomerId, plan_code: usdPlanCode, start_at: '2027-01-31T00:00:00' }), 400, 'start_at'],
      ['an unknown field', () => ({ customer_id: usdCustomerId, plan_code: usdPlanCode, quantity: 2 }), 400, 'quantity'],
      ['a customer_id of the wrong type', () => ({ customer_id: 7, plan_code: usdPlanCode }), 400, 'customer_id'],
    ])('POST /v1/subscriptions with %s is a %i naming %s', async (_what, body, status, param, code) => {
      const before = await tableCounts(stack.db);
      expectError(await stack.admin.post('/v1/subscriptions', body()), status, { param, ...(code ? { code } : {}) });
      expect(await tableCounts(stack.db)).toEqual(before);
    });
  });
});
