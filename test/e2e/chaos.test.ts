import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { FAULT_KINDS, type FaultKind } from '../../bench/chaos/faults';
import { startService, type ServiceProcess } from '../../scripts/service-process';

/**
 * `npm run chaos` in small: 50 renewals (10 subscriptions of 5 daily periods) collected through the
 * Stripe emulator on the stack `npm start` runs, with every kind of fault injected at least once: the
 * worker SIGKILLed (at a random moment, and between Stripe's answer and the worker reading it), Stripe
 * answering 500, answering after the SDK's timeout, or dropping the connection after acting, webhooks
 * duplicated, delayed, reordered and processed before the charge call returns, the app's Postgres
 * connections terminated mid-transaction. Once the system is quiet: no invoice charged twice, every
 * status as Stripe has it, the ledger balanced and tied out to invoices and to what Stripe kept,
 * nothing stuck. The harness runs as the command does, in a process of its own (embedded Postgres
 * is an ES module Jest's runtime cannot load). Its length is mostly the two minutes a killed
 * worker's charge activity waits for its start-to-close timeout before it is retried.
 */
const ROOT = resolve(__dirname, '../..');
const RENEWALS = 50;
const SEED = 20261201;

interface Figures {
  faults: Record<FaultKind, number>;
  quiet: boolean;
  unexpectedExits: { worker: number; api: number };
  customerErrors: string[];
  workload: { authenticated: number; manualPayments: number; newCards: number; lateAuthentications: number; transfers: { paid: number; cardFirst: number } };
  checks: {
    invoicesIssued: number;
    doubleCharges: number;
    statusDisagreements: number;
    liveIntentsOnSettledInvoices: number;
    ledgerImbalance: string;
    receivablesDifference: string;
    cardPaymentsDifference: string;
    excessDifference: string;
    workflowsStuck: number;
    problems: string[];
  };
}

describe('chaos: 50 renewals under injected faults', () => {
  let workDir: string;
  let harness: ServiceProcess | undefined;
  let figures: Figures;
  let output = '';

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'perennial-chaos-test-'));
    const json = join(workDir, 'figures.json');
    const logFile = join(workDir, 'chaos.log');
    harness = startService('chaos', process.execPath, ['--import', 'tsx', 'bench/chaos.ts', String(RENEWALS), `seed=${SEED}`, `json=${json}`], { cwd: ROOT, logFile });
    let timer: NodeJS.Timeout | undefined;
    // A limit, not an expectation: past it the run is stopped (its services with it) and the test fails.
    const code = await Promise.race([harness.exited, new Promise<'timeout'>((done) => (timer = setTimeout(() => done('timeout'), 540_000)))]);
    clearTimeout(timer);
    if (code === 'timeout') await harness.stop();
    output = await readFile(logFile, 'utf8').catch(() => '');
    const written = await readFile(json, 'utf8').catch(() => null);
    if (!written) throw new Error(`the chaos run ${code === 'timeout' ? 'did not finish in 9 minutes' : `exited with ${code}`} without figures:\n${output}`);
    figures = (JSON.parse(written) as { figures: Figures }).figures;
    // For the person reading a failure: the run's report and log.
    if (code !== 0) console.log(output);
  }, 600_000);

  afterAll(async () => {
    await harness?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('injected every kind of fault at least once', () => {
    expect(FAULT_KINDS.filter((kind) => !(figures.faults[kind] > 0))).toEqual([]);
    expect(figures.checks.invoicesIssued).toBe(RENEWALS);
  });

  it('charged no invoice twice, agreed with Stripe, balanced and tied out the books, and left nothing stuck', () => {
    const c = figures.checks;
    expect({
      doubleCharges: c.doubleCharges,
      statusDisagreements: c.statusDisagreements,
      liveIntentsOnSettledInvoices: c.liveIntentsOnSettledInvoices,
      ledgerImbalance: String(c.ledgerImbalance),
      receivablesDifference: String(c.receivablesDifference),
      cardPaymentsDifference: String(c.cardPaymentsDifference),
      excessDifference: String(c.excessDifference),
      workflowsStuck: c.workflowsStuck,
      unexpectedExits: figures.unexpectedExits,
      quiet: figures.quiet,
      customerErrors: figures.customerErrors,
      problems: c.problems,
    }).toEqual({
      doubleCharges: 0,
      statusDisagreements: 0,
      liveIntentsOnSettledInvoices: 0,
      ledgerImbalance: '0',
      receivablesDifference: '0',
      cardPaymentsDifference: '0',
      excessDifference: '0',
      workflowsStuck: 0,
      unexpectedExits: { worker: 0, api: 0 },
      quiet: true,
      customerErrors: [],
      problems: [],
    });
  });

  it('had its customers complete 3-D Secure, pay by hand while it waited, attach a new card, and race the card with a transfer', () => {
    const w = figures.workload;
    expect(w.authenticated).toBeGreaterThan(0);
    expect(w.manualPayments).toBeGreaterThan(0);
    expect(w.newCards).toBeGreaterThan(0);
    expect(w.transfers.paid + w.transfers.cardFirst).toBeGreaterThan(0);
  });
});
