import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import Stripe from 'stripe';
import { openOrm } from '../../db/orm';
import { StripeGateway, stripeClient } from '../../payments/stripe-gateway';
import { ChaosApi } from '../chaos/api-client';
import { startChaosStack, type SupervisedProcess } from '../chaos/stack';
import { CpuMeter, type CpuSample, type CpuUse } from '../support/cpu-meter';
import { prepareCeiling, runCeiling, type CeilingFigures } from './ceiling';
import { failedRenewalChecks, runRenewalChecks, type RenewalChecks } from './checks';
import { stageCounts, stormFigures, type StormFigures } from './measure';
import { PgWaitSampler, type WaitSample } from './pg-waits';
import { createCustomers, createSubscriptions, DAY_MS, nextMidnightSomewhere, type Alignment, type SetupOptions } from './workload';
import { abortableSteps } from '../support/abortable';

/**
 * A renewal storm: the stack as `npm start` runs it, N subscriptions set up to renew at one instant
 * T, then, from T, every renewal invoice issued, posted and charged; then the ceiling (the same work
 * without Temporal) and the checks. Returns the figures and asserts nothing: bench/renewals.ts prints
 * them, test/e2e/renewals-bench.test.ts asserts the checks.
 */
/** Workers in cluster mode, as `npm run start:cluster` starts by default. */
const CLUSTER_WORKERS = 2;

export interface RenewalOptions {
  renewals: number;
  alignment: Alignment;
  /** Seconds from the end of the ceiling's set-up to T; estimated from the set-up's pace when absent. */
  leadS?: number;
  /** SIGKILL a worker once half the renewal invoices are issued. */
  killWorker: boolean;
  /** The Temporal server on Postgres with two workers, as `npm run start:cluster` runs it; else the dev server and one worker. */
  cluster: boolean;
  /** Added to the worker's environment (WORKER_* tuning). */
  workerEnv: NodeJS.ProcessEnv;
  /** Node flags for the workers (a CPU profile). */
  workerNodeArgs?: string[];
  /** Subscriptions whose renewals the ceiling bills directly; N/10 (at least 50) by default. */
  ceilingSubscriptions?: number;
  ceilingConcurrency: number;
  /** Parallel API requests while setting up. */
  setupConcurrency: number;
  /** Longest wait for the storm to finish, from T. */
  stormLimitS: number;
  /** Keep logs and data whatever happens (a profile lands there too). */
  keep: boolean;
  log: (line: string) => void;
  signal?: AbortSignal;
}

export interface RenewalFigures {
  renewals: number;
  mode: string;
  alignment: Alignment;
  zone: string;
  due: string;
  workerEnv: Record<string, string>;
  setup: { customers: number; seconds: number; subscriptionsPerSecond: number; readyBeforeDueS: number };
  /** Null when the storm did not finish within the limit. */
  storm: (StormFigures & { renewalsPerSecond: number; seconds: number }) | null;
  stormIncomplete: { issued: number; posted: number; charged: number } | null;
  cpu: { storm: CpuFigures | null; ceiling: CpuFigures | null };
  ceiling: { withCharge: CeilingFigures; postgresOnly: CeilingFigures };
  /** Storm renewals/s over the ceiling's (with the charge): the target is at least 0.5. */
  ratio: number | null;
  /** Where the application's Postgres backends spent the storm and the ceiling (sampled). */
  pgWaits: { storm: WaitSample[]; ceiling: WaitSample[] };
  killedWorkers: number;
  workerStarts: number;
  checks: RenewalChecks;
  failed: string[];
  keptWorkDir: string | null;
}

export interface CpuFigures {
  cores: Record<string, number>;
  other: number;
  idle: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const cpuFigures = (use: CpuUse): CpuFigures => ({ cores: Object.fromEntries(use.groups), other: use.other, idle: use.idle });

export async function runRenewals(options: RenewalOptions): Promise<RenewalFigures> {
  const { log } = options;
  const workDir = await mkdtemp(join(tmpdir(), 'perennial-renewals-'));
  const cleanups: Array<() => Promise<unknown>> = [];
  let keep = options.keep;
  const step = abortableSteps(options.signal, 'renewal bench interrupted');
  const pause = (ms: number) => step(sleep(ms));

  try {
    log(`starting the stack in ${workDir}`);
    const stack = await step(
      startChaosStack({ workDir, log, workerEnv: options.workerEnv, workerNodeArgs: options.workerNodeArgs, ...(options.cluster ? { temporal: 'cluster' as const, workers: CLUSTER_WORKERS } : {}) }),
    );
    cleanups.push(() => stack.stop());
    options.signal?.addEventListener('abort', () => stack.halt(), { once: true });
    const workers: SupervisedProcess[] = stack.workers;
    const mode = options.cluster ? `Temporal server on Postgres, ${workers.length} workers` : 'dev server, 1 worker';

    const owner = new Pool({ connectionString: stack.database.ownerUrl, max: 4 });
    cleanups.push(() => owner.end());
    const connection = await step(Connection.connect({ address: stack.temporalAddress }));
    cleanups.push(() => connection.close());
    const temporal = new Client({ connection, namespace: stack.namespace });
    const emulatorUrl = new URL(stack.emulator.apiBase);
    const stripe = new Stripe(stack.secretKey, { host: emulatorUrl.hostname, port: Number(emulatorUrl.port), protocol: 'http', maxNetworkRetries: 3, timeout: 120_000, telemetry: false });
    const api = new ChaosApi(stack.apiBase, stack.adminKey);

    const postmaster = Number(readFileSync(join(workDir, 'data', 'postgres', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const meter = (): CpuMeter =>
      new CpuMeter([
        ...workers.map((w, i) => ({ name: workers.length > 1 ? `worker ${i + 1}` : 'worker', pid: w.pid! })),
        { name: 'postgres', pid: postmaster },
        { name: 'temporal', pid: stack.temporal.child.pid! },
        { name: 'api', pid: stack.api.pid! },
        { name: 'stripe emulator', pid: stack.emulator.service.child.pid! },
        { name: 'bench (Stripe fronts, webhook relay, polling)', pid: process.pid },
      ]);

    const n = options.renewals;
    const ceilingCount = options.ceilingSubscriptions ?? Math.max(50, Math.ceil(n / 10));
    const setup: SetupOptions = { api, stripe, subscriptions: n, ceilingSubscriptions: ceilingCount, concurrency: options.setupConcurrency, log };
    const setupStarted = Date.now();
    // A calendar storm needs its zone before the customers exist: T is estimated at 15 renewals a second.
    const calendarDue = options.alignment === 'calendar' ? nextMidnightSomewhere(new Date(Date.now() + (options.leadS ?? (ceilingCount + n) / 15 + 60) * 1000)) : null;
    const zone = calendarDue?.zone ?? 'UTC';
    const customers = await step(createCustomers(setup, zone));
    log(`${customers.storm.length + customers.ceiling.length} customers with cards, ${((Date.now() - setupStarted) / 1000).toFixed(1)} s`);

    // The ceiling's subscriptions first: how fast they are created and their first invoices paid says
    // how far ahead T must be for the storm's N to be set up (first invoices paid) before it.
    const firstPaid = async (ids: string[]): Promise<number> =>
      (await owner.query<{ n: number }>(`select count(*)::int as n from invoices where period_index = 0 and status = 'paid' and subscription_id = any($1)`, [ids])).rows[0].n;
    const ceilingStarted = Date.now();
    const ceilingIds = await step(createSubscriptions(setup, 'ceiling', ceilingCount, customers.ceiling, new Date(Date.now() - 3_600_000), options.alignment));
    while ((await step(firstPaid(ceilingIds))) < ceilingIds.length) await pause(500);
    const pace = ceilingCount / ((Date.now() - ceilingStarted) / 1000);
    log(`ceiling's ${ceilingCount} subscriptions created and first invoices paid: ${pace.toFixed(1)} a second`);

    const due = calendarDue?.at ?? new Date(Math.ceil((Date.now() + (options.leadS ?? Math.max(20, (1.3 * n) / pace + 10)) * 1000) / 1000) * 1000);
    log(`T = ${due.toISOString()}${calendarDue ? ` (midnight in ${zone})` : ''}, ${((due.getTime() - Date.now()) / 1000).toFixed(0)} s from now; creating ${n} subscriptions started at T - 1 day`);
    let made = 0;
    const stormIds = await step(
      createSubscriptions(setup, 'storm', n, customers.storm, new Date(due.getTime() - DAY_MS), options.alignment, () => {
        if (++made % 500 === 0) log(`storm subscriptions: ${made}/${n}`);
      }),
    );
    for (;;) {
      const paid = await step(firstPaid(stormIds));
      if (paid >= n || Date.now() >= due.getTime()) break;
      await pause(1_000);
    }
    const readyBeforeDueS = (due.getTime() - Date.now()) / 1000;
    const setupSeconds = (Date.now() - setupStarted) / 1000;
    if (readyBeforeDueS <= 0) log(`WARNING: the storm's first invoices were not all paid by T: the figures include set-up work`);
    else log(`set up ${((Date.now() - setupStarted) / 1000).toFixed(1)} s; waiting ${readyBeforeDueS.toFixed(1)} s for T`);
    await pause(Math.max(0, due.getTime() - Date.now()));

    // ---- the storm ----
    let cpuMeter = meter();
    const cpuAtDue = cpuMeter.sample();
    const stormWaits = new PgWaitSampler(owner);
    stormWaits.start();
    let cpuAtEnd: CpuSample | null = null;
    let killedWorkers = 0;
    const limit = due.getTime() + options.stormLimitS * 1000;
    let counts = await step(stageCounts(owner, stormIds));
    let lastLine = 0;
    while (Date.now() < limit) {
      counts = await step(stageCounts(owner, stormIds));
      if (counts.charged >= n) {
        cpuAtEnd = cpuMeter.sample();
        break;
      }
      if (options.killWorker && killedWorkers === 0 && counts.issued >= n / 2) {
        log(`SIGKILL ${workers[0].name} (pid ${workers[0].pid}) with ${counts.issued}/${n} invoices issued`);
        if (await workers[0].kill()) killedWorkers += 1;
        // The meter follows process trees by their root's pid: the new worker is another root.
        await workers[0].whenReady().catch(() => undefined);
        cpuMeter = meter();
      }
      if (Date.now() - lastLine >= 5_000) {
        lastLine = Date.now();
        log(`[T+${((Date.now() - due.getTime()) / 1000).toFixed(0)} s] issued ${counts.issued}/${n}, posted ${counts.posted}, charged ${counts.charged}`);
      }
      await pause(250);
    }
    const stormWaitSamples = stormWaits.stop();
    let storm: RenewalFigures['storm'] = null;
    if (cpuAtEnd) {
      const figures = await step(stormFigures(owner, stormIds, due));
      storm = { ...figures, seconds: figures.charged.lastAtS, renewalsPerSecond: n / figures.charged.lastAtS };
      log(`storm done: ${n} renewals charged ${figures.charged.lastAtS.toFixed(1)} s after T`);
    } else {
      log(`storm not done after ${options.stormLimitS} s: issued ${counts.issued}, posted ${counts.posted}, charged ${counts.charged}`);
    }
    const stormCpu = cpuAtEnd && killedWorkers === 0 ? cpuFigures(CpuMeter.between(cpuAtDue, cpuAtEnd)) : null;

    // ---- the ceiling ----
    const orm = await step(openOrm(stack.database.appUrl));
    cleanups.push(() => orm.close());
    const gateway = new StripeGateway(stripeClient({ secretKey: stack.secretKey, webhookSecret: null, apiBase: stack.chaosFront.apiBase }));
    const prepared = await step(prepareCeiling(temporal, ceilingIds));
    const half = Math.ceil(prepared.length / 2);
    const ceilingMeter = meter();
    const beforeCeiling = ceilingMeter.sample();
    const ceilingWaits = new PgWaitSampler(owner);
    ceilingWaits.start();
    const withCharge = await step(runCeiling({ orm, stripe: gateway, prepared: prepared.slice(0, half), concurrency: options.ceilingConcurrency, withCharge: true }));
    const ceilingCpu = cpuFigures(CpuMeter.between(beforeCeiling, ceilingMeter.sample()));
    const ceilingWaitSamples = ceilingWaits.stop();
    const postgresOnly = await step(runCeiling({ orm, stripe: gateway, prepared: prepared.slice(half), concurrency: options.ceilingConcurrency, withCharge: false }));
    log(`ceiling: ${withCharge.perSecond.toFixed(1)} renewals/s with the charge, ${postgresOnly.perSecond.toFixed(1)} without (concurrency ${options.ceilingConcurrency})`);

    // ---- checks ----
    const checks = await step(runRenewalChecks(owner, stripe, stormIds));
    const failed = failedRenewalChecks(checks);
    if (!storm) failed.push('storm did not finish');
    keep = keep || failed.length > 0;
    return {
      renewals: n,
      mode: options.killWorker ? `${mode}, one worker SIGKILLed mid-storm` : mode,
      alignment: options.alignment,
      zone,
      due: due.toISOString(),
      workerEnv: Object.fromEntries(Object.entries(options.workerEnv).filter((e): e is [string, string] => e[1] !== undefined)),
      setup: { customers: customers.storm.length + customers.ceiling.length, seconds: setupSeconds, subscriptionsPerSecond: pace, readyBeforeDueS },
      storm,
      stormIncomplete: storm ? null : counts,
      cpu: { storm: stormCpu, ceiling: ceilingCpu },
      ceiling: { withCharge, postgresOnly },
      ratio: storm ? storm.renewalsPerSecond / withCharge.perSecond : null,
      pgWaits: { storm: stormWaitSamples, ceiling: ceilingWaitSamples },
      killedWorkers,
      workerStarts: workers.reduce((sum, w) => sum + w.starts, 0),
      checks,
      failed,
      keptWorkDir: keep ? workDir : null,
    };
  } catch (error) {
    keep = options.keep || !options.signal?.aborted;
    throw error;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`cleanup: ${error instanceof Error ? error.message : String(error)}`));
    if (!keep) await rm(workDir, { recursive: true, force: true });
    else log(`logs and data kept in ${workDir}`);
  }
}
