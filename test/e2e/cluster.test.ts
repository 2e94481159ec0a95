import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { typedClient } from '../support/http';
import { TASK_QUEUE, subscriptionWorkflowId } from '../../workflows/messages';
import { errorLines, eventually, freeStackPorts, portIsOpen, startNpmStart, stopNpmStart, type RunningStack, type StackPorts } from '../support/npm-start';

/**
 * `npm run start:cluster` as a user runs it: embedded Postgres, the Temporal server on it, two
 * worker processes and two API processes behind one port, driven over HTTP and through Temporal's
 * own API, one worker killed as the OOM killer would, then Ctrl-C.
 */
const EventType = temporal.api.enums.v1.EventType;

describe('npm run start:cluster: two workers and two APIs on a Temporal server on Postgres', () => {
  let dataDir: string;
  let ports: StackPorts;
  let stack: RunningStack | undefined;
  let serverPid: number | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'perennial-e2e-cluster-'));
    ports = await freeStackPorts();
  });

  afterAll(async () => {
    if (stack && !stack.hasExited()) await stopNpmStart(stack);
    // It runs in a process group of its own, so stopNpmStart's sweep cannot see it.
    if (serverPid && alive(serverPid)) process.kill(serverPid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers from both API processes, bills on either worker, carries on when one is killed, and stops everything on Ctrl-C', async () => {
    // The first start on a machine builds the server from the Go module proxy: minutes, not a hang.
    stack = await startNpmStart({ dataDir, ports, args: ['--cluster'], timeoutMs: 1_500_000 });
    const output = stack.output();
    serverPid = Number(/Temporal server v[\d.]+ on Postgres, pid (\d+)/.exec(output)?.[1]);
    const workerPids = [1, 2].map((n) => Number(new RegExp(`worker-${n}: +pid (\\d+)`).exec(output)?.[1]));
    expect({ serverPid: serverPid > 0, workerPids: workerPids.every((pid) => pid > 0) }).toEqual({ serverPid: true, workerPids: true });
    expect(output).toContain('Temporal UI:  not started');

    const base = `http://127.0.0.1:${ports.api}`;
    expect((await fetch(`${base}/health`)).status).toBe(200);

    // One connection per request, so the cluster's round-robin hands each to the next process.
    const requestIds: string[] = [];
    for (let i = 0; i < 6; i++) {
      const response = await fetch(`${base}/v1/invoices`, { headers: { authorization: `Bearer ${stack.adminKey}`, connection: 'close' } });
      expect(response.status).toBe(200);
      requestIds.push(response.headers.get('request-id')!);
    }
    const answeredBy = await eventually('a log line for every request', async () => {
      const labels = requestIds.map((id) => new RegExp(`^\\[(api-\\d)\\] .*requestId=${id}`, 'm').exec(stack!.output())?.[1]);
      return labels.every(Boolean) ? new Set(labels) : undefined;
    });
    expect([...answeredBy].sort()).toEqual(['api-1', 'api-2']);

    const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
    try {
      const client = new Client({ connection });
      // The server knows both workers as pollers of the task queue, by their identity (pid@host).
      const pollers = await eventually('both workers polling', async () => {
        const { pollers } = await connection.workflowService.describeTaskQueue({
          namespace: 'default',
          taskQueue: { name: TASK_QUEUE },
          taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        });
        const pids = new Set((pollers ?? []).map((p) => Number(p.identity?.split('@')[0])));
        return workerPids.every((pid) => pids.has(pid)) ? pids : undefined;
      });
      expect(workerPids.every((pid) => pollers.has(pid))).toBe(true);

      const api = typedClient(base, stack.adminKey);
      const customer = await api.POST('/v1/customers', { body: { name: 'Cluster Ltd', email: 'ap@cluster.test', currency: 'EUR' } });
      expect(customer.response.status).toBe(201);
      expect((await api.POST('/v1/plans', { body: { code: 'monthly-eur', name: 'Monthly', currency: 'EUR', interval: 'month', amount: '30.00' } })).response.status).toBe(201);
      const firstInvoice = async (subscriptionId: string) =>
        eventually(`the first invoice of ${subscriptionId}`, async () => {
          const list = await api.GET('/v1/invoices', { params: { query: { subscription_id: subscriptionId, limit: 10 } } });
          return list.data!.data[0];
        }, { timeoutMs: 180_000 });

      const first = await api.POST('/v1/subscriptions', { body: { customer_id: customer.data!.id, plan_code: 'monthly-eur' } });
      expect(first.response.status).toBe(201);
      expect((await firstInvoice(first.data!.id)).total).toBe('30.00');
      // Its search attributes reached SQL visibility: the console's filters work on this server.
      const listed = await eventually('the subscription in visibility', async () => {
        const found: string[] = [];
        for await (const execution of client.workflow.list({ query: `CustomerId = "${customer.data!.id}"` })) found.push(execution.workflowId);
        return found.length > 0 ? found : undefined;
      });
      expect(listed).toEqual([subscriptionWorkflowId(first.data!.id)]);

      // SIGKILL: no drain, no goodbye to the server. The stack says so and keeps running.
      process.kill(workerPids[0], 'SIGKILL');
      await eventually('the stack noticing', async () => (stack!.output().includes('worker-1 exited (killed by SIGKILL); worker-2 carries on') ? true : undefined));
      expect(stack.hasExited()).toBe(false);

      const second = await api.POST('/v1/subscriptions', { body: { customer_id: customer.data!.id, plan_code: 'monthly-eur' } });
      expect(second.response.status).toBe(201);
      expect((await firstInvoice(second.data!.id)).total).toBe('30.00');
      // Every workflow task and activity of the new subscription was completed by the worker left.
      const history = await client.workflow.getHandle(subscriptionWorkflowId(second.data!.id)).fetchHistory();
      const completedBy = new Set(
        (history.events ?? []).flatMap((event) => {
          if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) return [event.workflowTaskCompletedEventAttributes?.identity];
          if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) return [event.activityTaskCompletedEventAttributes?.identity];
          return [];
        }),
      );
      expect([...completedBy].map((identity) => Number(identity?.split('@')[0]))).toEqual([workerPids[1]]);
    } finally {
      await connection.close();
    }

    // Ctrl-C in a terminal signals the foreground process group; the Temporal server, in a group of
    // its own, is stopped by npm start after the workers and APIs.
    const stopped = await stopNpmStart(stack);
    const apiErrors = ['api', 'api-1', 'api-2'].flatMap((name) => errorLines(stopped.outputAfterCtrlC, name));
    expect({ code: stopped.code, apiErrors, leftovers: stopped.leftovers, server: alive(serverPid) }).toEqual({ code: 0, apiErrors: [], leftovers: [], server: false });
    for (const port of [ports.api, ports.temporal, ports.postgres]) expect(await portIsOpen(port)).toBe(false);
    expect(existsSync(join(dataDir, 'temporal-server.log'))).toBe(true);
  }, 1_800_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
