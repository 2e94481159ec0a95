import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import { WORKER_TUNING_DEFAULTS } from '../config/env';
import { openOrm } from '../db/orm';
import { createSubscription } from '../services/create-subscription';
import type { Phase } from '../services/phases';
import { SUBSCRIPTION_WORKFLOW, TASK_QUEUE } from '../workflows/messages';
import { ChaosApi } from './chaos/api-client';
import { mib, treeMemory, type TreeMemory } from './idle/process-memory';
import type { MemoryProbeReport } from './idle/memory-probe';
import { startIdleStack, type IdleStack } from './idle/stack';
import { CpuMeter, describeCpu, type CpuUse } from './support/cpu-meter';
import { takeMachineLock } from './support/machine-lock';

/**
 * `npm run bench:idle -- [N=20000] [via=api|service] [concurrency=16] [sample=100] [cache=<n>] [lock=<file>] [json=<file>]`
 *
 * N subscriptions asleep on ONE worker, as a real deployment holds them between renewals: the stack
 * as `npm start` runs it (embedded Postgres, the Temporal dev server, one worker, one API), a monthly
 * plan with a 30-day trial (no card: each subscription is one workflow sleeping until its trial
 * ends, with nothing to collect), N subscriptions created through the API, then, once every
 * workflow runs and has recorded its state and the worker is quiet, the resident memory of the
 * worker (and its heaps, the workflow thread's included), of the Temporal server and of Postgres,
 * beside the bound the worker must stay under (1 GiB). Then `sample` random subscriptions, among
 * those created before the cache's last fill (so evicted, unless the cache holds all N), are read
 * one at a time through GET /v1/subscriptions/:id, which asks the workflow: a cold read replays it,
 * the same reads again hit the cache. That is the trade-off WORKER_MAX_CACHED_WORKFLOWS sets.
 * `cache=<n>` runs the worker with WORKER_MAX_CACHED_WORKFLOWS=n instead of the default.
 * `via=service` creates the subscriptions in this process through the service the API route calls
 * (services/create-subscription.ts: the same row, event and workflow start, without HTTP, request
 * validation and the Idempotency-Key record), for when the API's rate makes N take too long; the
 * customers and the plan still go through the API. `lock=/tmp/perennial-bench.lock` takes the
 * machine's benchmark lock once the subscriptions are created, for the wait until they sleep and the
 * measurements, when creating N takes longer than a run may hold the lock.
 * Figures, not assertions; `json=<file>` writes them for test/e2e/idle-bench.test.ts.
 */
const USAGE = 'usage: npm run bench:idle -- [N=20000] [via=api|service] [concurrency=16] [sample=100] [cache=<n>] [lock=<file>] [json=<file>]';
const WORKER_RSS_BOUND = 2 ** 30;
const SUBSCRIPTIONS_PER_CUSTOMER = 20;
const PROGRESS_EVERY_MS = 5_000;
/** Longest wait for every workflow to have started and recorded its first state. */
const SETTLE_LIMIT_MS = 15 * 60_000;
/** The worker counts as asleep once it uses less than this over a measuring window. */
const QUIET_CORES = 0.05;
const QUIET_LIMIT_MS = 180_000;

type Via = 'api' | 'service';

interface Options {
  subscriptions: number;
  via: Via;
  concurrency: number;
  sample: number;
  cache: number | null;
  json: string | null;
  /** The machine's benchmark lock, taken once the subscriptions are created, for the measurements. */
  lock: string | null;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { subscriptions: 20_000, via: 'api', concurrency: 16, sample: 100, cache: null, json: null, lock: null };
  for (const arg of argv) {
    const [key, value] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : ['N', arg];
    if (key === 'json' && value) {
      options.json = value;
      continue;
    }
    if (key === 'lock' && value) {
      options.lock = value;
      continue;
    }
    if (key === 'via' && (value === 'api' || value === 'service')) {
      options.via = value;
      continue;
    }
    const number = Number(value);
    // cache=0 is the worker without a workflow cache; everything else counts something.
    if (!Number.isInteger(number) || number < (key === 'cache' ? 0 : 1)) throw new Error(`"${arg}" is not a whole number of at least ${key === 'cache' ? 0 : 1}; ${USAGE}`);
    if (key === 'N' || key === 'n') options.subscriptions = number;
    else if (key === 'concurrency') options.concurrency = number;
    else if (key === 'sample') options.sample = number;
    else if (key === 'cache') options.cache = number;
    else throw new Error(`unknown argument "${arg}"; ${USAGE}`);
  }
  return options;
}

export interface MemoryFigures {
  /** The heap is the main thread's; the workflow thread's counts in the RSS only. */
  worker: TreeMemory & { mainHeapUsedBytes: number | null; heapLimitBytes: number | null };
  api: TreeMemory;
  temporal: TreeMemory;
  postgres: TreeMemory;
  /** Workflows in the worker's cache (the SDK's sticky_cache_size). */
  cachedWorkflows: number | null;
}

export interface ReadFigures {
  reads: number;
  fromWorkflow: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  cacheHits: number;
  cacheMisses: number;
}

export interface IdleFigures {
  date: string;
  subscriptions: number;
  customers: number;
  cacheSetting: number;
  concurrency: number;
  creation: { via: Via; seconds: number; perSecond: number; apiRetries: number };
  settleSeconds: number;
  running: number;
  statesRecorded: number;
  baseline: MemoryFigures;
  asleep: MemoryFigures;
  afterReads: MemoryFigures;
  coldReads: ReadFigures;
  warmReads: ReadFigures;
  /** (worker RSS asleep - at start) per cached workflow: an upper bound, the worker's other growth included. */
  workerBytesPerCachedWorkflow: number | null;
  /** The slope of the worker's RSS over the cache's size while it filled (bytesPerCachedWorkflow). */
  workerBytesPerCachedWorkflowWhileFilling: number | null;
  cpuAsleep: { cores: Record<string, number>; other: number };
  cpuCreating: { cores: Record<string, number>; other: number };
  workerRssBoundBytes: number;
}

interface FillSample {
  cached: number;
  rssBytes: number;
}

/**
 * What one more cached workflow adds to the worker's RSS, from the samples taken while the cache
 * filled: the least-squares slope of RSS over the cache's size, leaving out the first tenth of the
 * fill, when the worker's pools and the activities' own memory grow as well. Null with too few points.
 */
function bytesPerCachedWorkflow(samples: FillSample[], cacheSetting: number): number | null {
  const points = samples.filter((s) => s.cached >= cacheSetting / 10 && s.cached < cacheSetting);
  if (points.length < 3 || points.at(-1)!.cached - points[0].cached < cacheSetting / 4) return null;
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const mx = mean(points.map((p) => p.cached));
  const my = mean(points.map((p) => p.rssBytes));
  const sxx = points.reduce((a, p) => a + (p.cached - mx) ** 2, 0);
  const sxy = points.reduce((a, p) => a + (p.cached - mx) * (p.rssBytes - my), 0);
  return sxx > 0 ? sxy / sxx : null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const idempotent = (key: string) => ({ 'Idempotency-Key': key });
const percentile = (sorted: number[], p: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
const cpuFigures = (use: CpuUse) => ({ cores: Object.fromEntries(use.groups), other: use.other });

async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}

/** The SDK's workflow cache counters and gauge, summed over their labels. */
async function cacheMetrics(url: string): Promise<{ size: number | null; hits: number; misses: number }> {
  try {
    const text = await (await fetch(url, { signal: AbortSignal.timeout(5_000) })).text();
    const sum = (name: string): number | null => {
      let total: number | null = null;
      for (const match of text.matchAll(new RegExp(`^temporal_${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))) total = (total ?? 0) + Number(match[1]);
      return total;
    };
    return { size: sum('sticky_cache_size'), hits: sum('sticky_cache_hit_total') ?? 0, misses: sum('sticky_cache_miss_total') ?? 0 };
  } catch {
    return { size: null, hits: 0, misses: 0 };
  }
}

async function measureMemory(stack: IdleStack): Promise<MemoryFigures> {
  const probe: MemoryProbeReport | null = await stack.probe();
  return {
    worker: {
      ...treeMemory(stack.pids.worker),
      mainHeapUsedBytes: probe?.heapUsedBytes ?? null,
      heapLimitBytes: probe?.heapLimitBytes ?? null,
    },
    api: treeMemory(stack.pids.api),
    temporal: treeMemory(stack.pids.temporal),
    postgres: treeMemory(stack.pids.postgres),
    cachedWorkflows: (await cacheMetrics(stack.workerMetricsUrl)).size,
  };
}

/** Each read alone (one at a time), so its latency is the read's and not a queue's. */
async function readStates(api: ChaosApi, ids: string[], metricsUrl: string): Promise<ReadFigures> {
  const before = await cacheMetrics(metricsUrl);
  const latencies: number[] = [];
  let fromWorkflow = 0;
  for (const id of ids) {
    const started = performance.now();
    const answer = await api.client.GET('/v1/subscriptions/{id}', { params: { path: { id } } });
    latencies.push(performance.now() - started);
    if (!answer.data) throw new Error(`GET /v1/subscriptions/${id}: HTTP ${answer.response.status} ${JSON.stringify(answer.error)}`);
    if ((answer.data as { state_source?: string }).state_source === 'workflow') fromWorkflow += 1;
  }
  const after = await cacheMetrics(metricsUrl);
  latencies.sort((a, b) => a - b);
  return {
    reads: ids.length,
    fromWorkflow,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: latencies.at(-1) ?? 0,
    cacheHits: after.hits - before.hits,
    cacheMisses: after.misses - before.misses,
  };
}

function shuffled<T>(items: readonly T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

export async function runIdleBench(options: Options, log: (line: string) => void, signal?: AbortSignal): Promise<IdleFigures> {
  const workDir = await mkdtemp(join(tmpdir(), 'perennial-idle-'));
  const cacheSetting = options.cache ?? WORKER_TUNING_DEFAULTS.maxCachedWorkflows;
  const cleanups: Array<() => Promise<unknown>> = [];
  let keep = true;
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () => reject(new Error('idle bench interrupted'));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  const step = <T>(work: Promise<T>): Promise<T> => {
    work.catch(() => undefined);
    return Promise.race([work, aborted]);
  };
  try {
    log(`starting the stack in ${workDir} (one worker, WORKER_MAX_CACHED_WORKFLOWS=${cacheSetting})`);
    const stack = await step(startIdleStack({ workDir, log, workerSettings: options.cache !== null ? { WORKER_MAX_CACHED_WORKFLOWS: String(options.cache) } : {} }));
    cleanups.push(() => stack.stop());
    const meter = new CpuMeter([
      { name: 'worker', pid: stack.pids.worker },
      { name: 'api', pid: stack.pids.api },
      { name: 'temporal', pid: stack.pids.temporal },
      { name: 'postgres', pid: stack.pids.postgres },
      { name: 'bench', pid: process.pid },
    ]);
    const owner = new Pool({ connectionString: stack.ownerUrl, max: 2 });
    cleanups.push(() => owner.end());
    const connection = await step(Connection.connect({ address: stack.temporalAddress }));
    cleanups.push(() => connection.close());
    const temporal = new Client({ connection, namespace: stack.namespace });
    const api = new ChaosApi(stack.apiBase, stack.adminKey);
    // The worker's first seconds (bundling, schedules) are not what it holds at rest.
    await step(sleep(5_000));
    const baseline = await step(measureMemory(stack));
    log(`worker at start: RSS ${mib(baseline.worker.rssBytes)}`);

    const planCode = 'idle-monthly';
    const plan = await step(api.client.POST('/v1/plans', { params: { header: idempotent('idle-plan') }, body: { code: planCode, name: 'Monthly, 30-day trial', currency: 'USD', interval: 'month', amount: '20.00', trial_days: 30 } }));
    if (!plan.data) throw new Error(`creating the plan: HTTP ${plan.response.status} ${JSON.stringify(plan.error)}`);
    const customerCount = Math.ceil(options.subscriptions / SUBSCRIPTIONS_PER_CUSTOMER);
    const customerIds: string[] = [];
    const subscriptionIds: string[] = [];
    let phase = 'customers';
    let customersDone = 0;
    let subscriptionsDone = 0;
    const creatingFrom = meter.sample();
    const createStarted = performance.now();
    const fill: FillSample[] = [];
    const progress = setInterval(() => {
      void (async () => {
        const seconds = (performance.now() - createStarted) / 1000;
        const worker = treeMemory(stack.pids.worker);
        const cached = (await cacheMetrics(stack.workerMetricsUrl)).size;
        if (cached !== null && phase === 'subscriptions') fill.push({ cached, rssBytes: worker.rssBytes });
        const done = phase === 'customers' ? customersDone : subscriptionsDone;
        const of = phase === 'customers' ? customerCount : options.subscriptions;
        log(`${phase}: ${done.toLocaleString('en')}/${of.toLocaleString('en')} after ${seconds.toFixed(0)} s; worker RSS ${mib(worker.rssBytes)}, ${cached ?? '?'} workflows cached`);
      })();
    }, PROGRESS_EVERY_MS);
    cleanups.push(async () => clearInterval(progress));
    await step(
      inParallel(
        Array.from({ length: customerCount }, (_, i) => i),
        options.concurrency,
        async (i) => {
          const answer = await api.client.POST('/v1/customers', { params: { header: idempotent(`idle-customer-${i}`) }, body: { name: `Idle customer ${i}`, email: `idle${i}@bench.test`, currency: 'USD' } });
          if (!answer.data) throw new Error(`customer ${i}: HTTP ${answer.response.status} ${JSON.stringify(answer.error)}`);
          customerIds[i] = answer.data.id;
          customersDone += 1;
        },
      ),
    );
    phase = 'subscriptions';
    const subscriptionsStarted = performance.now();
    let create: (i: number) => Promise<string>;
    if (options.via === 'service') {
      const orm = await step(openOrm(stack.appUrl));
      cleanups.push(() => orm.close());
      // One attempt per subscription, nothing to resume: each phase's effect runs and its data is the result.
      const direct: Phase = async <T>(_point: string, effect: (record: (tx: unknown, data: T) => Promise<void>) => Promise<unknown>): Promise<T> => {
        let recorded: T | undefined;
        await effect(async (_tx, data) => void (recorded = data));
        return recorded as T;
      };
      create = (i) =>
        createSubscription({ em: orm.em.fork(), temporal, taskQueue: TASK_QUEUE }, { customerId: customerIds[i % customerCount], planCode }, direct, (subscription) => subscription.id);
    } else {
      create = async (i) => {
        const answer = await api.client.POST('/v1/subscriptions', {
          params: { header: idempotent(`idle-subscription-${i}`) },
          body: { customer_id: customerIds[i % customerCount], plan_code: planCode },
        });
        if (!answer.data) throw new Error(`subscription ${i}: HTTP ${answer.response.status} ${JSON.stringify(answer.error)}`);
        return answer.data.id;
      };
    }
    await step(
      inParallel(
        Array.from({ length: options.subscriptions }, (_, i) => i),
        options.concurrency,
        async (i) => {
          subscriptionIds[i] = await create(i);
          subscriptionsDone += 1;
        },
      ),
    );
    clearInterval(progress);
    const creationSeconds = (performance.now() - subscriptionsStarted) / 1000;
    const cpuCreating = CpuMeter.between(creatingFrom, meter.sample());
    log(`created ${options.subscriptions.toLocaleString('en')} subscriptions in ${creationSeconds.toFixed(1)} s (${(options.subscriptions / creationSeconds).toFixed(0)}/s); ${describeCpu(cpuCreating)}`);

    if (options.lock) {
      log(`taking the machine's benchmark lock (${options.lock}) for the measurements`);
      const lock = await step(takeMachineLock(options.lock));
      cleanups.push(() => lock.release());
      log(`lock taken after ${(lock.waitedMs / 1000).toFixed(0)} s`);
    }

    // Asleep: every workflow runs and has published its state (the row's state_version moved), then the worker goes quiet.
    const settleStarted = performance.now();
    let running = 0;
    let statesRecorded = 0;
    for (;;) {
      const { rows } = await step(owner.query<{ recorded: number }>(`select count(*)::int as recorded from subscriptions where state_version >= 1`));
      statesRecorded = rows[0].recorded;
      running = (await step(temporal.workflow.count(`WorkflowType = '${SUBSCRIPTION_WORKFLOW}' AND ExecutionStatus = 'Running'`))).count;
      if (statesRecorded >= options.subscriptions && running >= options.subscriptions) break;
      if (performance.now() - settleStarted > SETTLE_LIMIT_MS) throw new Error(`after ${SETTLE_LIMIT_MS / 60_000} minutes only ${running} workflows run and ${statesRecorded} states are recorded, of ${options.subscriptions}`);
      log(`waiting for the workflows: ${running.toLocaleString('en')} running, ${statesRecorded.toLocaleString('en')} states recorded`);
      await step(sleep(PROGRESS_EVERY_MS));
    }
    let cpuAsleep: CpuUse;
    for (const quietStarted = performance.now(); ; ) {
      const from = meter.sample();
      await step(sleep(5_000));
      cpuAsleep = CpuMeter.between(from, meter.sample());
      const workerCores = cpuAsleep.groups.get('worker') ?? 0;
      if (workerCores < QUIET_CORES) break;
      if (performance.now() - quietStarted > QUIET_LIMIT_MS) {
        log(`the worker still uses ${workerCores.toFixed(2)} cores after ${QUIET_LIMIT_MS / 1000} s; measuring anyway`);
        break;
      }
      log(`waiting for the worker to go quiet (${workerCores.toFixed(2)} cores)`);
    }
    const settleSeconds = (performance.now() - settleStarted) / 1000;
    log(`all ${running.toLocaleString('en')} workflows running and asleep after ${settleSeconds.toFixed(1)} s; ${describeCpu(cpuAsleep)}`);
    const asleep = await step(measureMemory(stack));

    // Evicted ones, unless the cache holds everything: the cache keeps the most recently used.
    const evictable = subscriptionIds.slice(0, Math.max(options.sample, options.subscriptions - (asleep.cachedWorkflows ?? cacheSetting)));
    const sample = shuffled(evictable).slice(0, options.sample);
    const coldReads = await step(readStates(api, sample, stack.workerMetricsUrl));
    const warmReads = await step(readStates(api, sample, stack.workerMetricsUrl));
    const afterReads = await step(measureMemory(stack));
    const growth = asleep.worker.rssBytes - baseline.worker.rssBytes;
    keep = false;
    return {
      date: new Date().toISOString(),
      subscriptions: options.subscriptions,
      customers: customerCount,
      cacheSetting,
      concurrency: options.concurrency,
      creation: { via: options.via, seconds: creationSeconds, perSecond: options.subscriptions / creationSeconds, apiRetries: api.retries },
      settleSeconds,
      running,
      statesRecorded,
      baseline,
      asleep,
      afterReads,
      coldReads,
      warmReads,
      workerBytesPerCachedWorkflow: asleep.cachedWorkflows ? growth / asleep.cachedWorkflows : null,
      workerBytesPerCachedWorkflowWhileFilling: bytesPerCachedWorkflow(fill, cacheSetting),
      cpuAsleep: cpuFigures(cpuAsleep),
      cpuCreating: cpuFigures(cpuCreating),
      workerRssBoundBytes: WORKER_RSS_BOUND,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`while stopping: ${error instanceof Error ? error.message : String(error)}`));
    // The logs of a run that failed are what explains it.
    if (keep) log(`logs and data kept in ${workDir}`);
    else await rm(workDir, { recursive: true, force: true });
  }
}

export function formatReport(f: IdleFigures): string {
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
  const heap = (bytes: number | null) => (bytes === null ? 'n/a' : mib(bytes));
  const memoryLine = (label: string, m: MemoryFigures) =>
    `  ${label.padEnd(14)} worker RSS ${mib(m.worker.rssBytes)} (main thread's heap ${heap(m.worker.mainHeapUsedBytes)}), ` +
    `${m.cachedWorkflows ?? 'n/a'} cached; Temporal RSS ${mib(m.temporal.rssBytes)}; Postgres RSS ${mib(m.postgres.rssBytes)} / PSS ${mib(m.postgres.pssBytes)} (${m.postgres.processes} processes); API RSS ${mib(m.api.rssBytes)}`;
  const reads = (label: string, r: ReadFigures) =>
    `  ${label.padEnd(14)} ${r.reads} reads, ${r.fromWorkflow} answered by the workflow: p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, max ${r.maxMs.toFixed(1)} ms (cache hits ${r.cacheHits}, misses ${r.cacheMisses})`;
  const cores = (c: { cores: Record<string, number>; other: number }) => `${Object.entries(c.cores).map(([name, n]) => `${name} ${n.toFixed(2)}`).join(', ')}; other processes ${c.other.toFixed(2)}`;
  const bound = f.asleep.worker.rssBytes < f.workerRssBoundBytes ? 'under' : 'OVER';
  return [
    `${f.subscriptions.toLocaleString('en')} subscriptions (${f.customers.toLocaleString('en')} customers), one worker, WORKER_MAX_CACHED_WORKFLOWS=${f.cacheSetting}; ${f.date}`,
    `  created        ${f.creation.via === 'api' ? 'through the API' : 'by the service layer (no HTTP)'}, ${f.concurrency} at a time: ${f.creation.seconds.toFixed(1)} s, ${f.creation.perSecond.toFixed(0)} subscriptions/s (${f.creation.apiRetries} retries); cores: ${cores(f.cpuCreating)}`,
    `  asleep after   ${f.settleSeconds.toFixed(1)} s more: ${f.running.toLocaleString('en')} workflows running, ${f.statesRecorded.toLocaleString('en')} states recorded; cores at rest: ${cores(f.cpuAsleep)}`,
    memoryLine('at start', f.baseline),
    memoryLine('asleep', f.asleep),
    memoryLine('after reads', f.afterReads),
    `  worker RSS     ${mib(f.asleep.worker.rssBytes)} asleep, bound ${mib(f.workerRssBoundBytes)}: ${bound} (${(f.asleep.worker.rssBytes / f.workerRssBoundBytes).toFixed(2)} of it); ` +
      `${f.workerBytesPerCachedWorkflow === null ? 'nothing cached' : `${kib(f.workerBytesPerCachedWorkflow)} of RSS per cached workflow over the start (all growth)`}` +
      `${f.workerBytesPerCachedWorkflowWhileFilling === null ? '' : `, ${kib(f.workerBytesPerCachedWorkflowWhileFilling)} per cached workflow as the cache filled`}`,
    reads('cold reads', f.coldReads),
    reads('warm reads', f.warmReads),
  ].join('\n');
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const controller = new AbortController();
  let interrupted = 0;
  const interrupt = (): void => {
    interrupted += 1;
    if (interrupted > 1) process.exit(130);
    console.log('\nStopping the idle bench (Ctrl-C again to exit at once) ...');
    controller.abort();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const time = () => new Date().toISOString().slice(11, 19);
  const figures = await runIdleBench(options, (line) => console.log(`${time()} ${line}`), controller.signal);
  const report = formatReport(figures);
  console.log(`\n=== idle subscriptions ===\n${report}`);
  if (options.json) await writeFile(options.json, JSON.stringify({ figures, report }, null, 2));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.message === 'idle bench interrupted' ? error.message : (error.stack ?? error.message)) : error);
  process.exit(1);
});
