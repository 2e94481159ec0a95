import { writeFile } from 'node:fs/promises';
import { failedChecks, runChaos } from './chaos/harness';
import { formatReport } from './chaos/report';

/**
 * `npm run chaos -- [renewals=1000] [seed=<n>] [json=<file>]`: renewals billed and collected
 * through the Stripe emulator while the worker is SIGKILLed, Stripe fails, times out and drops
 * connections, webhooks
 * come twice, late, out of order and ahead of the charge's answer, and Postgres connections are
 * terminated mid-transaction; then the checks (double charges, statuses against Stripe, ledger
 * tie-out, stuck workflows). Prints the figures; the exit code is 1 when a check is not zero. The
 * same seed replays the same workload and fault decisions (their timing follows the machine).
 * `json=<file>` also writes the figures there (money as decimal strings).
 */
const USAGE = 'usage: npm run chaos -- [renewals=1000] [seed=<n>] [json=<file>]';

function parseArgs(argv: string[]): { renewals: number; seed: number; json: string | null } {
  let renewals = 1000;
  let seed = Math.floor(Math.random() * 2 ** 31);
  let json: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [rawKey, value] = arg.includes('=') ? arg.split('=', 2) : arg.startsWith('--') ? [arg, argv[++i] ?? ''] : ['renewals', arg];
    const key = rawKey.replace(/^--/, '');
    if (key === 'json' && value) {
      json = value;
      continue;
    }
    const number = Number(value);
    if (!Number.isInteger(number) || number < 0) throw new Error(`"${arg}" is not a whole number; ${USAGE}`);
    if (key === 'seed') seed = number;
    else if (key === 'renewals' && number > 0) renewals = number;
    else throw new Error(`unknown argument "${arg}"; ${USAGE}`);
  }
  return { renewals, seed, json };
}

async function main(): Promise<void> {
  const { renewals, seed, json } = parseArgs(process.argv.slice(2));
  const controller = new AbortController();
  let interrupted = 0;
  const interrupt = (): void => {
    interrupted += 1;
    if (interrupted > 1) process.exit(130);
    console.log('\nStopping the chaos run (Ctrl-C again to exit at once) ...');
    controller.abort();
  };
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  console.log(`chaos: ${renewals} renewals, seed ${seed} (npm run chaos -- ${renewals} seed=${seed} runs the same workload and fault decisions)`);
  const time = () => new Date().toISOString().slice(11, 19);
  const figures = await runChaos({ renewals, seed, signal: controller.signal, log: (line) => console.log(`${time()} ${line}`) });
  const report = formatReport(figures);
  console.log(`\n=== chaos: ${renewals} renewals under faults ===`);
  console.log(report);
  const failed = failedChecks(figures);
  // For test/e2e/chaos.test.ts, which runs this command as a child process.
  if (json) await writeFile(json, JSON.stringify({ figures, failed, report }, null, 2));
  console.log(failed.length === 0 ? '\nevery check is 0' : `\nCHECKS FAILED: ${failed.join(', ')}`);
  if (failed.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.message === 'chaos run interrupted' ? error.message : (error.stack ?? error.message)) : error);
  process.exit(1);
});
