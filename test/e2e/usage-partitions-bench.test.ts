import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startService, type ServiceProcess } from '../../scripts/service-process';

/**
 * `npm run bench:usage-partitions` in small: 100,000 events over six months and a hundred
 * subscriptions, one real subscription through the API. Every event must be stored once with its id
 * claimed, the period's aggregation must equal what the generator's formula gives, fresh batches must
 * be accepted and re-sent ones answered as duplicates, and the period's plan must scan its month
 * only. Its timings are printed by the run and asserted nowhere. The harness runs as the command
 * does, in a process of its own (embedded Postgres is an ES module Jest's runtime cannot load).
 */
const ROOT = resolve(__dirname, '../..');
const EVENTS = 100_000;
const REAL = 2_000;

interface Report {
  rows: { events: number; ids: number };
  aggregations: Array<{ aggregation: string; events: number; quantity: string }>;
  ingest: { batch: number; runs: number; freshAccepted: number; resentDuplicates: number; rawStored: number };
  pruning: { custom: string[]; generic: string[]; subplansRemoved: number[]; existing: string[] };
  checks: { passed: boolean; problems: string[] };
}

describe('usage partitions benchmark: 100,000 events', () => {
  let workDir: string;
  let harness: ServiceProcess | undefined;
  let report: Report;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'perennial-partitions-test-'));
    const json = join(workDir, 'figures.json');
    const logFile = join(workDir, 'partitions.log');
    const args = [`events=${EVENTS}`, 'months=6', 'subscriptions=100', `real=${REAL}`, 'runs=3', 'batch=100', `json=${json}`];
    harness = startService('partitions-bench', process.execPath, ['--import', 'tsx', 'bench/usage-partitions.ts', ...args], { cwd: ROOT, logFile });
    let timer: NodeJS.Timeout | undefined;
    // A limit, not an expectation: past it the run is stopped (its services with it) and the test fails.
    const code = await Promise.race([harness.exited, new Promise<'timeout'>((done) => (timer = setTimeout(() => done('timeout'), 420_000)))]);
    clearTimeout(timer);
    if (code === 'timeout') await harness.stop();
    const written = await readFile(json, 'utf8').catch(() => null);
    if (!written) {
      const output = await readFile(logFile, 'utf8').catch(() => '');
      throw new Error(`the partitions benchmark ${code === 'timeout' ? 'did not finish in 7 minutes' : `exited with ${code}`} without figures:\n${output}`);
    }
    report = JSON.parse(written) as Report;
  }, 480_000);

  afterAll(async () => {
    await harness?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('passes every check of the run', () => {
    expect(report.checks).toEqual({ passed: true, problems: [] });
  });

  it('stores every generated and ingested event once, its id claimed once', () => {
    expect(report.rows).toEqual({ events: EVENTS + REAL, ids: EVENTS + REAL });
  });

  it("aggregates the real subscription's period from its month: the sent events of each metric, and the bulk's share of tokens", () => {
    const byAggregation = Object.fromEntries(report.aggregations.map((a) => [a.aggregation, a]));
    // The real events cycle through four metrics, so each holds a quarter of them; the bulk is tokens only.
    expect(byAggregation.count).toMatchObject({ events: REAL / 4, quantity: String(REAL / 4) });
    expect(byAggregation.weighted_sum.events).toBe(REAL / 4);
    expect(byAggregation.latest.events).toBe(REAL / 4);
    expect(byAggregation.sum.events).toBeGreaterThan(REAL / 4);
  });

  it('accepts new batches through the ingest function and answers their re-sends as duplicates', () => {
    const events = report.ingest.batch * report.ingest.runs;
    expect(report.ingest).toMatchObject({ freshAccepted: events, resentDuplicates: events, rawStored: events });
  });

  it("plans the period's aggregation on its month's partition only, known values or not", () => {
    expect(report.pruning.custom).toHaveLength(1);
    expect(report.pruning.generic).toEqual(report.pruning.custom);
    expect(report.pruning.subplansRemoved[0]).toBe(report.pruning.existing.length - 1);
  });
});
