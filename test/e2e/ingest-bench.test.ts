import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startService, type ServiceProcess } from '../../scripts/service-process';

/**
 * `npm run bench:ingest` in small: 1,000 events per ingest phase (batches through the API, single
 * events through the API, the storage path alone, the raw insert), 5% of them re-sent while the
 * first send may still be in flight. Every acknowledged event must be stored once, every re-send
 * answered as a duplicate. Its rates are printed by the run and asserted nowhere. The harness runs
 * as the command does, in a process of its own (embedded Postgres is an ES module Jest's runtime
 * cannot load).
 */
const ROOT = resolve(__dirname, '../..');
const EVENTS = 1_000;
const PHASES = ['API, batches', 'API, single events', 'writer, batches', 'raw insert, batches'];

interface Check {
  phase: string;
  sent: number;
  stored: number;
  distinct: number;
  accepted: number;
  duplicates: number;
  resent: number;
  problems: string[];
}

describe('ingest benchmark: 1,000 events per phase', () => {
  let workDir: string;
  let harness: ServiceProcess | undefined;
  let report: { exactlyOnce: boolean; checks: Check[] };

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'perennial-ingest-test-'));
    const json = join(workDir, 'figures.json');
    const logFile = join(workDir, 'ingest.log');
    const args = [
      `max_events=${EVENTS}`,
      'seconds=120',
      'warmup=0',
      'subscriptions=5',
      'background=0',
      'agg_events=0',
      'connections=4',
      'single_connections=8',
      'batch=50',
      `json=${json}`,
    ];
    harness = startService('ingest-bench', process.execPath, ['--import', 'tsx', 'bench/ingest.ts', ...args], { cwd: ROOT, logFile });
    let timer: NodeJS.Timeout | undefined;
    // A limit, not an expectation: past it the run is stopped (its services with it) and the test fails.
    const code = await Promise.race([harness.exited, new Promise<'timeout'>((done) => (timer = setTimeout(() => done('timeout'), 420_000)))]);
    clearTimeout(timer);
    if (code === 'timeout') await harness.stop();
    const written = await readFile(json, 'utf8').catch(() => null);
    if (!written) {
      const output = await readFile(logFile, 'utf8').catch(() => '');
      throw new Error(`the ingest benchmark ${code === 'timeout' ? 'did not finish in 7 minutes' : `exited with ${code}`} without figures:\n${output}`);
    }
    report = JSON.parse(written) as typeof report;
  }, 480_000);

  afterAll(async () => {
    await harness?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('stores every acknowledged event exactly once in every phase, and answers each re-send as a duplicate', () => {
    expect(report.checks.map((c) => c.phase)).toEqual(PHASES);
    for (const check of report.checks) {
      expect({ phase: check.phase, problems: check.problems }).toEqual({ phase: check.phase, problems: [] });
      expect(check.sent).toBeGreaterThanOrEqual(EVENTS);
      expect(check.stored).toBe(check.distinct);
      expect(check.accepted).toBe(check.distinct);
      expect(check.duplicates).toBe(check.resent);
    }
    expect(report.exactlyOnce).toBe(true);
  });

  it('re-sent some events in every phase, so the duplicate path was exercised', () => {
    for (const check of report.checks) expect({ phase: check.phase, resent: check.resent > 0 }).toEqual({ phase: check.phase, resent: true });
  });
});
