import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../scripts/wait-for-port';
import { apiClient, type ApiClient } from '../support/http';

/**
 * The stack as a user starts it: `npm start`'s script with embedded Postgres and the Temporal dev
 * server, driven over HTTP, stopped with Ctrl-C (SIGINT) and started again on the same data.
 */
const ROOT = resolve(__dirname, '../..');
const DAY = 86_400_000;

interface Stack {
  process: ChildProcess;
  output: () => string;
  adminKey: string;
  exited: Promise<number | null>;
}

interface Ports {
  api: number;
  temporal: number;
  ui: number;
  postgres: number;
}

async function startStack(dataDir: string, ports: Ports): Promise<Stack> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PERENNIAL_DATA_DIR: dataDir,
    PORT: String(ports.api),
    TEMPORAL_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.ui),
    POSTGRES_PORT: String(ports.postgres),
  };
  for (const name of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'BILLING_API_KEYS', 'PERENNIAL_TEST_SERVICES']) delete env[name];
  // Its own process group, like a terminal's foreground job, so Ctrl-C can be sent to the whole group.
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let hasExited = false;
  const exited = new Promise<number | null>((done) =>
    child.once('exit', (code) => {
      hasExited = true;
      done(code);
    }),
  );
  const ready = await new Promise<boolean>((done) => {
    const check = (): void => {
      if (output.includes('Perennial is running.')) done(true);
      else if (hasExited) done(false);
      else setTimeout(check, 100);
    };
    check();
  });
  if (!ready) throw new Error(`npm start exited before the stack was ready:\n${output}`);
  const key = /admin key (sk_admin_[0-9a-f]+)/.exec(output);
  if (!key) throw new Error(`npm start did not print an admin key:\n${output}`);
  return { process: child, output: () => output, adminKey: key[1], exited };
}

function pressCtrlC(stack: Stack): void {
  process.kill(-(stack.process.pid as number), 'SIGINT');
}

function portIsOpen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, attempts = 600): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('npm start: the whole stack on embedded defaults', () => {
  let dataDir: string;
  let ports: Ports;
  let stack: Stack | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'perennial-e2e-'));
    ports = { api: await freePort(), temporal: await freePort(), ui: await freePort(), postgres: await freePort() };
  });

  afterAll(async () => {
    if (stack && stack.process.exitCode === null) {
      pressCtrlC(stack);
      await stack.exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  });

  it('bills a backdated daily subscription for every elapsed day, and keeps everything across a restart', async () => {
    stack = await startStack(dataDir, ports);
    const base = `http://127.0.0.1:${ports.api}`;
    expect((await fetch(`${base}/health`)).status).toBe(200);
    // The Web UI comes up alongside the dev server's gRPC port, which is all the script waits for.
    const uiStatus = await eventually('the Temporal UI', async () => {
      const response = await fetch(`http://127.0.0.1:${ports.ui}/`).catch(() => null);
      return response?.status === 200 ? 200 : undefined;
    });
    expect(uiStatus).toBe(200);
    expect((await apiClient(base, null).get('/v1/invoices')).status).toBe(401);

    let api: ApiClient = apiClient(base, stack.adminKey);
    const customer = await api.post('/v1/customers', { name: 'Backdated Ltd', email: 'ap@backdated.test', currency: 'EUR' });
    expect(customer.status).toBe(201);
    expect((await api.post('/v1/plans', { code: 'daily-eur', name: 'Daily', currency: 'EUR', interval: 'day', amount: '2.50' })).status).toBe(201);

    // Started three days and one hour ago: three whole days have elapsed and a fourth is running.
    const startAt = new Date(Math.floor((Date.now() - 3 * DAY - 3_600_000) / 1000) * 1000);
    const subscription = await api.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: 'daily-eur', start_at: startAt.toISOString() });
    expect(subscription.status).toBe(201);
    const id = subscription.body.id as string;

    const invoices = await eventually('four invoices', async () => {
      const list = await api.get(`/v1/invoices?subscription_id=${id}&limit=100`);
      return list.body.data.length === 4 ? [...list.body.data].reverse() : undefined;
    });
    const starts = invoices.map((i: any) => Date.parse(i.period_start));
    expect(starts).toEqual([0, 1, 2, 3].map((n) => startAt.getTime() + n * DAY));
    expect(invoices.every((i: any, n: number) => Date.parse(i.period_end) === starts[n] + DAY)).toBe(true);
    expect(invoices.map((i: any) => i.total)).toEqual(['2.50', '2.50', '2.50', '2.50']);
    const numbers = invoices.map((i: any) => Number(i.number.replace('INV-', '')));
    expect(numbers).toEqual([numbers[0], numbers[0] + 1, numbers[0] + 2, numbers[0] + 3]);

    const payment = await api.post(`/v1/invoices/${invoices[0].id}/payments`, { amount: '2.50', reference: 'wire 42' });
    expect(payment.status).toBe(201);
    expect(payment.body.invoice.status).toBe('paid');
    expect((await api.post(`/v1/invoices/${invoices[0].id}/payments`, { amount: '2.50' })).status).toBe(409);

    // Ctrl-C in a terminal signals the whole foreground process group: every process stops.
    pressCtrlC(stack);
    expect(await stack.exited).toBe(0);
    for (const port of Object.values(ports)) expect(await portIsOpen(port)).toBe(false);

    // A second start keeps the key, the customers, the invoices and the running workflow.
    const firstKey = stack.adminKey;
    stack = await startStack(dataDir, ports);
    expect(stack.adminKey).toBe(firstKey);
    api = apiClient(base, stack.adminKey);
    expect((await api.get(`/v1/customers/${customer.body.id}`)).body.name).toBe('Backdated Ltd');
    const kept = await api.get(`/v1/invoices?subscription_id=${id}&limit=100`);
    expect(kept.body.data.length).toBeGreaterThanOrEqual(4);
    expect(kept.body.data.find((i: any) => i.id === invoices[0].id).status).toBe('paid');
    const live = await api.get(`/v1/subscriptions/${id}`);
    expect(live.body).toMatchObject({ status: 'active', state_source: 'workflow' });

    const canceled = await api.post(`/v1/subscriptions/${id}/cancel`, { at: 'now' });
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe('canceled');
    const balances = await api.get('/v1/ledger/balances');
    const cash = balances.body.data.find((b: any) => b.account === 'cash');
    expect(cash).toMatchObject({ currency: 'EUR', balance: '2.50' });
  });
});
