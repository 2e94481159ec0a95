import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { typedClient } from '../support/http';
import { REVENUE_RECOGNITION_SCHEDULE_ID, REVENUE_RECOGNITION_WORKFLOW } from '../../workflows/messages';
import type { PerennialClient } from '../../client';
import { errorLines, eventually, freeStackPorts, portIsOpen, runNpmStartToExit, startNpmStart, stopNpmStart, type RunningStack, type StackPorts } from '../support/npm-start';

/**
 * The stack as a user starts it: `npm start`'s script with embedded Postgres and the Temporal dev
 * server, driven over HTTP, stopped with Ctrl-C (SIGINT) and started again on the same data.
 */
const DAY = 86_400_000;

describe('npm start: the whole stack on embedded defaults', () => {
  let dataDir: string;
  let ports: StackPorts;
  let stack: RunningStack | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'perennial-e2e-'));
    ports = await freeStackPorts();
  });

  afterAll(async () => {
    if (stack && !stack.hasExited()) await stopNpmStart(stack);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('bills a backdated daily subscription for every elapsed day, and keeps everything across a restart', async () => {
    stack = await startNpmStart({ dataDir, ports });
    const base = `http://127.0.0.1:${ports.api}`;
    expect((await fetch(`${base}/health`)).status).toBe(200);
    // The Web UI comes up alongside the dev server's gRPC port, which is all the script waits for.
    const uiStatus = await eventually('the Temporal UI', async () => {
      const response = await fetch(`http://127.0.0.1:${ports.ui}/`).catch(() => null);
      return response?.status === 200 ? 200 : undefined;
    });
    expect(uiStatus).toBe(200);
    expect((await typedClient(base, null).GET('/v1/invoices')).response.status).toBe(401);
    // The reference the banner points at, with no key: the page and the document it reads.
    expect(stack.output()).toContain(`API reference: http://localhost:${ports.api}/docs`);
    const docs = await fetch(`${base}/docs`);
    expect({ status: docs.status, page: (await docs.text()).includes('/openapi.json') }).toEqual({ status: 200, page: true });
    expect(((await (await fetch(`${base}/openapi.json`)).json()) as { openapi: string }).openapi).toBe('3.1.0');

    // The worker made sure revenue is recognised daily at 00:10 UTC by a Temporal Schedule.
    const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    try {
      const schedule = await new Client({ connection }).schedule.getHandle(REVENUE_RECOGNITION_SCHEDULE_ID).describe();
      expect({
        workflow: schedule.action.workflowType,
        at: schedule.spec.calendars?.map((c) => [c.hour, c.minute]),
        overlap: schedule.policies.overlap,
      }).toEqual({ workflow: REVENUE_RECOGNITION_WORKFLOW, at: [[[{ start: 0, end: 0, step: 1 }], [{ start: 10, end: 10, step: 1 }]]], overlap: 'SKIP' });
    } finally {
      await connection.close();
    }

    let api: PerennialClient = typedClient(base, stack.adminKey);
    const customer = await api.POST('/v1/customers', { body: { name: 'Backdated Ltd', email: 'ap@backdated.test', currency: 'EUR' } });
    expect(customer.response.status).toBe(201);
    expect((await api.POST('/v1/plans', { body: { code: 'daily-eur', name: 'Daily', currency: 'EUR', interval: 'day', amount: '2.50' } })).response.status).toBe(201);

    // Started three days and one hour ago: three whole days have elapsed and a fourth is running.
    const startAt = new Date(Math.floor((Date.now() - 3 * DAY - 3_600_000) / 1000) * 1000);
    const subscription = await api.POST('/v1/subscriptions', { body: { customer_id: customer.data!.id, plan_code: 'daily-eur', start_at: startAt.toISOString() } });
    expect(subscription.response.status).toBe(201);
    const id = subscription.data!.id;

    const invoices = await eventually('four invoices', async () => {
      const list = await api.GET('/v1/invoices', { params: { query: { subscription_id: id, limit: 100 } } });
      return list.data!.data.length === 4 ? [...list.data!.data].reverse() : undefined;
    });
    const starts = invoices.map((i) => Date.parse(i.period_start!));
    expect(starts).toEqual([0, 1, 2, 3].map((n) => startAt.getTime() + n * DAY));
    expect(invoices.every((i, n) => Date.parse(i.period_end!) === starts[n] + DAY)).toBe(true);
    expect(invoices.map((i) => i.total)).toEqual(['2.50', '2.50', '2.50', '2.50']);
    const numbers = invoices.map((i) => Number(i.number!.replace('INV-', '')));
    expect(numbers).toEqual([numbers[0], numbers[0] + 1, numbers[0] + 2, numbers[0] + 3]);

    const payment = await api.POST('/v1/invoices/{id}/payments', { params: { path: { id: invoices[0].id } }, body: { amount: '2.50', reference: 'wire 42' } });
    expect(payment.response.status).toBe(201);
    expect(payment.data!.invoice.status).toBe('paid');
    expect((await api.POST('/v1/invoices/{id}/payments', { params: { path: { id: invoices[0].id } }, body: { amount: '2.50' } })).response.status).toBe(409);

    // Ctrl-C in a terminal signals the whole foreground process group: every process stops.
    const stopped = await stopNpmStart(stack);
    expect({ code: stopped.code, apiErrors: errorLines(stopped.outputAfterCtrlC, 'api') }).toEqual({ code: 0, apiErrors: [] });
    expect(stopped.leftovers).toEqual([]);
    for (const port of Object.values(ports)) expect(await portIsOpen(port)).toBe(false);

    // A second start keeps the key, the customers, the invoices and the running workflow.
    const firstKey = stack.adminKey;
    stack = await startNpmStart({ dataDir, ports });
    expect(stack.adminKey).toBe(firstKey);
    api = typedClient(base, stack.adminKey);
    expect((await api.GET('/v1/customers/{id}', { params: { path: { id: customer.data!.id } } })).data!.name).toBe('Backdated Ltd');
    const kept = await api.GET('/v1/invoices', { params: { query: { subscription_id: id, limit: 100 } } });
    expect(kept.data!.data.length).toBeGreaterThanOrEqual(4);
    expect(kept.data!.data.find((i) => i.id === invoices[0].id)!.status).toBe('paid');
    const live = await api.GET('/v1/subscriptions/{id}', { params: { path: { id } } });
    expect(live.data).toMatchObject({ status: 'active', state_source: 'workflow' });

    const canceled = await api.POST('/v1/subscriptions/{id}/cancel', { params: { path: { id } }, body: { at: 'now' } });
    expect(canceled.response.status).toBe(200);
    expect(canceled.data!.status).toBe('canceled');
    const balances = await api.GET('/v1/ledger/balances');
    const cash = balances.data!.data.find((b) => b.account === 'cash');
    expect(cash).toMatchObject({ currency: 'EUR', balance: '2.50' });
    // Two cold starts (each bundles the workflows) take about 40 s on an idle machine and over two
    // minutes on a loaded one: a limit on a hang, not on speed.
  }, 300_000);
});

describe('npm start: settings that cannot be used', () => {
  it('refuses a placeholder API key and a half-configured Stripe, naming both, before starting anything', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'perennial-e2e-refused-'));
    const dataDir = join(parent, 'data');
    const ports = await freeStackPorts();
    try {
      const { code, output } = await runNpmStartToExit({
        dataDir,
        ports,
        env: { BILLING_API_KEYS: 'admin:change-me', STRIPE_WEBHOOK_SECRET: 'whsec_only_the_secret' },
      });
      expect(code).not.toBe(0);
      expect(output).toMatch(/BILLING_API_KEYS: the admin key "change-me" is a placeholder/);
      expect(output).toMatch(/STRIPE_WEBHOOK_SECRET is set but STRIPE_SECRET_KEY is not/);
      expect(output).not.toMatch(/Starting|Perennial is running|\[(api|worker)\]|Stopping|Data is kept/);
      expect(existsSync(dataDir)).toBe(false);
      for (const port of Object.values(ports)) expect(await portIsOpen(port)).toBe(false);
    } finally {
      await rm(parent, { recursive: true, force: true });
    }
  });
});
