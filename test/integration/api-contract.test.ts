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

    it('accepts the largest amount the books can hold, to the cent', async () => {
      const code = unique('max');
      const created = await stack.admin.post('/v1/plans', { code, name: 'Max', currency: 'USD', interval: 'year', amount: '999999999999999999999999.99' });
      expect(created.status).toBe(201);
      expect((await stack.admin.get(`/v1/plans/${code}`)).body.amount).toBe('999999999999999999999999.99');
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

    interface Rejection {
      what: string;
      body: () => Record<string, unknown>;
      status: number;
      param: string;
      code?: string;
    }

    it.each<Rejection>([
      { what: 'an unknown field', body: () => ({ ...customer, nickname: 'Val' }), status: 400, param: 'nickname' },
      { what: 'a name of the wrong type', body: () => ({ ...customer, name: 42 }), status: 400, param: 'name' },
      { what: 'a missing email', body: () => ({ name: 'Valid', currency: 'USD' }), status: 400, param: 'email' },
      { what: 'an email that is not one', body: () => ({ ...customer, email: 'not-an-email' }), status: 400, param: 'email' },
      { what: 'a currency that is not ISO 4217', body: () => ({ ...customer, currency: 'XYZ' }), status: 400, param: 'currency' },
      { what: 'a currency of the wrong type', body: () => ({ ...customer, currency: 840 }), status: 400, param: 'currency' },
    ])('POST /v1/customers with $what is a $status naming $param', async ({ body, status, param }) => {
      const before = await tableCounts(stack.db);
      expectError(await stack.admin.post('/v1/customers', body()), status, { type: 'invalid_request_error', param });
      expect(await tableCounts(stack.db)).toEqual(before);
    });

    it.each<Rejection>([
      { what: 'an unknown field', body: () => ({ ...plan(), price: '10.00' }), status: 400, param: 'price' },
      { what: 'a negative amount', body: () => ({ ...plan(), amount: '-10.00' }), status: 400, param: 'amount' },
      { what: 'an amount as a JSON number', body: () => ({ ...plan(), amount: 10 }), status: 400, param: 'amount' },
      { what: 'an amount that is not a number', body: () => ({ ...plan(), amount: 'ten' }), status: 400, param: 'amount' },
      { what: 'a JPY amount with decimals ("1.5")', body: () => ({ ...plan(), currency: 'JPY', amount: '1.5' }), status: 400, param: 'amount' },
      { what: 'a KWD amount with four decimals ("1.2345")', body: () => ({ ...plan(), currency: 'KWD', amount: '1.2345' }), status: 400, param: 'amount' },
      { what: 'a USD amount with three decimals ("1.005")', body: () => ({ ...plan(), amount: '1.005' }), status: 400, param: 'amount' },
      { what: 'a currency that is not ISO 4217', body: () => ({ ...plan(), currency: 'ABC' }), status: 400, param: 'currency' },
      { what: 'an unknown interval', body: () => ({ ...plan(), interval: 'fortnight' }), status: 400, param: 'interval' },
      { what: 'an interval_count of the wrong type', body: () => ({ ...plan(), interval_count: '3' }), status: 400, param: 'interval_count' },
      { what: 'a negative trial', body: () => ({ ...plan(), trial_days: -1 }), status: 400, param: 'trial_days' },
      { what: 'a missing code', body: () => ({ name: 'Bad', currency: 'USD', interval: 'month', amount: '10.00' }), status: 400, param: 'code' },
      { what: 'an amount too large for the books (25 digits)', body: () => ({ ...plan(), amount: '1000000000000000000000000' }), status: 400, param: 'amount' },
    ])('POST /v1/plans with $what is a $status naming $param', async ({ body, status, param }) => {
      const before = await tableCounts(stack.db);
      expectError(await stack.admin.post('/v1/plans', body()), status, { type: 'invalid_request_error', param });
      expect(await tableCounts(stack.db)).toEqual(before);
    });

    it.each<Rejection>([
      { what: 'a plan code that does not exist', body: () => ({ customer_id: usdCustomerId, plan_code: 'no-such-plan' }), status: 400, param: 'plan_code' },
      { what: 'a customer that does not exist', body: () => ({ customer_id: 'cus_doesnotexist', plan_code: usdPlanCode }), status: 400, param: 'customer_id' },
      {
        what: 'a customer paying in another currency than the plan',
        body: () => ({ customer_id: usdCustomerId, plan_code: jpyPlanCode }),
        status: 422,
        param: 'plan_code',
        code: 'currency_mismatch',
      },
      { what: 'a start_at that is not a timestamp', body: () => ({ customer_id: usdCustomerId, plan_code: usdPlanCode, start_at: 'next tuesday' }), status: 400, param: 'start_at' },
      {
        what: 'a start_at without a time zone',
        body: () => ({ customer_id: usdCustomerId, plan_code: usdPlanCode, start_at: '2027-01-31T00:00:00' }),
        status: 400,
        param: 'start_at',
      },
      { what: 'a start_at on a day that does not exist', body: () => ({ customer_id: usdCustomerId, plan_code: usdPlanCode, start_at: '2027-02-30T00:00:00Z' }), status: 400, param: 'start_at' },
      { what: 'a start_at in year 0000', body: () => ({ customer_id: usdCustomerId, plan_code: usdPlanCode, start_at: '0000-01-01T00:00:00Z' }), status: 400, param: 'start_at' },
      {
        // The monthly plan from 1900 would bill about 1,500 elapsed periods at once.
        what: 'a start_at more than 1,000 periods in the past',
        body: () => ({ customer_id: usdCustomerId, plan_code: usdPlanCode, start_at: '1900-01-01T00:00:00Z' }),
        status: 400,
        param: 'start_at',
        code: 'start_at_too_far_back',
      },
      { what: 'an unknown field', body: () => ({ customer_id: usdCustomerId, plan_code: usdPlanCode, seats: 2 }), status: 400, param: 'seats' },
      { what: 'a quantity that is not a whole number of seats', body: () => ({ customer_id: usdCustomerId, plan_code: usdPlanCode, quantity: 2.5 }), status: 400, param: 'quantity' },
      { what: 'a customer_id of the wrong type', body: () => ({ customer_id: 7, plan_code: usdPlanCode }), status: 400, param: 'customer_id' },
    ])('POST /v1/subscriptions with $what is a $status naming $param', async ({ body, status, param, code }) => {
      const before = await tableCounts(stack.db);
      expectError(await stack.admin.post('/v1/subscriptions', body()), status, { param, ...(code ? { code } : {}) });
      expect(await tableCounts(stack.db)).toEqual(before);
    });
  });
});
