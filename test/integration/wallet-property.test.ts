import Decimal from 'decimal.js';
import fc from 'fast-check';
import { restoreWalletConsumption } from '../../db/wallet-store';
import { startStack, unique, type Stack } from './harness';

/**
 * Whatever the sequence of invoices spending credit, grants and paid top-ups, a wallet never holds
 * less than nothing, holds exactly what its transactions add up to, never spends more than an
 * invoice asks, and the books balance after every step. Through the API, on real Postgres: one-off
 * invoices (left for a payment by hand) spend the customer's wallets; paid top-ups are paid by hand.
 */
type Step = { kind: 'invoice'; cents: number } | { kind: 'grant'; credits: number } | { kind: 'buy'; credits: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('invoice' as const), cents: fc.integer({ min: 1, max: 6000 }) }),
  fc.record({ kind: fc.constant('grant' as const), credits: fc.integer({ min: 1, max: 80 }) }),
  fc.record({ kind: fc.constant('buy' as const), credits: fc.integer({ min: 1, max: 80 }) }),
);

describe('a wallet never goes negative', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack('wallet-property');
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const sql = <T>(query: string, params: unknown[]) => stack.db.orm.em.fork().execute<T[]>(query, params);

  async function expectInvariants(customerId: string): Promise<void> {
    const wallets = (await stack.admin.get(`/v1/wallets?customer_id=${customerId}&limit=100`)).body.data as any[];
    for (const w of wallets) {
      expect(new Decimal(w.paid_balance).isNegative() || new Decimal(w.granted_balance).isNegative()).toBe(false);
      // What it holds is what its settled transactions add up to.
      const [held] = await sql<{ paid: string; granted: string }>(
        `select coalesce(sum(case when kind in ('purchased', 'granted', 'restored') then paid_amount else -paid_amount end), 0)::text as paid,
                coalesce(sum(case when kind in ('purchased', 'granted', 'restored') then granted_amount else -granted_amount end), 0)::text as granted
           from wallet_transactions where wallet_id = ? and status = 'settled'`,
        [w.id],
      );
      expect([new Decimal(held.paid).toFixed(2), new Decimal(held.granted).toFixed(2)]).toEqual([w.paid_balance, w.granted_balance]);
    }
    const invoices = (await stack.admin.get(`/v1/invoices?customer_id=${customerId}&limit=100`)).body.data as any[];
    for (const i of invoices) expect(new Decimal(i.wallet_applied).lte(i.total)).toBe(true);
    const balances = (await stack.admin.get('/v1/ledger/balances')).body.data as Array<{ debits: string; credits: string }>;
    const total = (side: 'debits' | 'credits') => balances.reduce((t, r) => t.plus(r[side]), new Decimal(0));
    expect(total('debits').equals(total('credits'))).toBe(true);
  }

  it('holds after any sequence of consumptions and top-ups, with two wallets spent soonest-expiring first', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 50 }), fc.array(step, { minLength: 1, maxLength: 6 }), async (initial, steps) => {
        const customer = (await stack.admin.post('/v1/customers', { name: unique('holder'), email: `${unique('holder')}@example.test`, currency: 'USD' })).body.id;
        const expiring = (await stack.admin.post('/v1/wallets', { customer_id: customer, currency: 'USD', rate: '1.00', granted_credits: String(initial), expires_at: '2099-01-01T00:00:00Z' })).body;
        const open = (await stack.admin.post('/v1/wallets', { customer_id: customer, currency: 'USD', rate: '0.25', granted_credits: '4' })).body;
        for (const [i, s] of steps.entries()) {
          const target = i % 2 === 0 ? expiring.id : open.id;
          if (s.kind === 'invoice') {
            const before = (await stack.admin.get(`/v1/wallets?customer_id=${customer}`)).body.data as any[];
            const held = before.reduce((t, w) => t.plus(w.balance), new Decimal(0));
            const amount = new Decimal(s.cents).dividedBy(100);
            const res = await stack.admin.post('/v1/invoices', { customer_id: customer, currency: 'USD', lines: [{ description: 'Work', quantity: '1', unit_amount: amount.toFixed(2) }], collect: false });
            expect(res.status).toBe(201);
            // It spends what the wallets hold, up to what it asks.
            expect(res.body.wallet_applied).toBe(Decimal.min(held, amount).toFixed(2));
            // The wallet that expires first is spent first.
            const after = (await stack.admin.get(`/v1/wallets/${expiring.id}`)).body;
            if (new Decimal(after.balance).gt(0)) expect((await stack.admin.get(`/v1/wallets/${open.id}`)).body.balance).toBe(before.find((w) => w.id === open.id).balance);
          } else if (s.kind === 'grant') {
            expect((await stack.admin.post(`/v1/wallets/${target}/top_ups`, { granted_credits: String(s.credits) })).status).toBe(201);
          } else {
            expect((await stack.admin.post(`/v1/wallets/${target}/top_ups`, { paid_credits: String(s.credits) })).status).toBe(201);
            const [purchase] = await sql<{ invoice_id: string }>(`select invoice_id from wallet_transactions where wallet_id = ? and kind = 'purchased' order by created_at desc, id desc limit 1`, [target]);
            const sold = (await stack.admin.get(`/v1/invoices/${purchase.invoice_id}`)).body;
            if (new Decimal(sold.amount_due).gt(0)) {
              expect((await stack.admin.post(`/v1/invoices/${sold.id}/payments`, { amount: sold.amount_due, reference: 'wire' })).status).toBe(201);
            }
          }
          await expectInvariants(customer);
        }
      }),
      { numRuns: 8 },
    );
    const reconciliation = await stack.admin.get('/v1/reports/reconciliation?currency=USD&from=2020-01-01&to=2100-01-01');
    expect(reconciliation.body).toMatchObject({ balanced: true, differences: [] });
  });

  it('a void gives the wallets back what the invoice spent, once: the exact reverse in the ledger (restoreWalletConsumption)', async () => {
    // Given 10 granted and 30 paid credits at 1.00 (paid by hand), and an invoice of 25.00 that spends 10.00 granted + 15.00 paid
    const customer = (await stack.admin.post('/v1/customers', { name: unique('holder'), email: `${unique('holder')}@example.test`, currency: 'USD' })).body.id;
    const created = (await stack.admin.post('/v1/wallets', { customer_id: customer, currency: 'USD', rate: '1.00', granted_credits: '10', paid_credits: '30' })).body;
    const [purchase] = await sql<{ invoice_id: string }>(`select invoice_id from wallet_transactions where wallet_id = ? and kind = 'purchased'`, [created.id]);
    expect((await stack.admin.post(`/v1/invoices/${purchase.invoice_id}/payments`, { amount: '30.00', reference: 'wire' })).status).toBe(201);
    const invoice = (await stack.admin.post('/v1/invoices', { customer_id: customer, currency: 'USD', lines: [{ description: 'Work', quantity: '1', unit_amount: '25.00' }], collect: false })).body;
    expect(invoice).toMatchObject({ wallet_applied: '25.00', amount_due: '0.00', status: 'paid' });
    expect((await stack.admin.get(`/v1/wallets/${created.id}`)).body).toMatchObject({ paid_balance: '15.00', granted_balance: '0.00' });
    // When the void gives the credit back (twice, as a retry would)
    for (let i = 0; i < 2; i++) await stack.db.orm.em.fork().transactional((tx) => restoreWalletConsumption(tx, invoice.id, new Date()));
    // Then the wallet holds 15 + 15 = 30.00 paid and 0 + 10 = 10.00 granted again, restored once
    expect((await stack.admin.get(`/v1/wallets/${created.id}`)).body).toMatchObject({ paid_balance: '30.00', granted_balance: '10.00', credits_balance: '40' });
    const restored = await sql<{ key: string; account: string; direction: string; amount: string }>(
      `select t.idempotency_key as key, e.account_code as account, e.direction, e.amount::text as amount from ledger_transactions t join ledger_entries e on e.transaction_id = t.id
        where t.idempotency_key = ? order by e.account_code`,
      [`invoice:${invoice.id}:wallet_restored`],
    );
    expect(restored.map((r) => `${r.direction} ${r.account} ${new Decimal(r.amount).toFixed(2)}`)).toEqual(['debit accounts_receivable 25.00', 'credit discounts 10.00', 'credit prepaid 15.00']);
    await expectInvariants(customer);
  });
});
