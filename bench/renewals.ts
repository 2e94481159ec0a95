import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { runRenewals, type RenewalFigures } from './renewals/harness';

/**
 * `npm run bench:renewals -- [N=10000] [cluster=1] [kill_worker=1] [align=anniversary|calendar]
 * [lead=<s>] [ceiling=<N/10>] [ceiling_concurrency=16] [setup_concurrency=16] [limit=<s>] [profile=<dir>] [keep=1]
 * [json=<file>]`: N subscriptions over N/10 customers with paying cards, all renewing at one instant
 * T; from T until every renewal invoice is issued, posted to the ledger and charged through the
 * Stripe emulator, the renewals a second, the lag behind T, each stage's throughput and where the CPU
 * went; then the ceiling (the same activity functions with no Temporal in between) and the checks.
 * The worker's WORKER_* settings come from this command's environment (see WORKER_TUNING below);
 * `profile=<dir>` writes the worker's CPU profile (node --cpu-prof) there. Exit code 1 when a check
 * fails.
 */
const USAGE =
  'usage: npm run bench:renewals -- [N=10000] [cluster=1] [kill_worker=1] [align=anniversary|calendar] [lead=<s>] [ceiling=<N/10>] [ceiling_concurrency=16] [setup_concurrency=16] [limit=<s>] [profile=<dir>] [keep=1] [json=<file>]';

/**
 * The worker settings the storm runs with unless this command's environment names others: the
 * fastest measured on the 2-core machine (the figures are in the report).
 */
export const WORKER_TUNING: Record<string, string> = {};

const TUNING_VARS = ['WORKER_MAX_CACHED_WORKFLOWS', 'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS', 'WORKER_MAX_CONCURRENT_ACTIVITIES', 'WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES'];

interface Args {
  renewals: number;
  cluster: boolean;
  killWorker: boolean;
  alignment: 'anniversary' | 'calendar';
  leadS?: number;
  ceilingConcurrency: number;
  ceilingSubscriptions?: number;
  setupConcurrency: number;
  limitS: number;
  profile: string | null;
  keep: boolean;
  json: string | null;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { renewals: 10_000, cluster: false, killWorker: false, alignment: 'anniversary', ceilingConcurrency: 16, setupConcurrency: 16, limitS: 1_200, profile: null, keep: false, json: null };
  for (const arg of argv) {
    const [key, value] = arg.includes('=') ? arg.split('=', 2) : ['N', arg];
    const whole = (): number => {
      const number = Number(value);
      if (!Number.isInteger(number) || number <= 0) throw new Error(`"${arg}" is not a whole number above 0; ${USAGE}`);
      return number;
    };
    if (key === 'N' || key === 'renewals') args.renewals = whole();
    else if (key === 'cluster') args.cluster = value === '1';
    else if (key === 'kill_worker') args.killWorker = value === '1';
    else if (key === 'align' && (value === 'anniversary' || value === 'calendar')) args.alignment = value;
    else if (key === 'lead') args.leadS = whole();
    else if (key === 'ceiling_concurrency') args.ceilingConcurrency = whole();
    else if (key === 'ceiling') args.ceilingSubscriptions = whole();
    else if (key === 'setup_concurrency') args.setupConcurrency = whole();
    else if (key === 'limit') args.limitS = whole();
    else if (key === 'profile' && value) args.profile = resolve(value);
    else if (key === 'keep') args.keep = value === '1';
    else if (key === 'json' && value) args.json = value;
    else throw new Error(`unknown argument "${arg}"; ${USAGE}`);
  }
  return args;
}

const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);

export function formatReport(r: RenewalFigures): string {
  const lines: string[] = [];
  lines.push(`mode: ${r.mode}; ${r.alignment} alignment (zone ${r.zone}); T = ${r.due}`);
  lines.push(`worker settings: ${Object.entries(r.workerEnv).map(([k, v]) => `${k}=${v}`).join(' ') || 'the defaults (config/env.ts)'}`);
  lines.push(`set-up: ${r.setup.customers} customers, subscriptions created and first invoices paid at ${f1(r.setup.subscriptionsPerSecond)}/s; ${f1(r.setup.seconds)} s; ready ${f1(r.setup.readyBeforeDueS)} s before T`);
  if (r.storm) {
    const s = r.storm;
    lines.push(`storm: ${r.renewals} renewals in ${f1(s.seconds)} s after T: ${f1(s.renewalsPerSecond)} renewals/s (first invoice ${f2(s.firstIssuedS)} s after T)`);
    for (const [name, stage] of [['invoice issued', s.issued], ['ledger posted', s.posted], ['charge succeeded', s.charged]] as const) {
      lines.push(`  ${name.padEnd(17)} ${f1(stage.perSecond).padStart(7)}/s; lag behind T p50 ${f1(stage.lag.p50)} s, p99 ${f1(stage.lag.p99)} s, max ${f1(stage.lag.max)} s`);
    }
  } else if (r.stormIncomplete) {
    lines.push(`storm: NOT DONE within the limit: issued ${r.stormIncomplete.issued}, posted ${r.stormIncomplete.posted}, charged ${r.stormIncomplete.charged} of ${r.renewals}`);
  }
  const cpu = (label: string, c: RenewalFigures['cpu']['storm']) => {
    if (!c) return;
    lines.push(`${label} cores: ${Object.entries(c.cores).map(([k, v]) => `${k} ${f2(v)}`).join(', ')}; other processes ${f2(c.other)}; idle ${f2(c.idle)}`);
  };
  cpu('storm', r.cpu.storm);
  if (!r.cpu.storm && r.killedWorkers > 0) lines.push('storm cores: not measured (a worker was killed, its process tree is gone)');
  const c = r.ceiling;
  lines.push(`ceiling (activity functions, no Temporal, concurrency ${c.withCharge.concurrency}): ${f1(c.withCharge.perSecond)} renewals/s with the charge (${c.withCharge.renewals} in ${f1(c.withCharge.seconds)} s); Postgres alone ${f1(c.postgresOnly.perSecond)}/s (${c.postgresOnly.renewals} in ${f1(c.postgresOnly.seconds)} s)`);
  cpu('ceiling', r.cpu.ceiling);
  if (r.ratio !== null) lines.push(`storm / ceiling: ${f2(r.ratio)} (target >= 0.5); Postgres-alone ceiling ${f2(r.storm!.renewalsPerSecond / c.postgresOnly.perSecond)}`);
  for (const [label, samples] of [['storm', r.pgWaits.storm], ['ceiling', r.pgWaits.ceiling]] as const) {
    lines.push(`Postgres backends during the ${label} (sampled; share of active backend time, backends on average):`);
    for (const s of samples.slice(0, 8)) lines.push(`  ${(s.share * 100).toFixed(0).padStart(3)}% ${f2(s.backends)} ${s.state.padEnd(28)} ${s.statement}`);
  }
  if (r.killedWorkers > 0) lines.push(`workers killed: ${r.killedWorkers}; worker starts ${r.workerStarts}`);
  const k = r.checks;
  lines.push(
    `checks: renewal invoices ${k.renewalInvoices}/${k.expected}, past the renewal ${k.invoicesPastRenewal}, numbered ${k.numbered} with ${k.numberGaps} gaps, unbalanced ledger transactions ${k.unbalancedTransactions} (imbalance ${k.ledgerImbalance.toFixed()}), not paid exactly once ${k.notPaidOnce}, Stripe not charged exactly once ${k.stripeNotChargedOnce}, stray charges ${k.strayCharges}`,
  );
  for (const problem of k.problems.slice(0, 20)) lines.push(`  ${problem}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const workerEnv: NodeJS.ProcessEnv = { ...WORKER_TUNING };
  for (const name of TUNING_VARS) if (process.env[name]) workerEnv[name] = process.env[name];
  if (args.profile) mkdirSync(args.profile, { recursive: true });
  const controller = new AbortController();
  let interrupted = 0;
  const interrupt = (): void => {
    interrupted += 1;
    if (interrupted > 1) process.exit(130);
    console.log('\nStopping the renewal bench (Ctrl-C again to exit at once) ...');
    controller.abort();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  const time = () => new Date().toISOString().slice(11, 19);
  console.log(`renewals: ${args.renewals} renewals at one instant${args.killWorker ? ', one worker SIGKILLed mid-storm' : ''}`);
  const figures = await runRenewals({
    renewals: args.renewals,
    alignment: args.alignment,
    leadS: args.leadS,
    killWorker: args.killWorker,
    cluster: args.cluster,
    workerEnv,
    workerNodeArgs: args.profile ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`] : [],
    ceilingConcurrency: args.ceilingConcurrency,
    ceilingSubscriptions: args.ceilingSubscriptions,
    setupConcurrency: args.setupConcurrency,
    stormLimitS: args.limitS,
    keep: args.keep || args.profile !== null,
    signal: controller.signal,
    log: (line) => console.log(`${time()} ${line}`),
  });
  const report = formatReport(figures);
  console.log(`\n=== renewals: ${args.renewals} at one instant (${new Date().toISOString()}) ===`);
  console.log(report);
  // For test/e2e/renewals-bench.test.ts, which runs this command as a child process.
  if (args.json) await writeFile(args.json, JSON.stringify({ figures, failed: figures.failed, report }, null, 2));
  console.log(figures.failed.length === 0 ? '\nevery check holds' : `\nCHECKS FAILED: ${figures.failed.join(', ')}`);
  if (figures.failed.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.message === 'renewal bench interrupted' ? error.message : (error.stack ?? error.message)) : error);
  process.exit(1);
});
