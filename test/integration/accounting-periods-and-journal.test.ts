import Decimal from 'decimal.js';
import { Client } from 'pg';
import { closePeriod } from '../../db/accounting-period-store';
import { postTransaction } from '../../db/ledger-store';
import { forkEm } from '../../db/orm';
import { creditNoteIssued, paymentReceived, type TransactionDraft } from '../../domain/ledger';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * Closed months stay as they were closed: a correction dated inside one posts at the start of the
 * first open month and says so, and Postgres refuses any posting into it that bypasses the code.
 */
describe('accounting periods in the ledger', () => {
  let db: TestDatabase;
  let sql: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = new Client({ connectionString: db.url });
    await sql.connect();
  });

  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  const em = () => forkEm(db.orm)();
  const post = (draft: TransactionDraft | null) => {
    if (!draft) throw new Error('the posting rule posted nothing');
    return em().transactional((tx) => postTransaction(tx, draft));
  };
  const row = async (id: string) =>
    (await sql.query(`select description, effective_at, dated_at, source_type, source_id from ledger_transactions where id = $1`, [id])).rows[0];
  const admin = { role: 'admin', keyId: 'key_admin' };

  it('a correction dated in a closed month posts at the start of the first open month, and says so', async () => {
    const may = await post(paymentReceived({ id: 'pay_may', invoiceNumber: 'INV-1', currency: 'USD', amount: new Decimal('50.00'), receivedAt: new Date('2026-05-10T12:00:00Z') }));
    expect(await row(may)).toEqual({
      description: 'Payment for invoice INV-1',
      effective_at: new Date('2026-05-10T12:00:00Z'),
      dated_at: null,
      source_type: 'payment',
      source_id: 'pay_may',
    });

    await closePeriod(em(), '2026-05', admin, new Date('2026-06-02T09:00:00Z'));
    const note = creditNoteIssued({ id: 'cn_late', number: 'CN-1', invoiceNumber: 'INV-1', currency: 'USD', amount: new Decimal('5.00'), at: new Date('2026-05-20T08:30:00Z'), kind: 'customer_balance' });
    const corrected = await post(note);
    expect(await row(corrected)).toEqual({
      description: 'Credit note CN-1 on invoice INV-1 (dated 2026-05-20, in closed period 2026-05)',
      effective_at: new Date('2026-06-01T00:00:00Z'),
      dated_at: new Date('2026-05-20T08:30:00Z'),
      source_type: 'credit_note',
      source_id: 'cn_late',
    });
    // A retry of the same posting returns the one already posted.
    expect(await post(note)).toBe(corrected);
  });

  it('skips every closed month to the first open one', async () => {
    await closePeriod(em(), '2026-06', admin, new Date('2026-07-01T00:00:00Z'));
    const id = await post(paymentReceived({ id: 'pay_late', invoiceNumber: 'INV-2', currency: 'USD', amount: new Decimal('1.00'), receivedAt: new Date('2026-05-31T23:59:59Z') }));
    expect(await row(id)).toMatchObject({ effective_at: new Date('2026-07-01T00:00:00Z'), description: 'Payment for invoice INV-2 (dated 2026-05-31, in closed period 2026-05)' });
  });

  it('closing a month again returns the first close', async () => {
    const first = await closePeriod(em(), '2026-04', admin, new Date('2026-05-01T10:00:00Z'));
    const again = await closePeriod(em(), '2026-04', { role: 'admin', keyId: 'other' }, new Date('2026-05-03T10:00:00Z'));
    expect(again).toEqual(first);
    expect(first).toEqual({ period: '2026-04', closedAt: new Date('2026-05-01T10:00:00Z'), closedByRole: 'admin', closedByKey: 'key_admin' });
  });

  it('Postgres refuses a transaction inserted with plain SQL into a closed month', async () => {
    await expect(
      sql.query(`insert into ledger_transactions (id, idempotency_key, description, currency, effective_at) values ('txn_direct', 'txn_direct', 'direct SQL', 'USD', '2026-05-15T00:00:00Z')`),
    ).rejects.toThrow('accounting period 2026-05 is closed: ledger transaction txn_direct dated');
  });

  it('the application role cannot reopen a closed month', async () => {
    await expect(sql.query(`delete from accounting_periods where period = '2026-05'`)).rejects.toThrow('permission denied');
    await expect(sql.query(`update accounting_periods set period = '2020-01' where period = '2026-05'`)).rejects.toThrow('permission denied');
  });
});
