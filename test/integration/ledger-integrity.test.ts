import type { EntityManager } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { issuePeriodInvoice } from '../../db/invoice-store';
import { forkEm } from '../../db/orm';
import { recognisePeriod } from '../../db/revenue-store';
import { recognitionPeriodOf } from '../../domain/revenue-recognition';
import { createTestDatabase, type TestDatabase } from '../support/database';

/**
 * The books' invariants are enforced by Postgres itself, below any application code: a transaction
 * that does not balance cannot commit, and nothing posted can be changed or removed. And the
 * invoice activity, however often and however concurrently it runs, issues one invoice per period.
 */
describe('ledger integrity', () => {
  let db: TestDatabase;
  /** Connected as the application is (perennial_app's rights). */
  let sql: Client;
  /** Connected as the schema's owner: the triggers hold even for it. */
  let owner: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = new Client({ connectionString: db.url });
    owner = new Client({ connectionString: db.ownerUrl });
    await Promise.all([sql.connect(), owner.connect()]);
  });

  afterAll(async () => {
    await sql?.end();
    await owner?.end();
    await db?.drop();
  });

  let seq = 0;
  const txId = (): string => `txn_integrity_${++seq}`;

  async function insertTransaction(id: string, entries: Array<['debit' | 'credit', string, string]>): Promise<void> {
    await sql.query(
      `insert into ledger_transactions (id, idempotency_key, description, currency, effective_at) values ($1, $1, 'direct SQL', 'USD', now())`,
      [id],
    );
    for (const [direction, account, amount] of entries) {
      await sql.query('insert into ledger_entries (transaction_id, account_code, direction, amount) values ($1, $2, $3, $4)', [id, account, direction, amount]);
    }
  }

  /** Runs `work` in one database transaction and returns the error COMMIT raised, if any. */
  async function commitError(work: () => Promise<void>): Promise<Error | null> {
    await sql.query('begin');
    try {
      await work();
    } catch (error) {
      await sql.query('rollback');
      throw error;
    }
    try {
      await sql.query('commit');
      return null;
    } catch (error) {
      return error as Error;
    }
  }

  async function transactionExists(id: string): Promise<boolean> {
    const { rowCount } = await sql.query('select 1 from ledger_transactions where id = $1', [id]);
    return rowCount === 1;
  }

  describe('Postgres', () => {
    it('commits a balanced transaction inserted with plain SQL', async () => {
      const id = txId();
      const error = await commitError(() =>
        insertTransaction(id, [
          ['debit', 'accounts_receivable', '10.00'],
          ['credit', 'deferred_revenue', '6.00'],
          ['credit', 'revenue', '4.00'],
        ]),
      );
      expect(error).toBeNull();
      expect(await transactionExists(id)).toBe(true);
    });

    it('refuses at commit a transaction whose debits and credits differ, and keeps none of it', async () => {
      const id = txId();
      const error = await commitError(() =>
        insertTransaction(id, [
          ['debit', 'cash', '10.00'],
          ['credit', 'accounts_receivable', '9.99'],
        ]),
      );
      expect(error?.message).toMatch(/does not balance/);
      expect(await transactionExists(id)).toBe(false);
      expect((await sql.query('select 1 from ledger_entries where transaction_id = $1', [id])).rowCount).toBe(0);
    });

    it('refuses at commit a transaction with a single entry', async () => {
      const id = txId();
      const error = await commitError(() => insertTransaction(id, [['debit', 'cash', '10.00']]));
      expect(error?.message).toMatch(/at least two are required/);
      expect(await transactionExists(id)).toBe(false);
    });

    it('refuses at commit a transaction without entries', async () => {
      const id = txId();
      const error = await commitError(() => insertTransaction(id, []));
      expect(error?.message).toMatch(/at least two are required/);
      expect(await transactionExists(id)).toBe(false);
    });

    it('refuses entries added later to a committed transaction if they unbalance it', async () => {
      const id = txId();
      expect(await commitError(() => insertTransaction(id, [['debit', 'cash', '5.00'], ['credit', 'accounts_receivable', '5.00']]))).toBeNull();
      const error = await commitError(async () => {
        await sql.query(`insert into ledger_entries (transaction_id, account_code, direction, amount) values ($1, 'cash', 'debit', '1.00')`, [id]);
      });
      expect(error?.message).toMatch(/does not balance/);
      expect((await sql.query('select 1 from ledger_entries where transaction_id = $1', [id])).rowCount).toBe(2);
    });

    describe('keeps the ledger append-only', () => {
      let posted: string;

      beforeAll(async () => {
        posted = txId();
        expect(await commitError(() => insertTransaction(posted, [['debit', 'cash', '7.00'], ['credit', 'revenue', '7.00']]))).toBeNull();
      });

      it.each([
        { statement: 'UPDATE ledger_entries', text: `update ledger_entries set amount = 8 where transaction_id = $1` },
        { statement: 'DELETE FROM ledger_entries', text: `delete from ledger_entries where transaction_id = $1` },
        { statement: 'UPDATE ledger_transactions', text: `update ledger_transactions set description = 'edited' where id = $1` },
        { statement: 'DELETE FROM ledger_transactions', text: `delete from ledger_transactions where id = $1` },
        { statement: 'TRUNCATE ledger_entries', text: `truncate ledger_entries cascade` },
        { statement: 'TRUNCATE ledger_transactions', text: `truncate ledger_transactions cascade` },
      ])('$statement fails and changes nothing, for the application and even for the owner', async ({ text }) => {
        const snapshot = async () =>
          (
            await sql.query(
              `select t.description, e.direction, e.amount::text from ledger_transactions t join ledger_entries e on e.transaction_id = t.id where t.id = $1 order by e.id`,
              [posted],
            )
          ).rows;
        const before = await snapshot();
        const params = text.includes('$1') ? [posted] : [];
        // The application's role has no right to it at all; the owner's statement meets the trigger.
        await expect(sql.query(text, params)).rejects.toThrow(/permission denied/);
        await expect(owner.query(text, params)).rejects.toThrow(/append-only/);
        expect(await snapshot()).toEqual(before);
        expect(before).toHaveLength(2);
      });
    });

    it.each([
      { statement: 'ALTER TABLE ... DISABLE TRIGGER', text: 'alter table ledger_entries disable trigger ledger_entries_append_only', error: /must be owner/ },
      { statement: 'ALTER TABLE ... ADD COLUMN', text: 'alter table invoices add column note text', error: /must be owner/ },
      { statement: 'DROP TABLE', text: 'drop table payments', error: /must be owner/ },
      { statement: 'DELETE FROM mikro_orm_migrations', text: 'delete from mikro_orm_migrations', error: /permission denied/ },
      { statement: 'CREATE TABLE', text: 'create table scratch (id int)', error: /permission denied/ },
    ])('the application cannot run $statement', async ({ text, error }) => {
      await expect(sql.query(text)).rejects.toThrow(error);
    });
  });

  describe('issuing a period invoice', () => {
    const em = (): EntityManager => forkEm(db.orm)();
    let n = 0;

    /** A subscription row with no workflow behind it: the activity is driven by the test. */
    async function subscription(amount = '30.00'): Promise<string> {
      const k = ++n;
      await sql.query(`insert into customers (id, name, email, currency) values ($1, 'Direct', 'direct@example.test', 'USD')`, [`cus_direct_${k}`]);
      await sql.query(`insert into plans (id, code, name, currency, interval, amount) values ($1, $1, 'Direct plan', 'USD', 'month', $2)`, [
        `plan_direct_${k}`,
        amount,
      ]);
      await sql.query(
        `insert into subscriptions (id, customer_id, plan_id, status, start_at, billing_anchor, usage_closed_until, workflow_id)
         values ($1, $2, $3, 'active', '2027-01-01T00:00:00Z', '2027-01-01T00:00:00Z', '2027-01-01T00:00:00Z', $4)`,
        [`sub_direct_${k}`, `cus_direct_${k}`, `plan_direct_${k}`, `subscription-sub_direct_${k}`],
      );
      return `sub_direct_${k}`;
    }

    const period = (subscriptionId: string, index: number) => ({
      subscriptionId,
      periodIndex: index,
      periodStart: new Date(Date.UTC(2027, index, 1)),
      periodEnd: new Date(Date.UTC(2027, index + 1, 1)),
      issuedAt: new Date(Date.UTC(2027, index, 1)),
    });

    async function invoicesAndPostings(subscriptionId: string) {
      const { rows } = await sql.query(
        `select i.id, i.number, i.total::text,
                (select count(*)::int from ledger_transactions t where t.invoice_id = i.id) as postings,
                (select count(*)::int from ledger_entries e join ledger_transactions t on t.id = e.transaction_id where t.invoice_id = i.id) as entries
           from invoices i where i.subscription_id = $1 order by i.sequence`,
        [subscriptionId],
      );
      return rows as Array<{ id: string; number: string; total: string; postings: number; entries: number }>;
    }

    const numberOf = (invoiceNumber: string | null | undefined): number => Number(/^INV-(\d+)$/.exec(String(invoiceNumber))![1]);

    async function allNumbersGapless(): Promise<void> {
      const { rows } = await sql.query('select number from invoices order by sequence');
      expect(rows.map((r) => r.number)).toEqual(rows.map((_, i) => `INV-${String(i + 1).padStart(6, '0')}`));
    }

    it('issues one invoice and one ledger posting when run twice for the same period', async () => {
      const sub = await subscription();
      const first = await issuePeriodInvoice(em(), period(sub, 0));
      const second = await issuePeriodInvoice(em(), period(sub, 0));
      expect(second.id).toBe(first.id);
      expect(second.number).toBe(first.number);
      expect(await invoicesAndPostings(sub)).toEqual([{ id: first.id, number: first.number, total: '30.000000', postings: 1, entries: 2 }]);
      await allNumbersGapless();
    });

    it('issues one invoice and one ledger posting when runs for the same period race, and numbers stay gapless', async () => {
      const sub = await subscription();
      const results = await Promise.all(Array.from({ length: 6 }, () => issuePeriodInvoice(em(), period(sub, 0))));
      expect(new Set(results.map((r) => r.id)).size).toBe(1);
      const [issued] = await invoicesAndPostings(sub);
      expect(await invoicesAndPostings(sub)).toEqual([{ id: results[0].id, number: results[0].number, total: '30.000000', postings: 1, entries: 2 }]);

      // The losers' numbers were given back: the next invoice takes the very next number.
      const next = await issuePeriodInvoice(em(), period(sub, 1));
      expect(numberOf(next.number)).toBe(numberOf(issued.number) + 1);
      await allNumbersGapless();
    });

    it('numbers invoices of different subscriptions issued at the same time consecutively, without duplicates', async () => {
      const subs: string[] = [];
      for (let k = 0; k < 5; k++) subs.push(await subscription());
      const { rows } = await sql.query(`select count(*)::int as n from invoices`);
      const issued = await Promise.all(subs.flatMap((sub) => [issuePeriodInvoice(em(), period(sub, 0)), issuePeriodInvoice(em(), period(sub, 0))]));
      expect(new Set(issued.map((i) => i.id)).size).toBe(5);
      const numbers = [...new Set(issued.map((i) => numberOf(i.number)))].sort((a, b) => a - b);
      expect(numbers).toEqual([1, 2, 3, 4, 5].map((k) => rows[0].n + k));
      for (const sub of subs) expect((await invoicesAndPostings(sub)).map((i) => [i.postings, i.entries])).toEqual([[1, 2]]);
      await allNumbersGapless();
    });

    it('recognises a day\'s revenue once, however often and however concurrently it is asked to', async () => {
      const sub = await subscription('12.00');
      const invoice = await issuePeriodInvoice(em(), period(sub, 0));
      const firstOfJanuary = recognitionPeriodOf('daily', new Date(Date.UTC(2027, 0, 1)));
      // Two racing runs: one claims the day, the other waits for it and finds it posted.
      const racing = await Promise.all([recognisePeriod(em(), 'daily', firstOfJanuary), recognisePeriod(em(), 'daily', firstOfJanuary)]);
      expect(racing.map((r) => r.skipped).sort()).toEqual([false, true]);
      expect((await recognisePeriod(em(), 'daily', firstOfJanuary)).skipped).toBe(true);
      const { rows } = await sql.query(`select count(*)::int as n from ledger_transactions where idempotency_key = 'revenue_recognition:2027-01-01:USD'`);
      expect(rows[0].n).toBe(1);
      // January has 31 days: 12.00 x 1/31 = 0.387 -> 0.39 recognised by the end of the 1st.
      const obligation = await sql.query('select recognized_revenue::text, recognized_through from revenue_obligations where invoice_id = $1', [invoice.id]);
      expect(obligation.rows).toEqual([{ recognized_revenue: '0.390000', recognized_through: new Date(Date.UTC(2027, 0, 2)) }]);
    });
  });
});
