/**
 * Records the workflow histories that test/replay/replay.test.ts replays, from real runs: a worker
 * with the real activities (Postgres, the Stripe emulator) on the time-skipping test server, driven
 * through the API as support staff and customers would. Each scenario gets a server, a database and
 * a worker of its own, and writes the runs it guards to test/replay/histories/<name>.json.
 *
 *   node --import tsx test/replay/record.ts                 # every scenario
 *   node --import tsx test/replay/record.ts billing-error   # only the ones named
 *
 * Runs on code from before a patch run on workflows taken from git history (`git archive <commit>`,
 * bundled on their own) with today's activities, which is what a deploy does to a running
 * subscription. To guard a new patch: add a scenario that starts on the commit before it and moves
 * to today's bundle mid-run, at an instant where the patched branch is taken; then list the new file
 * in the replay test. Keep scenarios short: every event is kept in the repository.
 */
import { execSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type Stripe from 'stripe';
import { createActivities } from '../../activities';
import { createApp } from '../../api/app';
import { usagePool } from '../../api/usage-ingest';
import { parseApiKeySpec } from '../../config/env';
import { migrate, openOrm } from '../../db/orm';
import { StripeGateway, stripeClient as gatewayClient } from '../../payments/stripe-gateway';
import { startEmbeddedPostgres } from '../../scripts/embedded-postgres';
import { startStripeEmulator, type StripeEmulator } from '../../scripts/stripe-emulator';
import { freePort } from '../../scripts/wait-for-port';
import {
  invoiceWorkflowId,
  REVENUE_RECOGNITION_WORKFLOW,
  retryBillingSignal,
  revenueRecognitionWorkflowId,
  WALLET_MAINTENANCE_WORKFLOW,
  walletMaintenanceWorkflowId,
  webhookDeliveryWorkflowId,
  type RevenueRecognitionWorkflow,
  type WalletMaintenanceWorkflow,
} from '../../workflows/messages';
import { publishServices } from '../setup/services';
import { chooseTimeSkippingServer } from '../setup/time-skipping-server';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { apiClient, listen, type ApiClient } from '../support/http';
import { stripeClient } from '../support/stripe';
import { eventually } from '../support/eventually';
import { timeSkippingEnvironment, uniqueTaskQueue } from '../support/temporal';
import { commitFact, webhookReceiver } from '../support/webhook-receiver';
import { EventRelay } from '../../workers/event-relay';

const REPO = resolve(__dirname, '..', '..');
const HISTORIES = join(__dirname, 'histories');

/** The last commit without invoice collection (1a05050 added it, behind the patch 'collect-invoices'). */
const BEFORE_COLLECT_INVOICES = '15d22e2f92f2f23f99f7ae8c145791ba0d1aa02b';
/** The last commit before the patch 'cancel-in-flight-intents' (and 'billing-error-waits'). */
const BEFORE_CANCEL_IN_FLIGHT = 'f3b23a0a59d627d271e620fc362659af4eb25633';
/** The last commit before the patch 'ratable-revenue-recognition' (subscriptions recognised a lump at each period's end). */
const BEFORE_RATABLE_RECOGNITION = 'b42a4dbf0c7ce98e3a4e04524533e3b696c6e3f4';
/** The last commit before the patch 'trial-will-end-event' (a trial waited for its end only). */
const BEFORE_TRIAL_WILL_END = '6156d1cb2a47218af9e6450782112e2a3f850c9e';
/** The last commit before the patches 'local-state-record' and 'local-collection-context' (both were activities). */
const BEFORE_LOCAL_ACTIVITIES = '3d3891cc31a6531696ccf22bb348f687390a52b8';

const ADMIN_KEY = 'sk_test_replay_recorder_admin';
const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const silent = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (message: string) => console.error(message) };

// ---- services ---------------------------------------------------------------------------------------

interface Services {
  scratch: string;
  bundles: Map<string, string>;
  stripe: StripeEmulator;
  stop(): Promise<void>;
}

/** The workflow code of `commit` (null: the working tree), bundled as a worker loads it. */
async function bundleAt(scratch: string, commit: string | null): Promise<string> {
  let workflowsPath = join(REPO, 'workflows');
  if (commit) {
    // Only the sources the workflows import; the bundler finds packages through the symlink.
    const tree = join(scratch, `tree-${commit.slice(0, 7)}`);
    await mkdir(tree, { recursive: true });
    execSync(`git -C ${JSON.stringify(REPO)} archive ${commit} workflows domain | tar -x -C ${JSON.stringify(tree)}`);
    await symlink(join(REPO, 'node_modules'), join(tree, 'node_modules'));
    workflowsPath = join(tree, 'workflows');
  }
  return (await bundleWorkflowCode({ workflowsPath, logger: silent })).code;
}

/** Postgres with a migrated template, the Stripe emulator, and the bundles; published as the test setup does. */
async function startServices(): Promise<Services> {
  const scratch = await mkdtemp(join(tmpdir(), 'perennial-record-'));
  const port = await freePort();
  const postgres = await startEmbeddedPostgres({ dataDir: join(scratch, 'postgres'), port, database: 'perennial_template' });
  const stops: Array<() => Promise<unknown>> = [() => postgres.stop()];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch((error: unknown) => console.error(error));
    await rm(scratch, { recursive: true, force: true });
  };
  try {
    const orm = await openOrm(postgres.url);
    await migrate(orm);
    await orm.close();
    const bundles = new Map<string, string>();
    bundles.set('current', await bundleAt(scratch, null));
    const workflowBundlePath = join(scratch, 'workflow-bundle.js');
    await writeFile(workflowBundlePath, bundles.get('current')!);
    publishServices({
      postgresAdminUrl: postgres.url.replace(/\/perennial_template$/, '/postgres'),
      templateDatabase: 'perennial_template',
      temporalAddress: 'unused',
      timeSkippingServer: await chooseTimeSkippingServer(),
      workflowBundlePath,
    });
    const stripe = await startStripeEmulator({ port: await freePort(), quiet: true });
    stops.push(() => stripe.stop());
    return { scratch, bundles, stripe, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---- one scenario's world ---------------------------------------------------------------------------

interface World {
  env: TestWorkflowEnvironment;
  client: Client;
  taskQueue: string;
  db: TestDatabase;
  api: ApiClient;
  /** The emulator as the customer's browser reaches it (cards are created there). */
  stripe: Stripe;
  /** Replaces the worker by one running `bundle` (a deploy): the old one stops first. */
  deploy(bundle: string): Promise<void>;
  skipTo(instant: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * `deployLater`: the first worker will be replaced mid-scenario. It then keeps no workflow cached, so
 * the server sends each task to the shared queue: a task offered to a stopped worker's sticky queue
 * waits for a schedule-to-start timeout that this server counts on its own clock, which stays locked
 * while the task waits, so it would wait forever (and this server cannot reset a sticky queue).
 */
async function world(services: Services, label: string, options: { bundle: string; stripe: boolean; deployLater?: boolean }): Promise<World> {
  const env = await timeSkippingEnvironment();
  const db = await createTestDatabase();
  const taskQueue = uniqueTaskQueue(label);
  const gateway = options.stripe ? new StripeGateway(gatewayClient({ secretKey: 'sk_test_recorder', webhookSecret: null, apiBase: services.stripe.apiBase })) : null;
  let worker: Worker | null = null;
  let running: Promise<void> = Promise.resolve();
  const stopWorker = async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    worker = null;
  };
  const deploy = async (bundle: string, sticky = true) => {
    await stopWorker();
    const next = await Worker.create({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue,
      workflowBundle: { code: bundle },
      activities: createActivities({ orm: db.orm, stripe: gateway }),
      ...(sticky ? { stickyQueueScheduleToStartTimeout: '2 seconds' } : { maxCachedWorkflows: 0 }),
      shutdownGraceTime: '2 seconds',
      shutdownForceTime: '20 seconds',
    });
    worker = next;
    running = next.run();
  };
  await deploy(options.bundle, !options.deployLater);
  const pool = usagePool(db.url);
  const server = await listen(
    createApp({ orm: db.orm, temporal: env.client, taskQueue, apiKeys: parseApiKeySpec(`admin:${ADMIN_KEY}`), usagePool: pool, stripe: gateway ? { gateway, webhookSecret: null } : null }),
  );
  return {
    env,
    client: env.client,
    taskQueue,
    db,
    api: apiClient(server.baseUrl, ADMIN_KEY),
    stripe: stripeClient(services.stripe.apiBase),
    deploy: (bundle) => deploy(bundle),
    async skipTo(instant: string) {
      const ms = Date.parse(instant) - (await env.currentTimeMs());
      if (ms > 0) await env.sleep(ms);
    },
    // The server goes with its workflows: nothing is terminated, so no time lock is left behind.
    async stop() {
      await server.close();
      await stopWorker();
      await pool.end();
      await db.drop();
      await env.teardown();
    },
  };
}

// ---- reading and writing histories ------------------------------------------------------------------


/** Events that start something a later event ends, and the attribute of the ending event that points back. */
const OPENS = new Set([
  EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
  EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
  EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
  EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
]);
const CLOSES: Partial<Record<number, (e: HistoryEvent) => unknown>> = {
  [EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED]: (e) => e.workflowTaskCompletedEventAttributes?.scheduledEventId,
  [EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]: (e) => e.workflowTaskFailedEventAttributes?.scheduledEventId,
  [EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT]: (e) => e.workflowTaskTimedOutEventAttributes?.scheduledEventId,
  [EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED]: (e) => e.activityTaskCompletedEventAttributes?.scheduledEventId,
  [EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED]: (e) => e.activityTaskFailedEventAttributes?.scheduledEventId,
  [EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT]: (e) => e.activityTaskTimedOutEventAttributes?.scheduledEventId,
  [EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED]: (e) => e.activityTaskCanceledEventAttributes?.scheduledEventId,
  [EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED]: (e) => e.childWorkflowExecutionStartedEventAttributes?.initiatedEventId,
  [EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED]: (e) => e.startChildWorkflowExecutionFailedEventAttributes?.initiatedEventId,
  [EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED]: (e) => e.externalWorkflowExecutionSignaledEventAttributes?.initiatedEventId,
  [EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED]: (e) => e.signalExternalWorkflowExecutionFailedEventAttributes?.initiatedEventId,
};

/** Nothing of the run is in flight: it waits on a timer, a signal or an update (or has closed). */
function idle(events: HistoryEvent[]): boolean {
  const open = new Set<string>();
  for (const event of events) {
    if (OPENS.has(event.eventType!)) open.add(String(event.eventId));
    const closes = CLOSES[event.eventType!];
    if (closes) open.delete(String(closes(event)));
  }
  return open.size === 0;
}

async function waitIdle(client: Client, workflowId: string, runId?: string): Promise<void> {
  const handle = client.workflow.getHandle(workflowId, runId);
  await eventually(`${workflowId} is idle`, async () => idle((await handle.fetchHistory()).events ?? []), (done) => done);
}

async function waitClosed(client: Client, workflowId: string): Promise<void> {
  const handle = client.workflow.getHandle(workflowId);
  await eventually(`${workflowId} completes`, async () => (await handle.describe()).status.name, (status) => status !== 'RUNNING');
  const status = (await handle.describe()).status.name;
  if (status !== 'COMPLETED') throw new Error(`${workflowId} ended ${status}`);
}

/** Writes one run's history (the latest run when `runId` is omitted), once it is idle. */
async function save(client: Client, file: string, workflowId: string, runId?: string): Promise<void> {
  await waitIdle(client, workflowId, runId);
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  await writeFile(join(HISTORIES, file), `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 2)}\n`);
  console.log(`  ${file}: ${history.events?.length ?? 0} events`);
}

/** Every run of a workflow, oldest first, followed through continue-as-new from its first run. */
async function runsOf(client: Client, workflowId: string, firstRunId: string): Promise<string[]> {
  const runs = [firstRunId];
  for (;;) {
    const events = (await client.workflow.getHandle(workflowId, runs.at(-1)).fetchHistory()).events ?? [];
    const next = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    if (!next) return runs;
    runs.push(next);
  }
}

// ---- the business side, as the API is used ----------------------------------------------------------

async function ok(response: Promise<{ status: number; body: any }>, status: number): Promise<any> {
  const res = await response;
  if (res.status !== status) throw new Error(`expected HTTP ${status}, got ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

let customers = 0;
async function customer(w: World, card: string | null): Promise<string> {
  const n = ++customers;
  const created = await ok(w.api.post('/v1/customers', { name: `Recorded ${n}`, email: `recorded${n}@example.test`, currency: 'USD' }), 201);
  if (card) await attachCard(w, created.id, card);
  return created.id;
}

async function attachCard(w: World, customerId: string, card: string): Promise<void> {
  const method = await w.stripe.paymentMethods.create({ type: 'card', card: { number: card, exp_month: 12, exp_year: 2034, cvc: '123' } });
  await ok(w.api.post(`/v1/customers/${customerId}/payment_methods`, { payment_method: method.id }), 201);
}

async function subscribe(w: World, customerId: string, planCode: string, startAt: string): Promise<{ id: string; workflowId: string; firstRunId: string }> {
  const created = await ok(w.api.post('/v1/subscriptions', { customer_id: customerId, plan_code: planCode, start_at: startAt }), 201);
  const { runId } = await w.client.workflow.getHandle(created.workflow_id).describe();
  return { id: created.id, workflowId: created.workflow_id, firstRunId: runId };
}

const invoices = async (w: World, subscriptionId: string): Promise<any[]> => [...(await ok(w.api.get(`/v1/invoices?subscription_id=${subscriptionId}&limit=100`), 200)).data].reverse();
const statusOf = async (w: World, subscriptionId: string): Promise<string> => (await ok(w.api.get(`/v1/subscriptions/${subscriptionId}`), 200)).status;

async function expectStatus(w: World, subscriptionId: string, status: string): Promise<void> {
  await eventually(`subscription ${subscriptionId} is ${status}`, () => statusOf(w, subscriptionId), (s) => s === status);
}

const PRO = { code: 'pro', name: 'Pro', currency: 'USD', interval: 'month', amount: '49.00' };

// ---- scenarios ------------------------------------------------------------------------------------

interface Scenario {
  name: string;
  what: string;
  run(services: Services): Promise<void>;
}

async function inWorld(services: Services, label: string, options: Parameters<typeof world>[2], work: (w: World) => Promise<void>): Promise<void> {
  const w = await world(services, label, options);
  try {
    await work(w);
  } finally {
    await w.stop();
  }
}

/** An invoice of a card customer, collected by today's code or by the code of `commit`. */
async function collection(services: Services, label: string, commit: string | null, work: (w: World) => Promise<void>): Promise<void> {
  const key = commit ?? 'current';
  if (!services.bundles.has(key)) services.bundles.set(key, await bundleAt(services.scratch, commit));
  await inWorld(services, label, { bundle: services.bundles.get(key)!, stripe: true }, async (w) => {
    await ok(w.api.post('/v1/plans', PRO), 201);
    await work(w);
  });
}

async function threeDSecureThenManualPayment(w: World, file: string): Promise<void> {
  const id = await customer(w, '4000002760003184');
  const sub = await subscribe(w, id, 'pro', '2027-02-01T00:00:00Z');
  await w.skipTo('2027-02-01T00:01:00Z');
  const [invoice] = await eventually('the first invoice waits for 3-D Secure', () => invoices(w, sub.id), (list) => list.length === 1);
  const [attempt] = await w.db.orm.em.fork().execute<Array<{ status: string }>>('select status from payment_attempts where invoice_id = ?', [invoice.id]);
  if (attempt?.status !== 'requires_action') throw new Error(`expected an attempt in requires_action, got ${JSON.stringify(attempt)}`);
  await waitIdle(w.client, invoiceWorkflowId(invoice.id));
  // The customer pays by bank transfer the next day instead of authenticating.
  await w.skipTo('2027-02-02T12:00:00Z');
  await ok(w.api.post(`/v1/invoices/${invoice.id}/payments`, { amount: '49.00', reference: 'wire 7' }), 201);
  await waitClosed(w.client, invoiceWorkflowId(invoice.id));
  await save(w.client, file, invoiceWorkflowId(invoice.id));
}

const scenarios: Scenario[] = [
  {
    name: 'trial-will-end-crossed',
    what: 'a 14-day trial started before subscription.trial_will_end, deployed onto it mid-trial and extended (the patch taken): the end reported three days before it, then the first period invoiced',
    async run(services) {
      const before = await bundleAt(services.scratch, BEFORE_TRIAL_WILL_END);
      await inWorld(services, 'trial-will-end', { bundle: before, stripe: false, deployLater: true }, async (w) => {
        await ok(w.api.post('/v1/plans', { ...PRO, code: 'trial', trial_days: 14 }), 201);
        const sub = await subscribe(w, await customer(w, null), 'trial', '2027-01-01T00:00:00Z');
        await w.skipTo('2027-01-01T00:01:00Z');
        await expectStatus(w, sub.id, 'trialing');
        await waitIdle(w.client, sub.workflowId);

        await w.deploy(services.bundles.get('current')!);
        await w.skipTo('2027-01-05T00:00:00Z');
        // The old run sleeps until the trial's end; a change wakes it on the new code, which takes the patch.
        await ok(w.api.post(`/v1/subscriptions/${sub.id}/extend_trial`, { trial_end: '2027-01-20T00:00:00Z' }), 200);
        await w.skipTo('2027-01-17T00:01:00Z');
        const reported = async () => (await w.db.orm.em.fork().execute<Array<{ n: number }>>(`select count(*)::int as n from events where type = 'subscription.trial_will_end' and object_id = ?`, [sub.id]))[0].n;
        await eventually('the trial will end', reported, (n) => n === 1);
        await w.skipTo('2027-01-20T00:01:00Z');
        await eventually('the first period is invoiced', () => invoices(w, sub.id), (list) => list.length === 1);
        await save(w.client, 'subscription-trial-will-end-crossed.json', sub.workflowId, sub.firstRunId);
      });
    },
  },
  {
    name: 'ratable-recognition-crossed',
    what: 'a subscription started before ratable recognition, deployed onto it mid-period (its period end takes the patch, no lump), then three days recognised by the recognition workflow',
    async run(services) {
      const before = await bundleAt(services.scratch, BEFORE_RATABLE_RECOGNITION);
      await inWorld(services, 'ratable', { bundle: before, stripe: false, deployLater: true }, async (w) => {
        await ok(w.api.post('/v1/plans', PRO), 201);
        const sub = await subscribe(w, await customer(w, null), 'pro', '2027-01-01T00:00:00Z');
        await w.skipTo('2027-01-01T00:01:00Z');
        await eventually('the first period is invoiced by the old code', () => invoices(w, sub.id), (list) => list.length === 1);
        await waitIdle(w.client, sub.workflowId);

        await w.deploy(services.bundles.get('current')!);
        await w.skipTo('2027-02-01T00:01:00Z');
        await eventually('the renewal is invoiced', () => invoices(w, sub.id), (list) => list.length === 2);
        const runs = await runsOf(w.client, sub.workflowId, sub.firstRunId);
        if (runs.length !== 2) throw new Error(`expected two runs, got ${runs.length}`);
        await save(w.client, 'subscription-ratable-recognition-crossed.json', sub.workflowId, runs[0]);

        const workflowId = revenueRecognitionWorkflowId('recorded');
        await w.client.workflow.start<RevenueRecognitionWorkflow>(REVENUE_RECOGNITION_WORKFLOW, { taskQueue: w.taskQueue, workflowId, args: [{ through: '2027-01-04T00:00:00Z' }] });
        await waitClosed(w.client, workflowId);
        await save(w.client, 'revenue-recognition-three-days.json', workflowId);
      });
    },
  },
  {
    name: 'collect-invoices-crossed',
    what: 'a subscription started before invoice collection existed, deployed onto it mid-period, upgraded (the patch taken), then renewed',
    async run(services) {
      const before = await bundleAt(services.scratch, BEFORE_COLLECT_INVOICES);
      await inWorld(services, 'crossed', { bundle: before, stripe: false, deployLater: true }, async (w) => {
        await ok(w.api.post('/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', amount: '10.00' }), 201);
        await ok(w.api.post('/v1/plans', { ...PRO, amount: '30.00' }), 201);
        const sub = await subscribe(w, await customer(w, null), 'basic', '2027-01-01T00:00:00Z');
        await w.skipTo('2027-01-01T00:01:00Z');
        await eventually('the first period is invoiced by the old code', () => invoices(w, sub.id), (list) => list.length === 1);
        await waitIdle(w.client, sub.workflowId);

        // The deploy: from here on, the run continues on code that collects invoices.
        await w.deploy(services.bundles.get('current')!);
        await w.skipTo('2027-01-15T00:00:00Z');
        await ok(w.api.post(`/v1/subscriptions/${sub.id}/change_plan`, { plan_code: 'pro', at: 'now', proration: 'prorate' }), 200);
        const [, proration] = await eventually('the upgrade is invoiced', () => invoices(w, sub.id), (list) => list.length === 2);
        await waitIdle(w.client, invoiceWorkflowId(proration.id));
        await w.skipTo('2027-02-01T00:01:00Z');
        const all = await eventually('the renewal is invoiced', () => invoices(w, sub.id), (list) => list.length === 3);
        await waitIdle(w.client, invoiceWorkflowId(all[2].id));
        const runs = await runsOf(w.client, sub.workflowId, sub.firstRunId);
        if (runs.length !== 2) throw new Error(`expected two runs, got ${runs.length}`);
        await save(w.client, 'subscription-collect-invoices-crossed.json', sub.workflowId, runs[0]);
        await save(w.client, 'subscription-collect-invoices-next-run.json', sub.workflowId, runs[1]);
      });
    },
  },
  {
    name: 'local-activities-crossed',
    what: 'a card subscription started before the state record and the collection context were local activities, deployed onto them mid-period and upgraded (both patches taken), then renewed',
    async run(services) {
      const before = await bundleAt(services.scratch, BEFORE_LOCAL_ACTIVITIES);
      await inWorld(services, 'local-crossed', { bundle: before, stripe: true, deployLater: true }, async (w) => {
        await ok(w.api.post('/v1/plans', { code: 'basic', name: 'Basic', currency: 'USD', interval: 'month', amount: '10.00' }), 201);
        await ok(w.api.post('/v1/plans', { ...PRO, amount: '30.00' }), 201);
        const sub = await subscribe(w, await customer(w, '4242424242424242'), 'basic', '2027-01-01T00:00:00Z');
        await w.skipTo('2027-01-01T00:01:00Z');
        const [first] = await eventually('the first invoice is paid on the old code', () => invoices(w, sub.id), (list) => list[0]?.status === 'paid');
        await waitClosed(w.client, invoiceWorkflowId(first.id));
        await waitIdle(w.client, sub.workflowId);

        await w.deploy(services.bundles.get('current')!);
        await w.skipTo('2027-01-15T00:00:00Z');
        await ok(w.api.post(`/v1/subscriptions/${sub.id}/change_plan`, { plan_code: 'pro', at: 'now', proration: 'prorate' }), 200);
        const [, proration] = await eventually('the upgrade is paid on the new code', () => invoices(w, sub.id), (list) => list[1]?.status === 'paid');
        await waitClosed(w.client, invoiceWorkflowId(proration.id));
        await w.skipTo('2027-02-01T00:01:00Z');
        const all = await eventually('the renewal is paid', () => invoices(w, sub.id), (list) => list.length === 3 && list[2].status === 'paid');
        await waitClosed(w.client, invoiceWorkflowId(all[2].id));
        const runs = await runsOf(w.client, sub.workflowId, sub.firstRunId);
        if (runs.length !== 2) throw new Error(`expected two runs, got ${runs.length}`);
        await save(w.client, 'subscription-local-activities-crossed.json', sub.workflowId, runs[0]);
        await save(w.client, 'subscription-local-activities-next-run.json', sub.workflowId, runs[1]);
        await save(w.client, 'invoice-first-before-local-context.json', invoiceWorkflowId(first.id));
        await save(w.client, 'invoice-paid-with-local-context.json', invoiceWorkflowId(all[2].id));
      });
    },
  },
  {
    name: 'quantity-changes',
    what: 'seats changed by the changeQuantity update: 3 to 5 now with proration (one invoice), then a decrease to 2 scheduled for period end, applied at the boundary by the renewal',
    async run(services) {
      await inWorld(services, 'quantity-changes', { bundle: services.bundles.get('current')!, stripe: false }, async (w) => {
        await ok(w.api.post('/v1/plans', { code: 'seat', name: 'Seat', currency: 'USD', interval: 'month', amount: '10.00' }), 201);
        const created = await ok(w.api.post('/v1/subscriptions', { customer_id: await customer(w, null), plan_code: 'seat', quantity: 3, start_at: '2027-01-01T00:00:00Z' }), 201);
        const { runId } = await w.client.workflow.getHandle(created.workflow_id).describe();
        await w.skipTo('2027-01-01T00:01:00Z');
        await eventually('the first period is invoiced', () => invoices(w, created.id), (list) => list.length === 1);
        await w.skipTo('2027-01-11T00:00:00Z');
        await ok(w.api.post(`/v1/subscriptions/${created.id}/change_quantity`, { quantity: 5, at: 'now', proration: 'prorate' }), 200);
        await ok(w.api.post(`/v1/subscriptions/${created.id}/change_quantity`, { quantity: 2, at: 'period_end' }), 200);
        await w.skipTo('2027-02-01T00:01:00Z');
        await eventually('the renewal is invoiced at 2 seats', () => invoices(w, created.id), (list) => list.length === 3 && list[2].total === '20.00');
        const runs = await runsOf(w.client, created.workflow_id, runId);
        if (runs.length !== 2) throw new Error(`expected two runs, got ${runs.length}`);
        await save(w.client, 'subscription-quantity-changes.json', created.workflow_id, runs[0]);
        await save(w.client, 'subscription-quantity-changes-next-run.json', created.workflow_id, runs[1]);
      });
    },
  },
  {
    name: 'billing-error',
    what: 'a renewal that cannot be priced (negative usage) stops as billing_error; the row is corrected and retryBilling resumes it',
    async run(services) {
      await inWorld(services, 'billing-error', { bundle: services.bundles.get('current')!, stripe: false }, async (w) => {
        await ok(w.api.post('/v1/metrics', { code: 'api_calls', name: 'API calls', aggregation: 'sum', field: 'calls' }), 201);
        await ok(
          w.api.post('/v1/plans', {
            code: 'metered',
            name: 'Metered',
            currency: 'USD',
            interval: 'month',
            amount: '10.00',
            charges: [{ metric_code: 'api_calls', model: 'standard', properties: { unit_amount: '0.10' } }],
          }),
          201,
        );
        const sub = await subscribe(w, await customer(w, null), 'metered', '2027-03-01T00:00:00Z');
        await w.skipTo('2027-03-01T00:01:00Z');
        await eventually('the first period is invoiced', () => invoices(w, sub.id), (list) => list.length === 1);
        // Ingest refuses negative values today; older versions stored them.
        const em = () => w.db.orm.em.fork();
        const [{ id: metricId }] = await em().execute<Array<{ id: string }>>(`select id from billable_metrics where code = 'api_calls'`);
        await em().execute(`insert into usage_events (transaction_id, subscription_id, metric_id, "timestamp", value, properties) values (?, ?, ?, ?, ?, ?)`, [
          'recorded-negative',
          sub.id,
          metricId,
          new Date('2027-03-10T00:00:00Z'),
          '-40',
          JSON.stringify({ calls: '-40' }),
        ]);
        await w.skipTo('2027-04-01T00:01:00Z');
        await expectStatus(w, sub.id, 'billing_error');
        await waitIdle(w.client, sub.workflowId);
        await em().execute(`update usage_events set value = '40', properties = ? where transaction_id = 'recorded-negative'`, [JSON.stringify({ calls: '40' })]);
        await w.client.workflow.getHandle(sub.workflowId).signal(retryBillingSignal);
        await expectStatus(w, sub.id, 'active');
        await eventually('the renewal is invoiced', () => invoices(w, sub.id), (list) => list.length === 2);
        const runs = await runsOf(w.client, sub.workflowId, sub.firstRunId);
        await save(w.client, 'subscription-billing-error-retried.json', sub.workflowId, runs.at(-1));
      });
    },
  },
  {
    name: 'invoice-paid',
    what: 'an invoice paid by card at the first charge',
    async run(services) {
      await collection(services, 'invoice-paid', null, async (w) => {
        const sub = await subscribe(w, await customer(w, '4242424242424242'), 'pro', '2027-02-01T00:00:00Z');
        await w.skipTo('2027-02-01T00:01:00Z');
        const [invoice] = await eventually('the first invoice is paid', () => invoices(w, sub.id), (list) => list[0]?.status === 'paid');
        await waitClosed(w.client, invoiceWorkflowId(invoice.id));
        await save(w.client, 'invoice-paid-at-first-charge.json', invoiceWorkflowId(invoice.id));
      });
    },
  },
  {
    name: 'invoice-soft-declines',
    what: 'soft declines retried on the schedule, suspended after the last retry, then paid by a new card (and the subscription suspended and resumed)',
    async run(services) {
      await collection(services, 'invoice-soft-declines', null, async (w) => {
        const id = await customer(w, '4000000000000341');
        const sub = await subscribe(w, id, 'pro', '2027-02-01T00:00:00Z');
        await w.skipTo('2027-02-01T00:01:00Z');
        await expectStatus(w, sub.id, 'past_due');
        await w.skipTo('2027-02-08T01:00:00Z');
        await expectStatus(w, sub.id, 'suspended');
        const [invoice] = await invoices(w, sub.id);
        const failed = await w.db.orm.em.fork().execute('select attempt from payment_attempts where invoice_id = ? and status = ?', [invoice.id, 'failed']);
        if (failed.length !== 5) throw new Error(`expected five failed attempts, got ${failed.length}`);
        await waitIdle(w.client, sub.workflowId);
        await waitIdle(w.client, invoiceWorkflowId(invoice.id));
        await w.skipTo('2027-02-10T00:00:00Z');
        await attachCard(w, id, '4242424242424242');
        await waitClosed(w.client, invoiceWorkflowId(invoice.id));
        await expectStatus(w, sub.id, 'active');
        await save(w.client, 'invoice-soft-declines-suspended-then-new-card.json', invoiceWorkflowId(invoice.id));
        await save(w.client, 'subscription-suspended-then-resumed-by-collection.json', sub.workflowId);
      });
    },
  },
  {
    name: 'invoice-one-off',
    what: 'a one-off invoice (no subscription to tell) declined by card, then paid by a new card',
    async run(services) {
      await collection(services, 'invoice-one-off', null, async (w) => {
        const id = await customer(w, '4000000000000341');
        const invoice = await ok(w.api.post('/v1/invoices', { customer_id: id, currency: 'USD', lines: [{ description: 'Workshop', unit_amount: '300.00' }] }), 201);
        await eventually('the first charge is declined', () => w.db.orm.em.fork().execute('select 1 from payment_attempts where invoice_id = ? and status = ?', [invoice.id, 'failed']), (rows) => rows.length === 1);
        await waitIdle(w.client, invoiceWorkflowId(invoice.id));
        await w.skipTo(new Date(Date.now() + 12 * 3600_000).toISOString());
        await attachCard(w, id, '4242424242424242');
        await waitClosed(w.client, invoiceWorkflowId(invoice.id));
        await save(w.client, 'invoice-one-off-declined-then-new-card.json', invoiceWorkflowId(invoice.id));
      });
    },
  },
  {
    name: 'invoice-draft',
    what: 'renewal drafts of a customer with a grace period: one finalised by its collection at the grace end, one finalised early through the API, each then paid by card',
    async run(services) {
      await collection(services, 'invoice-draft', null, async (w) => {
        const id = await customer(w, '4242424242424242');
        await ok(w.api.post(`/v1/customers/${id}`, { invoice_grace_period_days: 2 }), 200);
        const sub = await subscribe(w, id, 'pro', '2027-02-01T00:00:00Z');
        await w.skipTo('2027-02-01T00:01:00Z');
        await eventually('the first invoice is paid', () => invoices(w, sub.id), (list) => list[0]?.status === 'paid');
        await w.skipTo('2027-03-01T00:01:00Z');
        const march = (await eventually('March waits as a draft', () => invoices(w, sub.id), (list) => list[1]?.status === 'draft'))[1];
        await waitIdle(w.client, invoiceWorkflowId(march.id));
        await w.skipTo('2027-03-03T01:00:00Z');
        await waitClosed(w.client, invoiceWorkflowId(march.id));
        await save(w.client, 'invoice-draft-finalised-at-grace-end.json', invoiceWorkflowId(march.id));
        await w.skipTo('2027-04-01T00:01:00Z');
        const april = (await eventually('April waits as a draft', () => invoices(w, sub.id), (list) => list[2]?.status === 'draft'))[2];
        await waitIdle(w.client, invoiceWorkflowId(april.id));
        await ok(w.api.post(`/v1/invoices/${april.id}/finalize`, {}), 200);
        await waitClosed(w.client, invoiceWorkflowId(april.id));
        await save(w.client, 'invoice-draft-finalised-early.json', invoiceWorkflowId(april.id));
      });
    },
  },
  {
    name: 'wallet-maintenance',
    what: "the daily wallet run: a wallet's granted credit expired, and a paid top-up left unpaid made sure of being collected",
    async run(services) {
      await inWorld(services, 'wallet-maintenance', { bundle: services.bundles.get('current')!, stripe: false }, async (w) => {
        const id = await customer(w, null);
        await ok(w.api.post('/v1/wallets', { customer_id: id, currency: 'USD', rate: '1.00', granted_credits: '10', expires_at: '2027-03-01T00:00:00Z' }), 201);
        await ok(w.api.post('/v1/wallets', { customer_id: id, currency: 'USD', rate: '1.00', paid_credits: '25' }), 201);
        await w.skipTo('2027-03-02T00:00:00Z');
        const workflowId = walletMaintenanceWorkflowId('recorded');
        await w.client.workflow.start<WalletMaintenanceWorkflow>(WALLET_MAINTENANCE_WORKFLOW, { taskQueue: w.taskQueue, workflowId, args: [{}] });
        await waitClosed(w.client, workflowId);
        await save(w.client, 'wallet-maintenance-expiry.json', workflowId);
      });
    },
  },
  {
    name: 'webhook-delivery',
    what: 'a webhook delivery whose receiver answers 500 twice, then 200: three attempts with the 5 s and 5 min timers between them',
    async run(services) {
      await inWorld(services, 'webhook-delivery', { bundle: services.bundles.get('current')!, stripe: false }, async (w) => {
        const receiver = await webhookReceiver([500, 500]);
        const relay = await EventRelay.start({ orm: w.db.orm, temporal: w.client, taskQueue: w.taskQueue });
        try {
          const hook = await ok(w.api.post('/v1/webhook_endpoints', { url: receiver.url, events: ['customer.updated'] }), 201);
          const object = await ok(w.api.get(`/v1/customers/${await customer(w, null)}`), 200);
          await commitFact(w.db.orm, 'customer.updated', object);
          const [delivery] = await eventually('the delivery is made', () => w.api.get(`/v1/webhook_endpoints/${hook.id}/deliveries`).then((res) => res.body.data), (list: any[]) => list.length === 1);
          const workflowId = webhookDeliveryWorkflowId(delivery.id);
          await eventually('the first attempt', () => w.api.get(`/v1/webhook_deliveries/${delivery.id}`).then((res) => res.body.attempt_count), (n: number) => n === 1);
          await w.skipTo(new Date((await w.env.currentTimeMs()) + 60 * 60_000).toISOString());
          await waitClosed(w.client, workflowId);
          await save(w.client, 'webhook-delivery-third-attempt.json', workflowId);
        } finally {
          await relay.stop();
          await receiver.close();
        }
      });
    },
  },
  {
    name: 'invoice-3ds-manual',
    what: 'a charge that needs 3-D Secure, then the invoice paid by bank transfer (today: the intent still waiting is cancelled)',
    async run(services) {
      await collection(services, 'invoice-3ds-manual', null, (w) => threeDSecureThenManualPayment(w, 'invoice-3ds-then-manual-payment.json'));
    },
  },
  {
    name: 'invoice-3ds-manual-before-cancel-in-flight',
    what: 'the same, collected by the code before the patch cancel-in-flight-intents',
    async run(services) {
      await collection(services, 'invoice-3ds-manual-old', BEFORE_CANCEL_IN_FLIGHT, (w) =>
        threeDSecureThenManualPayment(w, 'invoice-3ds-then-manual-payment-before-cancel-in-flight.json'),
      );
    },
  },
];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((n) => !scenarios.some((s) => s.name === n));
  if (unknown.length > 0) throw new Error(`no scenario ${unknown.join(', ')}; there are: ${scenarios.map((s) => s.name).join(', ')}`);
  const chosen = wanted.length > 0 ? scenarios.filter((s) => wanted.includes(s.name)) : scenarios;
  const services = await startServices();
  try {
    for (const scenario of chosen) {
      console.log(`${scenario.name}: ${scenario.what}`);
      await scenario.run(services);
    }
  } finally {
    await services.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
