import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startService, type ServiceProcess } from '../../scripts/service-process';

/**
 * `npm run bench:renewals` in small: 100 subscriptions renewing at one instant on the stack `npm run
 * start:cluster` runs (the Temporal server on Postgres, two workers), collected through the Stripe
 * emulator, with one worker SIGKILLed once half the renewal invoices are issued. The figures are not looked at; what must hold is: one renewal invoice per
 * subscription, invoice numbers without a gap, every ledger transaction balanced, and each renewal
 * invoice paid by exactly one card payment that Stripe kept exactly one charge for. The bench runs
 * as the command does, in a process of its own (embedded Postgres is an ES module Jest's runtime
 * cannot load).
 */
const ROOT = resolve(__dirname, '../..');
const RENEWALS = 100;

interface Figures {
  mode: string;
  storm: unknown;
  killedWorkers: number;
  checks: {
    expected: number;
    renewalInvoices: number;
    invoicesPastRenewal: number;
    numberGaps: number;
    unbalancedTransactions: number;
    ledgerImbalance: string;
    notPaidOnce: number;
    stripeNotChargedOnce: number;
    strayCharges: number;
    problems: string[];
  };
}

describe('renewal storm on the cluster: 100 subscriptions renewing at one instant, a worker killed in the middle', () => {
  let workDir: string;
  let bench: ServiceProcess | undefined;
  let figures: Figures;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'perennial-renewals-test-'));
    const json = join(workDir, 'figures.json');
    const logFile = join(workDir, 'renewals.log');
    bench = startService('renewals', process.execPath, ['--import', 'tsx', 'bench/renewals.ts', String(RENEWALS), 'cluster=1', 'kill_worker=1', 'ceiling=20', 'ceiling_concurrency=4', `json=${json}`], { cwd: ROOT, logFile });
    let timer: NodeJS.Timeout | undefined;
    // A limit, not an expectation: past it the run is stopped (its services with it) and the test fails.
    const code = await Promise.race([bench.exited, new Promise<'timeout'>((done) => (timer = setTimeout(() => done('timeout'), 840_000)))]);
    clearTimeout(timer);
    if (code === 'timeout') await bench.stop();
    const output = await readFile(logFile, 'utf8').catch(() => '');
    const written = await readFile(json, 'utf8').catch(() => null);
    if (!written) throw new Error(`the renewal bench ${code === 'timeout' ? 'did not finish in 14 minutes' : `exited with ${code}`} without figures:\n${output}`);
    figures = (JSON.parse(written) as { figures: Figures }).figures;
    // For the person reading a failure: the run's report and log.
    if (code !== 0) console.log(output);
  }, 900_000);

  afterAll(async () => {
    await bench?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('finished the storm on the Temporal server with two workers, one of them killed in the middle of it', () => {
    expect(figures.mode).toMatch(/^Temporal server on Postgres, 2 workers, one worker SIGKILLed mid-storm/);
    expect(figures.storm).not.toBeNull();
    expect(figures.killedWorkers).toBe(1);
  });

  it('issued one renewal invoice per subscription, numbered without a gap, balanced in the ledger, each charged exactly once', () => {
    const c = figures.checks;
    expect({
      renewalInvoices: c.renewalInvoices,
      invoicesPastRenewal: c.invoicesPastRenewal,
      numberGaps: c.numberGaps,
      unbalancedTransactions: c.unbalancedTransactions,
      ledgerImbalance: String(c.ledgerImbalance),
      notPaidOnce: c.notPaidOnce,
      stripeNotChargedOnce: c.stripeNotChargedOnce,
      strayCharges: c.strayCharges,
      problems: c.problems,
    }).toEqual({
      renewalInvoices: RENEWALS,
      invoicesPastRenewal: 0,
      numberGaps: 0,
      unbalancedTransactions: 0,
      ledgerImbalance: '0',
      notPaidOnce: 0,
      stripeNotChargedOnce: 0,
      strayCharges: 0,
      problems: [],
    });
  });
});
