import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startService, type ServiceProcess } from '../../scripts/service-process';

/**
 * `npm run bench:idle` in small: 60 subscriptions asleep on one worker of the stack `npm start`
 * runs, created through the API, then the memory of the worker, the Temporal server and Postgres,
 * and reads of sleeping subscriptions through the API. The cache is set below the subscription
 * count so that the cold reads replay evicted workflows, as they do at full size. The bench runs as
 * the command does, in a process of its own (embedded Postgres is an ES module Jest's runtime cannot
 * load). Figures only: what is checked is that every subscription runs and the figures exist.
 */
const ROOT = resolve(__dirname, '../..');
const SUBSCRIPTIONS = 60;
const CACHE = 20;
const SAMPLE = 10;

interface Reads {
  reads: number;
  fromWorkflow: number;
}

interface Memory {
  worker: { rssBytes: number };
  temporal: { rssBytes: number };
  postgres: { rssBytes: number };
  cachedWorkflows: number | null;
}

interface Figures {
  subscriptions: number;
  cacheSetting: number;
  running: number;
  statesRecorded: number;
  creation: { perSecond: number };
  asleep: Memory;
  coldReads: Reads;
  warmReads: Reads;
}

describe('idle subscriptions bench: 60 subscriptions asleep on one worker', () => {
  let workDir: string;
  let bench: ServiceProcess | undefined;
  let figures: Figures;
  let report = '';

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'perennial-idle-test-'));
    const json = join(workDir, 'figures.json');
    const logFile = join(workDir, 'idle.log');
    bench = startService('idle', process.execPath, ['--import', 'tsx', 'bench/idle-subscriptions.ts', String(SUBSCRIPTIONS), `cache=${CACHE}`, `sample=${SAMPLE}`, `json=${json}`], { cwd: ROOT, logFile });
    let timer: NodeJS.Timeout | undefined;
    // A limit, not an expectation: past it the run is stopped (its services with it) and the test fails.
    const code = await Promise.race([bench.exited, new Promise<'timeout'>((done) => (timer = setTimeout(() => done('timeout'), 780_000)))]);
    clearTimeout(timer);
    if (code === 'timeout') await bench.stop();
    const output = await readFile(logFile, 'utf8').catch(() => '');
    const written = await readFile(json, 'utf8').catch(() => null);
    if (code !== 0 || !written) throw new Error(`the idle bench ${code === 'timeout' ? 'did not finish in 13 minutes' : `exited with ${code}`}:\n${output}`);
    ({ figures, report } = JSON.parse(written) as { figures: Figures; report: string });
  }, 840_000);

  afterAll(async () => {
    await bench?.stop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('has every subscription running as a workflow that recorded its state', () => {
    expect({ subscriptions: figures.subscriptions, running: figures.running, statesRecorded: figures.statesRecorded, cacheSetting: figures.cacheSetting }).toEqual({
      subscriptions: SUBSCRIPTIONS,
      running: SUBSCRIPTIONS,
      statesRecorded: SUBSCRIPTIONS,
      cacheSetting: CACHE,
    });
  });

  it('measured the worker, the Temporal server and Postgres, and printed them', () => {
    for (const rss of [figures.asleep.worker.rssBytes, figures.asleep.temporal.rssBytes, figures.asleep.postgres.rssBytes]) expect(rss).toBeGreaterThan(0);
    expect(figures.creation.perSecond).toBeGreaterThan(0);
    expect(report).toContain('worker RSS');
    expect(report).toContain('bound 1024 MiB');
  });

  it('read sleeping subscriptions from their workflows, with the cache holding no more than its setting', () => {
    expect(figures.coldReads).toMatchObject({ reads: SAMPLE, fromWorkflow: SAMPLE });
    expect(figures.warmReads).toMatchObject({ reads: SAMPLE, fromWorkflow: SAMPLE });
    expect(figures.asleep.cachedWorkflows).toBeLessThanOrEqual(CACHE);
  });
});
