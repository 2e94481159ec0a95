import Decimal from 'decimal.js';
import { Client } from 'pg';
import { closePeriod } from '../../db/accounting-period-store';
import { postTransaction } from '../../db/ledger-store';
import { forkEm } from '../../db/orm';
import { journalEntries } from '../../services/journal-entries';
import { ACCOUNTS, creditNoteIssued, invoiceIssued, paymentReceived, type TransactionDraft } from '../../domain/ledger';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { eventually, expectError, KEYS, startStack, type Stack } from './harness';

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

  it('a close waits for a posting in flight into its month, and the postings after it move to the next month', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let posted!: () => void;
    const inFlight = new Promise<void>((resolve) => (posted = resolve));
    const posting = em().transactional(async (tx) => {
      const id = await postTransaction(tx, paymentReceived({ id: 'py_race', invoiceNumber: 'INV-R', currency: 'USD', amount: new Decimal('3.00'), receivedAt: new Date('2026-01-10T00:00:00Z') })!);
      posted();
      await released;
      return id;
    });
    await inFlight;
    let closed = false;
    const closing = closePeriod(em(), '2026-01', admin, new Date('2026-02-02T00:00:00Z')).then(() => (closed = true));
    // The close queues behind the posting's shared lock, seen from Postgres' side rather than by timing.
    await eventually('the close waits on the period lock', async () => (await sql.query(`select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted`)).rows[0].n, (n) => n === 1);
    expect(closed).toBe(false);
    release();
    const racing = await posting;
    await closing;
    expect(await row(racing)).toMatchObject({ effective_at: new Date('2026-01-10T00:00:00Z'), dated_at: null });
    const after = await post(paymentReceived({ id: 'py_after', invoiceNumber: 'INV-R', currency: 'USD', amount: new Decimal('3.00'), receivedAt: new Date('2026-01-11T00:00:00Z') }));
    expect(await row(after)).toMatchObject({ effective_at: new Date('2026-02-01T00:00:00Z'), dated_at: new Date('2026-01-11T00:00:00Z') });
  });

  it('the application role cannot reopen a closed month', async () => {
    await expect(sql.query(`delete from accounting_periods where period = '2026-05'`)).rejects.toThrow('permission denied');
    await expect(sql.query(`update accounting_periods set period = '2020-01' where period = '2026-05'`)).rejects.toThrow('permission denied');
  });
});

/**
 * Finance closes a month, maps the chart of accounts to its general ledger, and exports journals an
 * accounting tool imports. Postings go through the store (as every business action posts), dated
 * where the test needs them.
 */
describe('accounting periods, chart of accounts and journal export through the API', () => {
  let stack: Stack;
  let customerId: string;
  const ids: Record<'issued' | 'paid' | 'credited' | 'euro', string> = { issued: '', paid: '', credited: '', euro: '' };

  const post = (draft: TransactionDraft | null, refs: { customerId?: string } = {}) => {
    if (!draft) throw new Error('the posting rule posted nothing');
    return forkEm(stack.db.orm)().transactional((tx) => postTransaction(tx, draft, refs));
  };

  beforeAll(async () => {
    stack = await startStack('accounting', { worker: false });
    const customer = await stack.admin.post('/v1/customers', { name: 'Acme, Inc.', email: 'books@acme.example', currency: 'USD' });
    expect(customer.status).toBe(201);
    customerId = customer.body.id;
    ids.issued = await post(
      invoiceIssued({
        id: 'in_may',
        number: 'INV-MAY',
        currency: 'USD',
        issuedAt: new Date('2026-05-10T09:00:00Z'),
        total: new Decimal('110.00'),
        discountTotal: new Decimal(0),
        taxTotal: new Decimal('10.00'),
        deferred: new Decimal('100.00'),
        deferredDiscount: new Decimal(0),
        earned: new Decimal(0),
      }),
      { customerId },
    );
    ids.paid = await post(paymentReceived({ id: 'py_may', invoiceNumber: 'INV-MAY', currency: 'USD', amount: new Decimal('110.00'), receivedAt: new Date('2026-05-15T12:00:00Z') }), { customerId });
    ids.euro = await post(paymentReceived({ id: 'py_eur', invoiceNumber: 'INV-EUR', currency: 'EUR', amount: new Decimal('5.00'), receivedAt: new Date('2026-05-16T00:00:00Z') }));
  });

  afterAll(async () => {
    await stack?.stop();
  });

  describe('closing a month', () => {
    it('only an admin may close one', async () => {
      expectError(await stack.support.post('/v1/accounting_periods/2026-05/close'), 403, { type: 'permission_error' });
      expectError(await stack.readonly.post('/v1/accounting_periods/2026-05/close'), 403, { type: 'permission_error' });
    });

    it('refuses a malformed month, naming the param, and a month that has not ended', async () => {
      for (const bad of ['2026-13', '2026-5', 'may']) expectError(await stack.admin.post(`/v1/accounting_periods/${bad}/close`), 400, { code: 'parameter_invalid', param: 'period' });
      const current = new Date().toISOString().slice(0, 7);
      expectError(await stack.admin.post(`/v1/accounting_periods/${current}/close`), 400, { code: 'period_not_ended', param: 'period' });
    });

    it('closes an ended month once: closing it again answers the first close', async () => {
      const closed = await stack.admin.post('/v1/accounting_periods/2026-05/close');
      expect(closed.status).toBe(200);
      expect(closed.body).toEqual({
        id: '2026-05',
        object: 'accounting_period',
        status: 'closed',
        start: '2026-05-01T00:00:00.000Z',
        end: '2026-06-01T00:00:00.000Z',
        closed_at: expect.any(String),
      });
      const again = await stack.admin.post('/v1/accounting_periods/2026-05/close');
      expect(again.body).toEqual(closed.body);
      const list = await stack.readonly.get('/v1/accounting_periods');
      const current = new Date().toISOString().slice(0, 7);
      expect(list.body.data.map((p: { id: string; status: string }) => [p.id, p.status])).toEqual([
        ['2026-05', 'closed'],
        [current, 'open'],
      ]);
    });

    it('a credit note dated in the closed month posts on the first day of the next, and says so', async () => {
      ids.credited = await post(
        creditNoteIssued({ id: 'cn_may', number: 'CN-1', invoiceNumber: 'INV-MAY', currency: 'USD', amount: new Decimal('20.00'), at: new Date('2026-05-20T08:00:00Z'), kind: 'customer_balance' }),
        { customerId },
      );
      const res = await stack.readonly.get(`/v1/ledger/transactions?customer_id=${customerId}`);
      expect(res.body.data.find((t: { id: string }) => t.id === ids.credited)).toMatchObject({
        description: 'Credit note CN-1 on invoice INV-MAY (dated 2026-05-20, in closed period 2026-05)',
        effective_at: '2026-06-01T00:00:00.000Z',
        dated_at: '2026-05-20T08:00:00.000Z',
        source_type: 'credit_note',
        source_id: 'cn_may',
      });
    });
  });

  describe('the chart of accounts', () => {
    it('lists every account the ledger posts to, prepaid included', async () => {
      const res = await stack.readonly.get('/v1/ledger/accounts');
      expect(res.body.data.map((a: { code: string }) => a.code)).toEqual(
        [...ACCOUNTS.map((a) => a.code)].sort(),
      );
      expect(res.body.data.find((a: { code: string }) => a.code === 'prepaid')).toEqual({ id: 'prepaid', object: 'ledger_account', code: 'prepaid', name: 'Customer prepayments', type: 'liability', gl_code: null });
    });

    it('only an admin maps an account; unknown codes and bad GL codes are refused', async () => {
      expectError(await stack.support.patch('/v1/ledger/accounts/revenue', { gl_code: '4000' }), 403, { type: 'permission_error' });
      expectError(await stack.admin.patch('/v1/ledger/accounts/no_such_account', { gl_code: '4000' }), 404, { code: 'resource_missing', param: 'code' });
      expectError(await stack.admin.patch('/v1/ledger/accounts/revenue', { gl_code: '=4000' }), 400, { param: 'gl_code' });
      expectError(await stack.admin.patch('/v1/ledger/accounts/revenue', { gl_code: 'x'.repeat(31) }), 400, { param: 'gl_code' });
      expectError(await stack.admin.patch('/v1/ledger/accounts/revenue', { name: '' }), 400, { param: 'name' });
      expectError(await stack.admin.patch('/v1/ledger/accounts/revenue', { name: 'Sales\nrevenue' }), 400, { param: 'name' });
      expectError(await stack.admin.patch('/v1/ledger/accounts/revenue', { colour: 'red' }), 400, { code: 'parameter_unknown' });
    });

    it('maps accounts to GL codes and names', async () => {
      const mapped = await stack.admin.patch('/v1/ledger/accounts/accounts_receivable', { gl_code: '1200', name: 'Accounts Receivable (A/R)' });
      expect(mapped.status).toBe(200);
      expect(mapped.body).toEqual({ id: 'accounts_receivable', object: 'ledger_account', code: 'accounts_receivable', name: 'Accounts Receivable (A/R)', type: 'asset', gl_code: '1200' });
      expect((await stack.admin.patch('/v1/ledger/accounts/deferred_revenue', { gl_code: '2400' })).body.gl_code).toBe('2400');
      // Only what is given changes.
      expect((await stack.admin.patch('/v1/ledger/accounts/deferred_revenue', { name: 'Unearned revenue' })).body).toMatchObject({ gl_code: '2400', name: 'Unearned revenue' });
    });
  });

  describe('the journal export', () => {
    const exportOf = (format: string, range = 'from=2026-05-01&to=2026-07-01', extra = '') => stack.readonly.get(`/v1/journal_entries?${range}&format=${format}${extra}`);

    it('plain CSV: a file download, one row per entry in (date, transaction) order, with the GL mapping', async () => {
      const res = await exportOf('csv', 'from=2026-05-01&to=2026-07-01', '&currency=USD');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      expect(res.headers.get('content-disposition')).toBe('attachment; filename=journal_entries_2026-05-01_2026-07-01_USD_csv.csv');
      const { issued, paid, credited } = ids;
      expect(res.body).toBe(
        [
          'date,accounting_period,transaction_id,source_type,source_id,account,gl_code,debit,credit,currency,description',
          `2026-05-10,2026-05,${issued},invoice,in_may,accounts_receivable,1200,110.00,,USD,Invoice INV-MAY issued`,
          `2026-05-10,2026-05,${issued},invoice,in_may,deferred_revenue,2400,,100.00,USD,Invoice INV-MAY issued`,
          `2026-05-10,2026-05,${issued},invoice,in_may,tax_payable,,,10.00,USD,Invoice INV-MAY issued`,
          `2026-05-15,2026-05,${paid},payment,py_may,cash,,110.00,,USD,Payment for invoice INV-MAY`,
          `2026-05-15,2026-05,${paid},payment,py_may,accounts_receivable,1200,,110.00,USD,Payment for invoice INV-MAY`,
          `2026-06-01,2026-06,${credited},credit_note,cn_may,credit_notes,,20.00,,USD,"Credit note CN-1 on invoice INV-MAY (dated 2026-05-20, in closed period 2026-05)"`,
          `2026-06-01,2026-06,${credited},credit_note,cn_may,customer_credit,,,20.00,USD,"Credit note CN-1 on invoice INV-MAY (dated 2026-05-20, in closed period 2026-05)"`,
          '',
        ].join('\r\n'),
      );
    });

    it('the same range exported twice is identical byte for byte, in every format', async () => {
      const bytes = async (format: string) => {
        const res = await fetch(`${stack.baseUrl}/v1/journal_entries?from=2026-05-01&to=2026-07-01&format=${format}`, { headers: { authorization: `Bearer ${KEYS.readonly}` } });
        expect(res.status).toBe(200);
        return Buffer.from(await res.arrayBuffer());
      };
      for (const format of ['json', 'csv', 'quickbooks', 'xero']) {
        const first = await bytes(format);
        expect(first.length).toBeGreaterThan(500);
        expect((await bytes(format)).equals(first)).toBe(true);
      }
    });

    it('QuickBooks and Xero files start with their importers\' header rows, and every journal balances', async () => {
      const quickbooks = (await exportOf('quickbooks')).body as string;
      const xero = (await exportOf('xero')).body as string;
      expect(quickbooks.split('\r\n')[0]).toBe('Journal No.,Journal Date,Account Name,Description,Debits,Credits,Name');
      expect(xero.split('\r\n')[0]).toBe('Narration,Date,Description,AccountCode,TaxRate,Amount');
      expect(quickbooks.split('\r\n')[1]).toBe(`${ids.issued.slice(4)},05/10/2026,Accounts Receivable (A/R),Invoice INV-MAY issued,110.00,,"Acme, Inc."`);
      expect(xero.split('\r\n')[2]).toBe(`Invoice INV-MAY issued (${ids.issued}),10/05/2026,Invoice INV-MAY issued,2400,Tax Exempt,-100.00`);

      // Xero: the signed amounts of each journal (grouped by narration) add up to zero, in cents.
      const xeroSums = new Map<string, number>();
      for (const line of xero.trimEnd().split('\r\n').slice(1)) {
        const narration = /^"?(.*?\(txn_\w+\))/.exec(line)![1];
        const cents = Math.round(Number(line.slice(line.lastIndexOf(',') + 1)) * 100);
        xeroSums.set(narration, (xeroSums.get(narration) ?? 0) + cents);
      }
      expect(xeroSums.size).toBe(4);
      for (const total of xeroSums.values()) expect(total).toBe(0);

      // JSON: per journal, debits equal credits.
      const json = (await exportOf('json')).body;
      expect(json.data.map((j: { id: string }) => j.id)).toEqual([ids.issued, ids.paid, ids.euro, ids.credited]);
      for (const journal of json.data as Array<{ lines: Array<{ debit: string | null; credit: string | null }> }>) {
        const debits = journal.lines.reduce((s, l) => s.plus(l.debit ?? 0), new Decimal(0));
        const credits = journal.lines.reduce((s, l) => s.plus(l.credit ?? 0), new Decimal(0));
        expect(debits.toFixed(2)).toBe(credits.toFixed(2));
      }
      expect(json.data[3]).toMatchObject({ date: '2026-06-01', accounting_period: '2026-06', dated_at: '2026-05-20T08:00:00.000Z', source_type: 'credit_note', customer_name: 'Acme, Inc.' });
    });

    it('the range is from inclusive, to exclusive, and filtered by currency', async () => {
      const may = (await exportOf('json', 'from=2026-05-10&to=2026-05-16')).body;
      expect(may.data.map((j: { id: string }) => j.id)).toEqual([ids.issued, ids.paid]);
      const euros = (await exportOf('json', 'from=2026-05-01&to=2026-07-01', '&currency=eur')).body;
      expect(euros.data.map((j: { id: string }) => j.id)).toEqual([ids.euro]);
      const nothing = await exportOf('csv', 'from=2020-01-01&to=2020-02-01');
      expect(nothing.body).toBe('date,accounting_period,transaction_id,source_type,source_id,account,gl_code,debit,credit,currency,description\r\n');
    });

    it('a range larger than a page streams page after page, in the same order', async () => {
      const range = { from: new Date('2026-05-01T00:00:00Z'), to: new Date('2026-07-01T00:00:00Z') };
      const read = async (pageSize: number) => {
        const pages: string[][] = [];
        for await (const page of journalEntries(forkEm(stack.db.orm)(), range, pageSize)) pages.push(page.map((j) => j.id));
        return pages;
      };
      expect(await read(500)).toEqual([[ids.issued, ids.paid, ids.euro, ids.credited]]);
      expect(await read(1)).toEqual([[ids.issued], [ids.paid], [ids.euro], [ids.credited]]);
    });

    it('refuses a bad range or format, naming the param', async () => {
      expectError(await exportOf('json', 'from=2026-06-01&to=2026-06-01'), 400, { code: 'parameter_invalid', param: 'to' });
      expectError(await exportOf('json', 'from=2026-02-30&to=2026-06-01'), 400, { code: 'parameter_invalid', param: 'from' });
      expectError(await exportOf('json', 'from=2026-06&to=2026-07-01'), 400, { code: 'parameter_invalid', param: 'from' });
      expectError(await exportOf('pdf'), 400, { code: 'parameter_invalid', param: 'format' });
      expectError(await stack.readonly.get('/v1/journal_entries?to=2026-07-01'), 400, { code: 'parameter_missing', param: 'from' });
    });
  });
});
