import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Pool } from 'pg';
import Stripe from 'stripe';
import { ChaosApi } from './api-client';
import { quietState, runChecks, type ChaosChecks, type QuietState } from './checks';
import { FAULT_KINDS, FaultInjector, faultSettings, type FaultKind } from './faults';
import { Random } from './random';
import { startChaosStack, type ChaosStack } from './stack';
import type { RelayStats } from './webhook-relay';
import { planWorkload, Workload, type WorkloadStats } from './workload';
import { abortableSteps } from '../support/abortable';

/**
 * A chaos run: the stack started as `npm start` starts it (the worker and the API as processes this
 * harness supervises), renewals billed and collected through the Stripe emulator while faults are
 * injected at random, then, with the faults stopped and the system quiet, the checks. Returns the
 * figures; asserts nothing (bench/chaos.ts prints them, test/e2e/chaos.test.ts asserts the zeros).
 */
export interface ChaosOptions {
  renewals: number;
  seed: number;
  /** Progress and notable events, one line each. */
  log?: (line: string) => void;
  progressEveryMs?: number;
  /** Ctrl-C: stops everything started and rejects. */
  signal?: AbortSignal;
  /** Longest fault window: faults stop then even if a kind has not occurred or invoices are still being charged. */
  windowLimitMs?: number;
  /** Longest wait for quiet once faults have stopped (a killed worker's activities time out after 2 minutes). */
  quietLimitMs?: number;
}

export interface ChaosFigures {
  renewals: number;
  seed: number;
  subscriptions: number;
  customers: number;
  durations: { startUpMs: number; setUpMs: number; faultWindowMs: number; quietMs: number; checksMs: number; totalMs: number };
  /** Renewals over the time from the first subscription request until the system was quiet. */
  renewalsPerSecond: number;
  faults: Record<FaultKind, number>;
  terminateMisses: number;
  workload: WorkloadStats;
  relay: RelayStats;
  apiRetries: number;
  workerStarts: number;
  unexpectedExits: { worker: number; api: number };
  /** Exits while starting (not ready yet), e.g. on a connection terminated during start-up; restarted. */
  startFailures: { worker: number; api: number };
  quiet: boolean;
  /** What the system was still doing when the quiet wait gave up. */
  notQuiet: string;
  checks: ChaosChecks;
  customerErrors: string[];
  /** Logs and data, kept when a check failed or the run did not get quiet. */
  keptWorkDir: string | null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** How long the fault window stays open for a kind of fault that has not occurred once the work is done. */
const MISSING_FAULTS_GRACE_MS = 60_000;

/** How long refunds may stay pending once nothing else is under way (activities retry within seconds to minutes). */
const ONLY_REFUNDS_PENDING_MS = 90_000;

/** The checks that must be zero. */
export function failedChecks(figures: ChaosFigures): string[] {
  const c = figures.checks;
  const failed: string[] = [];
  if (c.doubleCharges > 0) failed.push('double charges');
  if (c.statusDisagreements > 0) failed.push('statuses that disagree with Stripe');
  if (c.liveIntentsOnSettledInvoices > 0) failed.push('live intents on settled invoices');
  if (!c.ledgerImbalance.isZero()) failed.push('ledger imbalance');
  if (!c.receivablesDifference.isZero()) failed.push('receivables tie-out');
  if (!c.cardPaymentsDifference.isZero()) failed.push('card payments tie-out');
  if (!c.excessDifference.isZero()) failed.push('excess payments tie-out');
  if (c.workflowsStuck > 0) failed.push('workflows stuck');
  if (!figures.quiet) failed.push('not quiet');
  if (figures.unexpectedExits.worker + figures.unexpectedExits.api > 0) failed.push('unexpected process exits');
  return failed;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosFigures> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const rng = new Random(options.seed);
  const workDir = await mkdtemp(join(tmpdir(), 'perennial-chaos-'));
  const cleanups: Array<() => Promise<unknown>> = [];
  let keep = false;
  const step = abortableSteps(options.signal, 'chaos run interrupted');

  try {
    log(`starting the stack in ${workDir}`);
    const stack: ChaosStack = await step(startChaosStack({ workDir, log }));
    cleanups.push(() => stack.stop());
    options.signal?.addEventListener('abort', () => stack.halt(), { once: true });
    if (options.signal?.aborted) stack.halt();
    const startUpMs = Date.now() - started;
    log(`stack ready after ${(startUpMs / 1000).toFixed(1)} s (API ${stack.apiBase}, Temporal ${stack.temporalAddress}, Stripe ${stack.emulator.apiBase})`);

    const owner = new Pool({ connectionString: stack.database.ownerUrl, max: 4 });
    cleanups.push(() => owner.end());
    const connection = await step(Connection.connect({ address: stack.temporalAddress }));
    cleanups.push(() => connection.close());
    const temporal = new Client({ connection, namespace: stack.namespace });
    const emulator = new URL(stack.emulator.apiBase);
    const stripe = new Stripe(stack.secretKey, { host: emulator.hostname, port: Number(emulator.port), protocol: 'http', maxNetworkRetries: 3, timeout: 120_000, telemetry: false });
    const api = new ChaosApi(stack.apiBase, stack.adminKey);

    const plan = planWorkload(options.renewals, rng.fork('workload'));
    const workload = new Workload(plan, api, stripe, stack.emulator.apiBase, stack.secretKey, owner, rng.fork('customers'), log);
    const setUpStarted = Date.now();
    await step(workload.setUp());
    const setUpMs = Date.now() - setUpStarted;

    const faults = new FaultInjector(stack, rng.fork('faults'), faultSettings(options.renewals), log);
    cleanups.push(() => faults.stop());
    cleanups.push(() => workload.stopCustomers({ wait: false }));
    let phase = 'subscribing';
    const progress = setInterval(() => {
      void progressLine(owner, options.renewals, faults, stack, phase, Date.now() - started).then(log, () => undefined);
    }, options.progressEveryMs ?? 5_000);
    cleanups.push(async () => clearInterval(progress));

    const windowStarted = Date.now();
    await step(faults.start());
    workload.startCustomers();
    await step(workload.subscribe());

    // The fault window: until every renewal is issued and has had its first charge, the customers
    // have done what they were going to do, and every kind of fault has occurred.
    phase = 'collecting under faults';
    const windowDeadline = windowStarted + (options.windowLimitMs ?? 15 * 60_000);
    let settledSince: number | null = null;
    for (;;) {
      const { rows } = await step(
        owner.query<{ invoices: number; unattempted: number }>(
          `select (select count(*)::int from invoices) as invoices,
                  (select count(*)::int from invoices i
                    where i.status = 'open' and i.amount_due > 0
                      and not exists (select 1 from payment_attempts a where a.invoice_id = i.id and a.status not in ('pending', 'processing'))) as unattempted`,
        ),
      );
      const settled = rows[0].invoices >= options.renewals && rows[0].unattempted === 0 && workload.idle() && workload.newCardsOwed() === 0;
      if (settled && faults.missing().length === 0) break;
      // A kind still missing once the work is done has nothing left to happen to (a run without refunds).
      settledSince = settled ? (settledSince ?? Date.now()) : null;
      if (settledSince !== null && Date.now() - settledSince > MISSING_FAULTS_GRACE_MS) {
        log(`ending the fault window with no ${faults.missing().join(', ')}: nothing left for them to happen to`);
        break;
      }
      if (Date.now() > windowDeadline) {
        log(`fault window limit reached; still missing: ${faults.missing().join(', ') || 'no fault kind'}; ${rows[0].invoices} invoices, ${rows[0].unattempted} not charged yet`);
        break;
      }
      await step(sleep(1_000));
    }
    await step(faults.stop());
    const faultWindowMs = Date.now() - windowStarted;
    log(`faults stopped after ${(faultWindowMs / 1000).toFixed(1)} s; waiting for the system to be quiet`);

    phase = 'waiting for quiet';
    const quietStarted = Date.now();
    const quietDeadline = quietStarted + (options.quietLimitMs ?? 8 * 60_000);
    let quiet = false;
    let notQuiet = '';
    let quietInARow = 0;
    let onlyRefundsSince: number | null = null;
    for (;;) {
      const busy = stack.relay.pending() > 0 ? `${stack.relay.pending()} webhooks in the relay` : !workload.idle() ? 'customers still acting' : null;
      const state = await step(quietState(owner, temporal, options.renewals, busy)).catch(
        (error: unknown): QuietState => ({ quiet: false, waitingFor: `could not tell: ${String(error)}`, onlyRefundsPending: false }),
      );
      notQuiet = state.waitingFor;
      // Nothing runs that would ask Stripe for them again: waiting longer changes nothing.
      onlyRefundsSince = state.onlyRefundsPending ? (onlyRefundsSince ?? Date.now()) : null;
      if (onlyRefundsSince !== null && Date.now() - onlyRefundsSince > ONLY_REFUNDS_PENDING_MS) {
        log(`not quiet: ${notQuiet} for ${ONLY_REFUNDS_PENDING_MS / 1000} s with nothing else under way`);
        break;
      }
      // Twice in a row: a customer may be about to act on a payment that has just started waiting.
      quietInARow = state.quiet ? quietInARow + 1 : 0;
      if (quietInARow >= 2) {
        quiet = true;
        break;
      }
      if (Date.now() > quietDeadline) {
        log(`not quiet after ${((Date.now() - quietStarted) / 1000).toFixed(0)} s: ${notQuiet}`);
        break;
      }
      await step(sleep(1_000));
    }
    const quietMs = Date.now() - quietStarted;
    const renewalsPerSecond = options.renewals / ((Date.now() - windowStarted) / 1000);
    clearInterval(progress);
    await step(workload.stopCustomers({ wait: true }));

    phase = 'checking';
    const checksStarted = Date.now();
    const checks = await step(runChecks(owner, temporal, stripe));
    const checksMs = Date.now() - checksStarted;

    const figures: ChaosFigures = {
      renewals: options.renewals,
      seed: options.seed,
      subscriptions: plan.subscriptions.length,
      customers: plan.customers.length,
      durations: { startUpMs, setUpMs, faultWindowMs, quietMs, checksMs, totalMs: 0 },
      renewalsPerSecond,
      faults: { ...faults.counts },
      terminateMisses: faults.terminateMisses,
      workload: workload.stats,
      relay: { ...stack.relay.stats },
      apiRetries: api.retries,
      workerStarts: stack.worker.starts,
      unexpectedExits: { worker: stack.worker.unexpectedExits, api: stack.api.unexpectedExits },
      startFailures: { worker: stack.worker.startFailures, api: stack.api.startFailures },
      quiet,
      notQuiet: quiet ? '' : notQuiet,
      checks,
      customerErrors: workload.errors,
      keptWorkDir: null,
    };
    keep = failedChecks(figures).length > 0;
    figures.keptWorkDir = keep ? workDir : null;
    figures.durations.totalMs = Date.now() - started;
    return figures;
  } catch (error) {
    // Kept for diagnosis when the run failed, not when it was interrupted on purpose.
    keep = !options.signal?.aborted;
    throw error;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error: unknown) => log(`cleanup: ${error instanceof Error ? error.message : String(error)}`));
    if (!keep) await rm(workDir, { recursive: true, force: true });
    else log(`logs and data kept in ${workDir}`);
  }
}

async function progressLine(owner: Pool, renewals: number, faults: FaultInjector, stack: ChaosStack, phase: string, elapsedMs: number): Promise<string> {
  const { rows } = await owner.query<{ issued: number; paid: number; open: number; pending: number }>(
    `select (select count(*)::int from invoices) as issued,
            (select count(*)::int from invoices where status = 'paid') as paid,
            (select count(*)::int from invoices where status = 'open') as open,
            (select count(*)::int from payment_attempts where status in ('pending', 'processing')) as pending`,
  );
  const [r] = rows;
  const f = faults.counts;
  const injected = FAULT_KINDS.reduce((sum, k) => sum + f[k], 0);
  return (
    `[${(elapsedMs / 1000).toFixed(0)} s] ${phase}: invoices ${r.issued}/${renewals} (paid ${r.paid}, open ${r.open}), attempts under way ${r.pending}; ` +
    `faults ${injected} (kills ${f.worker_killed}+${f.worker_killed_after_charge}, Stripe 500/slow/dropped ${f.stripe_500}/${f.stripe_timeout}/${f.stripe_connection_dropped}, ` +
    `webhooks dup/delay/reorder/early ${f.webhook_duplicated}/${f.webhook_delayed}/${f.webhook_reordered}/${f.webhook_before_charge_returns}, pg ${f.postgres_backend_terminated}); ` +
    `worker ${stack.worker.ready ? 'up' : 'restarting'}`
  );
}
