import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { createApp } from '../../api/app';
import { createLogger } from '../../observability/logger';
import { parseApiKeySpec } from '../../config/env';
import { testServices } from '../setup/services';
import { apiClient, listen, type ApiClient } from '../support/http';
import {
  balanceOf,
  balances,
  eventually,
  expectError,
  KEYS,
  startStack,
  tableCounts,
  unique,
  waitForInvoices,
  type Stack,
} from './harness';

/**
 * `Idempotency-Key` on POST: a client that retries (after a timeout, a dropped connection) gets the
 * first answer again and changes nothing; a key reused for a different request is refused.
 */
describe('idempotent requests', () => {
  let stack: Stack;
  let plan: string;

  beforeAll(async () => {
    stack = await startStack('idempotency');
    plan = unique('monthly');
    expect((await stack.admin.post('/v1/plans', { code: plan, name: 'Monthly', currency: 'USD', interval: 'month', amount: '25.00' })).status).toBe(201);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const key = (): Record<string, string> => ({ 'Idempotency-Key': randomUUID() });

  async function customersWithExternalId(externalId: string): Promise<number> {
    const [row] = await stack.db.orm.em.fork().execute<Array<{ n: number }>>('select count(*)::int as n from customers where external_id = ?', [externalId]);
    return row.n;
  }

  it('replays the first response to a retried customer creation and creates nothing new', async () => {
    const headers = key();
    const body = { name: 'Retry Ltd', email: 'ap@retry.test', currency: 'GBP', external_id: unique('retry') };
    const first = await stack.admin.post('/v1/customers', body, headers);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const before = await tableCounts(stack.db);

    const retry = await stack.admin.post('/v1/customers', body, headers);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);
    expect(await tableCounts(stack.db)).toEqual(before);
    expect(await customersWithExternalId(body.external_id)).toBe(1);
  });

  it('refuses the same key with a different body (422 idempotency_key_reused) and creates nothing', async () => {
    const headers = key();
    const first = await stack.admin.post('/v1/customers', { name: 'First', email: 'first@example.test', currency: 'USD' }, headers);
    expect(first.status).toBe(201);
    const before = await tableCounts(stack.db);
    const reused = await stack.admin.post('/v1/customers', { name: 'Second', email: 'second@example.test', currency: 'USD' }, headers);
    expectError(reused, 422, { type: 'idempotency_error', code: 'idempotency_key_reused' });
    expect(await tableCounts(stack.db)).toEqual(before);
  });

  it('refuses the same key on a different endpoint (422 idempotency_key_reused)', async () => {
    const headers = key();
    expect((await stack.admin.post('/v1/customers', { name: 'C', email: 'c@example.test', currency: 'USD' }, headers)).status).toBe(201);
    const before = await tableCounts(stack.db);
    expectError(await stack.admin.post('/v1/plans', { code: unique('p'), name: 'P', currency: 'USD', interval: 'month', amount: '1.00' }, headers), 422, {
      code: 'idempotency_key_reused',
    });
    expect(await tableCounts(stack.db)).toEqual(before);
  });

  it('creates one customer when retries with the same key race', async () => {
    const headers = key();
    const body = { name: 'Racer', email: 'racer@example.test', currency: 'USD', external_id: unique('race') };
    const responses = await Promise.all(Array.from({ length: 4 }, () => stack.admin.post('/v1/customers', body, headers)));
    // Each racer gets the answer, a replay of it, or "still in progress, retry" - never a second customer.
    for (const res of responses) expect([201, 409]).toContain(res.status);
    expect(responses.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    expect(await customersWithExternalId(body.external_id)).toBe(1);
    const settled = await stack.admin.post('/v1/customers', body, headers);
    expect(settled.status).toBe(201);
    expect(settled.headers.get('idempotent-replayed')).toBe('true');
  });

  it('keeps keys apart per API key: two callers may use the same key for different requests', async () => {
    const headers = key();
    const byAdmin = await stack.admin.post('/v1/customers', { name: 'Admin-made', email: 'a@example.test', currency: 'USD' }, headers);
    const bySupport = await stack.support.post('/v1/customers', { name: 'Support-made', email: 's@example.test', currency: 'USD' }, headers);
    expect([byAdmin.status, bySupport.status]).toEqual([201, 201]);
    expect(bySupport.headers.get('idempotent-replayed')).toBeNull();
    expect(bySupport.body.id).not.toBe(byAdmin.body.id);
  });

  it('starts one subscription and one workflow when a subscription creation is retried', async () => {
    const customer = await stack.admin.post('/v1/customers', { name: 'Sub', email: 'sub@example.test', currency: 'USD' });
    const headers = key();
    const body = { customer_id: customer.body.id, plan_code: plan };
    const first = await stack.admin.post('/v1/subscriptions', body, headers);
    expect(first.status).toBe(201);
    const retry = await stack.admin.post('/v1/subscriptions', body, headers);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);

    const [row] = await stack.db.orm.em
      .fork()
      .execute<Array<{ n: number }>>('select count(*)::int as n from subscriptions where customer_id = ?', [customer.body.id]);
    expect(row.n).toBe(1);
    const [invoice] = await waitForInvoices(stack.admin, first.body.id, 1);
    expect(invoice.total).toBe('25.00');
    const executions = await eventually(
      `the dev server lists the workflows of customer ${customer.body.id}`,
      async () => {
        const found: string[] = [];
        for await (const e of stack.temporal.client.workflow.list({ query: `CustomerId="${customer.body.id}"` })) found.push(e.workflowId);
        return found;
      },
      (found) => found.length > 0,
    );
    expect(executions).toEqual([first.body.workflow_id]);
  });

  it('records a retried payment once', async () => {
    const customer = await stack.admin.post('/v1/customers', { name: 'Payer', email: 'payer@example.test', currency: 'USD' });
    const sub = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: plan });
    const [invoice] = await waitForInvoices(stack.admin, sub.body.id, 1);
    const cashBefore = balanceOf(await balances(stack.admin), 'cash', 'USD');

    const headers = key();
    const first = await stack.support.post(`/v1/invoices/${invoice.id}/payments`, { amount: '10.00', reference: 'bank ref 881' }, headers);
    expect(first.status).toBe(201);
    const counts = await tableCounts(stack.db);
    const retry = await stack.support.post(`/v1/invoices/${invoice.id}/payments`, { amount: '10.00', reference: 'bank ref 881' }, headers);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);
    expect(await tableCounts(stack.db)).toEqual(counts);

    expect((await stack.readonly.get(`/v1/invoices/${invoice.id}`)).body).toMatchObject({ status: 'open', amount_paid: '10.00', amount_due: '15.00' });
    expect(balanceOf(await balances(stack.admin), 'cash', 'USD').minus(cashBefore).toFixed(2)).toBe('10.00');
  });

  it('replays retried plans, plan versions, credit notes, write-offs and refunds, each created once', async () => {
    const count = async (table: string, column: string, value: string) =>
      (await stack.db.orm.em.fork().execute<Array<{ n: number }>>(`select count(*)::int as n from ${table} where ${column} = ?`, [value]))[0].n;
    async function twice(path: string, body: object, status: number) {
      const headers = key();
      const first = await stack.admin.post(path, body, headers);
      expect({ path, status: first.status }).toEqual({ path, status });
      const retry = await stack.admin.post(path, body, headers);
      expect({ path, status: retry.status, replayed: retry.headers.get('idempotent-replayed'), body: retry.body }).toEqual({ path, status, replayed: 'true', body: first.body });
      return first.body;
    }

    const code = unique('retried-plan');
    await twice('/v1/plans', { code, name: 'Retried', currency: 'USD', interval: 'month', amount: '9.00' }, 201);
    await twice(`/v1/plans/${code}/versions`, { amount: '10.00' }, 201);
    expect(await count('plans', 'code', code)).toBe(2);

    const credited = await openInvoice();
    const note = await twice(`/v1/invoices/${credited.id}/credit_notes`, { amount: '5.00' }, 201);
    expect(note.invoice).toMatchObject({ amount_due: '20.00' });
    expect(await count('credit_notes', 'invoice_id', credited.id)).toBe(1);

    const writtenOff = await openInvoice();
    expect(await twice(`/v1/invoices/${writtenOff.id}/mark_uncollectible`, {}, 200)).toMatchObject({ status: 'uncollectible' });

    const refunded = await openInvoice();
    expect((await stack.admin.post(`/v1/invoices/${refunded.id}/payments`, { amount: '25.00' })).status).toBe(201);
    expect(await twice(`/v1/invoices/${refunded.id}/refunds`, { amount: '5.00' }, 201)).toMatchObject({ amount: '5.00' });
    expect(await count('refunds', 'invoice_id', refunded.id)).toBe(1);
  });

  // -------------------------------------------------------------------------------------------
  // Leases and recovery points: a crash, a failure after the commit, a request still running
  // -------------------------------------------------------------------------------------------

  interface KeyRow {
    status_code: number | null;
    recovery_point: string;
    recovery_data: Record<string, any> | null;
    lease_token: string | null;
    locked_until: string | null;
  }

  async function keyRow(headers: Record<string, string>): Promise<KeyRow> {
    const [row] = await stack.db.orm.em
      .fork()
      .execute<KeyRow[]>('select status_code, recovery_point, recovery_data, lease_token, locked_until from idempotency_keys where key = ?', [headers['Idempotency-Key']]);
    return row;
  }

  async function paymentsWithReference(reference: string): Promise<number> {
    const [row] = await stack.db.orm.em.fork().execute<Array<{ n: number }>>('select count(*)::int as n from payments where reference = ?', [reference]);
    return row.n;
  }

  /** An open invoice of 25.00 USD, issued by a new subscription's workflow. */
  async function openInvoice(): Promise<{ id: string }> {
    const customer = await stack.admin.post('/v1/customers', { name: 'Payer', email: 'payer@example.test', currency: 'USD' });
    const sub = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: plan });
    const [invoice] = await waitForInvoices(stack.admin, sub.body.id, 1);
    return invoice;
  }

  /**
   * Holds the invoice's row lock in a transaction of the test's own, so a payment of it stops inside
   * its transaction (after claiming its key) until the lock is released.
   */
  async function lockInvoice(invoiceId: string) {
    const client = new PgClient({ connectionString: stack.db.url });
    await client.connect();
    await client.query('begin');
    await client.query('select id from invoices where id = $1 for update', [invoiceId]);
    const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
    const holder = rows[0].pid;
    return {
      /** Resolves once a request is waiting for the lock, i.e. is inside its effect. */
      waiter: () =>
        eventually(
          'a request waits for the invoice lock',
          async () => (await client.query<{ n: number }>('select count(*)::int as n from pg_stat_activity where $1 = any(pg_blocking_pids(pid))', [holder])).rows[0].n,
          (n) => n > 0,
        ),
      release: async () => {
        await client.query('rollback');
        await client.end();
      },
    };
  }

  const processes: ChildProcess[] = [];
  afterEach(() => {
    for (const child of processes.splice(0)) child.kill('SIGKILL');
  });

  const API_KEY_SPEC = `admin:${KEYS.admin},support:${KEYS.support},readonly:${KEYS.readonly}`;

  /**
   * The API in a process of its own (the real app, on the suite's database and Temporal server) with
   * a short idempotency lease, so that it can be killed mid-request and its lease seen to run out.
   */
  async function apiProcess(leaseMs: number) {
    const root = resolve(__dirname, '../..');
    const script = `
      const { Client, Connection } = require('@temporalio/client');
      const { createApp } = require('./api/app');
      const { IDEMPOTENCY_LEASE_SETTING } = require('./api/idempotency');
      const { parseApiKeySpec } = require('./config/env');
      const { openOrm } = require('./db/orm');
      (async () => {
        const orm = await openOrm(process.env.DATABASE_URL);
        const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
        const app = createApp({ orm, temporal: new Client({ connection }), taskQueue: process.env.TASK_QUEUE, apiKeys: parseApiKeySpec(process.env.API_KEYS) });
        app.set(IDEMPOTENCY_LEASE_SETTING, Number(process.env.LEASE_MS));
        const server = app.listen(0, '127.0.0.1', () => console.log('listening on ' + server.address().port));
      })();`;
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: stack.db.url,
        TEMPORAL_ADDRESS: testServices().temporalAddress,
        TASK_QUEUE: stack.taskQueue,
        API_KEYS: API_KEY_SPEC,
        LEASE_MS: String(leaseMs),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    processes.push(child);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    const port = await eventually(
      'the API process listens',
      async () => {
        if (child.exitCode !== null) throw new Error(`the API process exited:\n${output}`);
        return /listening on (\d+)/.exec(output)?.[1];
      },
      (found) => found !== undefined,
    );
    return {
      api: apiClient(`http://127.0.0.1:${port}`, KEYS.support),
      /** The process dies at once, as in a crash: no handler, timer or connection of it runs on. */
      crash: async () => {
        child.kill('SIGKILL');
        await exited;
      },
    };
  }

  /** The real app, in this process, whose connection to Temporal has been closed (every call to Temporal fails), and the JSON lines it logs. */
  async function apiWithoutTemporal(): Promise<{ admin: ApiClient; support: ApiClient; logged: Array<Record<string, any>>; close(): Promise<void> }> {
    const connection = await Connection.connect({ address: testServices().temporalAddress });
    await connection.close();
    const logged: Array<Record<string, any>> = [];
    const logger = createLogger({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    const server = await listen(
      createApp({ orm: stack.db.orm, temporal: new TemporalClient({ connection }), taskQueue: stack.taskQueue, apiKeys: parseApiKeySpec(API_KEY_SPEC), logger }),
    );
    return { admin: apiClient(server.baseUrl, KEYS.admin), support: apiClient(server.baseUrl, KEYS.support), logged, close: () => server.close() };
  }

  it('answers 409 to a retry while the first request is still running, and 422 to another body', async () => {
    const invoice = await openInvoice();
    const headers = key();
    const body = { amount: '10.00', reference: unique('in-flight') };
    const lock = await lockInvoice(invoice.id);
    const first = stack.support.post(`/v1/invoices/${invoice.id}/payments`, body, headers);
    try {
      await lock.waiter();
      expectError(await stack.support.post(`/v1/invoices/${invoice.id}/payments`, body, headers), 409, { type: 'conflict_error', code: 'idempotency_key_in_use' });
      expectError(await stack.support.post(`/v1/invoices/${invoice.id}/payments`, { ...body, amount: '11.00' }, headers), 422, { code: 'idempotency_key_reused' });
    } finally {
      await lock.release();
    }
    const done = await first;
    expect(done.status).toBe(201);
    expect(done.headers.get('idempotent-replayed')).toBeNull();
    const replay = await stack.support.post(`/v1/invoices/${invoice.id}/payments`, body, headers);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(done.body);
    expect(await paymentsWithReference(body.reference)).toBe(1);
  });

  it('lets a retry take over the key of a process that died mid-request once its lease has run out, and records the payment once', async () => {
    const invoice = await openInvoice();
    const cashBefore = balanceOf(await balances(stack.admin), 'cash', 'USD');
    const headers = key();
    const body = { amount: '10.00', reference: unique('crash') };
    const doomed = await apiProcess(1_000);
    const lock = await lockInvoice(invoice.id);
    try {
      const inFlight = doomed.api.post(`/v1/invoices/${invoice.id}/payments`, body, headers).catch((error: unknown) => error);
      await lock.waiter();
      const claimed = await keyRow(headers);
      expect(claimed).toMatchObject({ status_code: null, recovery_point: 'started', lease_token: expect.any(String) });
      // A live attempt renews its lease however long it waits.
      await eventually('the running attempt renews its lease', () => keyRow(headers), (row) => Date.parse(row.locked_until!) > Date.parse(claimed.locked_until!));

      await doomed.crash();
      // The client's connection died with the process.
      expect(await inFlight).toMatchObject({ message: 'fetch failed' });
      // Nobody gave the key back: it stays held by the dead attempt until its lease runs out.
      expect(await keyRow(headers)).toMatchObject({ status_code: null, recovery_point: 'started', lease_token: claimed.lease_token });
    } finally {
      await lock.release();
    }

    const retried = await eventually(
      "the dead attempt's lease runs out",
      () => stack.support.post(`/v1/invoices/${invoice.id}/payments`, body, headers),
      (res) => res.status !== 409,
    );
    // The dead attempt's transaction rolled back with its connection, so this one did the work.
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBeNull();
    expect(retried.body).toMatchObject({ amount: '10.00', reference: body.reference, invoice: { amount_paid: '10.00', amount_due: '15.00' } });
    expect(await paymentsWithReference(body.reference)).toBe(1);
    expect(balanceOf(await balances(stack.admin), 'cash', 'USD').minus(cashBefore).toFixed(2)).toBe('10.00');

    const replay = await stack.support.post(`/v1/invoices/${invoice.id}/payments`, body, headers);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(retried.body);
  });

  it('answers a retry of a payment that committed and then failed with the committed payment, recorded once', async () => {
    const invoice = await openInvoice();
    const cashBefore = balanceOf(await balances(stack.admin), 'cash', 'USD');
    const headers = key();
    // Paying the whole invoice makes the API tell its collection workflow, through Temporal, after the commit.
    const body = { amount: '25.00', reference: unique('committed') };
    const broken = await apiWithoutTemporal();
    let failed;
    try {
      failed = await broken.support.post(`/v1/invoices/${invoice.id}/payments`, body, headers);
    } finally {
      await broken.close();
    }
    // The API logs the failure it answers 500 to, with its cause and the request id the caller got.
    const line = broken.logged.find((l) => l.level === 'error' && String(l.msg).includes('payments failed'));
    expect(line).toMatchObject({ requestId: failed.headers.get('request-id') });
    expect(JSON.stringify(line!.err)).toContain('Channel has been shut down');
    expect(failed.status).toBe(500);
    expect(await paymentsWithReference(body.reference)).toBe(1);
    // The payment committed with its recovery point; the failure gave the key back without an answer.
    const recorded = await keyRow(headers);
    expect(recorded).toMatchObject({ status_code: null, recovery_point: 'payment_recorded', lease_token: null });

    const retry = await stack.support.post(`/v1/invoices/${invoice.id}/payments`, body, headers);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(recorded.recovery_data!.payment_recorded.response);
    expect(retry.body).toMatchObject({ amount: '25.00', reference: body.reference, invoice: { id: invoice.id, status: 'paid', amount_due: '0.00' } });
    expect(await paymentsWithReference(body.reference)).toBe(1);
    expect(balanceOf(await balances(stack.admin), 'cash', 'USD').minus(cashBefore).toFixed(2)).toBe('25.00');
    expect(await keyRow(headers)).toMatchObject({ status_code: 201, recovery_point: 'finished' });

    const again = await stack.support.post(`/v1/invoices/${invoice.id}/payments`, body, headers);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(retry.body);
  });

  it('creates the subscription, once and under the id chosen first, when a retry follows a failed workflow start', async () => {
    const customer = await stack.admin.post('/v1/customers', { name: 'Unlucky', email: 'unlucky@example.test', currency: 'USD' });
    const headers = key();
    const body = { customer_id: customer.body.id, plan_code: plan };
    const broken = await apiWithoutTemporal();
    let failed;
    try {
      failed = await broken.admin.post('/v1/subscriptions', body, headers);
    } finally {
      await broken.close();
    }
    // The API logs the failure it answers 500 to, with its cause and the request id the caller got.
    const line = broken.logged.find((l) => l.level === 'error' && String(l.msg).includes('subscriptions failed'));
    expect(line).toMatchObject({ requestId: failed.headers.get('request-id') });
    expect(JSON.stringify(line!.err)).toContain('Channel has been shut down');
    expect(failed.status).toBe(500);
    const reserved = await keyRow(headers);
    expect(reserved).toMatchObject({ status_code: null, recovery_point: 'subscription_reserved', lease_token: null });
    const subscriptionsOfCustomer = async () =>
      (await stack.db.orm.em.fork().execute<Array<{ id: string }>>('select id from subscriptions where customer_id = ?', [customer.body.id])).map((r) => r.id);
    expect(await subscriptionsOfCustomer()).toEqual([]);

    const retry = await stack.admin.post('/v1/subscriptions', body, headers);
    expect(retry.status).toBe(201);
    // The effect ran now, not before: this is not a replay.
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(retry.body.id).toBe(reserved.recovery_data!.subscription_reserved.id);
    expect(await subscriptionsOfCustomer()).toEqual([retry.body.id]);
    const [invoice] = await waitForInvoices(stack.admin, retry.body.id, 1);
    expect(invoice.total).toBe('25.00');
  });
});
