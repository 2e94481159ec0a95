import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { Pool } from 'pg';
import { GroupCommitWriter, usagePool } from '../api/usage-ingest';
import { Subscription } from '../db/entities/subscription';
import { migrate, openOrm, type Orm } from '../db/orm';
import { aggregateUsage, type UsageEventRow } from '../db/usage-store';
import type { Aggregation } from '../domain/usage';
import { startEmbeddedPostgres } from '../scripts/embedded-postgres';
import { startService, type ServiceProcess } from '../scripts/service-process';
import { startTemporalDevServer } from '../scripts/temporal-dev-server';
import { freePort } from '../scripts/wait-for-port';
import { createBillingWorker } from '../workers/billing-worker';
import { perennialClient, type Schemas } from '../client';
import { RawHttpConnection } from './support/raw-http';
import { CpuMeter, describeCpu, type CpuSample, type CpuUse } from './support/cpu-meter';

/**
 * How fast usage events are ingested, and how fast a period's usage is aggregated. Real Postgres
 * (fsync and synchronous_commit on, as in production) and the real API in its own process, so the
 * load generator does not share its event loop or its core. Phases, each followed by a check that
 * every acknowledged event is stored exactly once:
 *   1. API, batches of `batch` events ({events: [...]}) over `connections` keep-alive connections
 *   2. API, one event per request ({event: {...}}) over `single_connections` connections
 *   3. the API's storage path without HTTP (GroupCommitWriter + ingest_usage_events, same pool), to
 *      tell the cost of HTTP and validation apart from the cost of the SQL function
 *   4. the raw ceiling: multi-row INSERT ... ON CONFLICT DO NOTHING from Node, same batches and concurrency
 * then 5. aggregateUsage (sum, weighted_sum, count) over one subscription's period of `agg_events` events.
 * Each ingest phase starts from the same `background` events. Each phase also prints the cores used by the
 * API, Postgres and this process and by anything else on the machine: on a shared machine, the
 * events per CPU-second of our own processes compare between runs where events/s do not.
 * Prints figures; the only assertion is the exactly-once check (exit code 1 when it fails).
 *   npm run bench:ingest -- [seconds=20] [connections=32] [single_connections=64] [apis=1] [batch=100]
 *                            [subscriptions=200] [duplicates=0.05] [warmup=3] [background=1000000] [agg_events=1000000]
 *                            [max_events=0] [cpu_prof=0] [cpu_prof_dir=<dir>] [node_http=0] [json=<file>]
 * json=<file> also writes the figures and the checks there (test/e2e/ingest-bench.test.ts reads it).
 */
const DEFAULTS = {
  seconds: 20,
  warmup: 3,
  // Measured on 2 cores: 16 leaves ~0.2 of a core idle; 32 is where the raw ceiling peaks (64 makes
  // its concurrent commits contend) and the API gains 10% for twice the latency; 64 adds 12% more.
  connections: 32,
  single_connections: 64,
  apis: 1,
  batch: 100,
  subscriptions: 200,
  duplicates: 0.05,
  background: 1_000_000,
  agg_events: 1_000_000,
  // Each ingest phase ends after this many events have been sent (0: when `seconds` are over), so a
  // small run checks exactly-once on a known number of events, however slow the machine is.
  max_events: 0,
  // 1: the API processes write V8 CPU profiles (--cpu-prof) into cpu_prof_dir, or a directory printed at the end.
  cpu_prof: 0,
  // 1: the load generator sends through node:http (an Agent per API) instead of writing requests out in bytes.
  node_http: 0,
};
type Options = typeof DEFAULTS & { json: string | null; cpu_prof_dir: string | null };

function parseArgs(argv: string[]): Options {
  const options: Options = { ...DEFAULTS, json: null, cpu_prof_dir: null };
  for (const arg of argv) {
    const at = arg.indexOf('=');
    const [key, value] = at < 0 ? [arg, undefined] : [arg.slice(0, at), arg.slice(at + 1)];
    if ((key === 'json' || key === 'cpu_prof_dir') && value) {
      options[key] = resolve(value);
      continue;
    }
    if (!(key in DEFAULTS) || value === undefined || !Number.isFinite(Number(value))) {
      throw new Error(`unknown or malformed argument "${arg}"; use json=<file>, cpu_prof_dir=<dir> or key=number with key one of ${Object.keys(DEFAULTS).join(', ')}`);
    }
    options[key as keyof typeof DEFAULTS] = Number(value);
  }
  return options;
}

const KEY = 'sk_bench_ingest_admin_0193';
const ROOT = resolve(__dirname, '..');
const PROGRESS_EVERY_MS = 5_000;

// ---------------------------------------------------------------------------------------------
// Events. Everything about an event derives from its sequence number, so a re-sent transaction id
// is the same event (subscription, value), as a producer's retry would be, and the expected totals
// are known without keeping the ids.

interface Sub {
  id: string;
  externalId: string;
}

const tokensOf = (seq: number): number => ((seq * 7919) % 1000) + 1;

/** A bijective 32-bit mix: ids land all over the primary key's b-tree, as UUIDs from producers do. */
function scramble(seq: number): string {
  let x = seq >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0).toString(16).padStart(8, '0');
}

/**
 * Hands out sequence numbers for one phase: mostly fresh ones, and a share of re-sends of any id
 * already handed out, including ids of requests still in flight (the race the API must get right).
 */
class EventSource {
  private next = 0;
  fresh = 0;
  resent = 0;
  tokenSum = 0;
  /**
   * An event's timestamp derives from its sequence number too: a re-send with another timestamp
   * would be another event under the same id, refused as a conflict. An hour of seconds from the
   * phase's start, formatted once.
   */
  private readonly timestamps: string[];

  constructor(
    readonly tag: string,
    readonly subscriptions: readonly Sub[],
    private readonly duplicateShare: number,
  ) {
    const start = Math.floor(Date.now() / 1000) * 1000;
    this.timestamps = Array.from({ length: 3600 }, (_, i) => new Date(start + i * 1000).toISOString());
  }

  /** How many sequence numbers have been handed out as fresh events. */
  get handedOut(): number {
    return this.next;
  }

  /** Fresh events and re-sends handed out. */
  get sent(): number {
    return this.fresh + this.resent;
  }

  timestamp(seq: number): string {
    return this.timestamps[seq % this.timestamps.length];
  }

  take(): number {
    if (this.next > 0 && Math.random() < this.duplicateShare) {
      this.resent++;
      return Math.floor(Math.random() * this.next);
    }
    const seq = this.next++;
    this.fresh++;
    this.tokenSum += tokensOf(seq);
    return seq;
  }

  transactionId(seq: number): string {
    return `${this.tag}_${scramble(seq)}_${seq.toString(36)}`;
  }

  subscriptionOf(seq: number): Sub {
    return this.subscriptions[seq % this.subscriptions.length];
  }

  /** The event as a producer sends it: half by subscription id, half by external id. */
  json(seq: number): string {
    const sub = this.subscriptionOf(seq);
    const timestamp = this.timestamp(seq);
    const ref = seq % 2 === 0 ? `"subscription_id":"${sub.id}"` : `"external_subscription_id":"${sub.externalId}"`;
    return `{"transaction_id":"${this.transactionId(seq)}",${ref},"code":"tokens","timestamp":"${timestamp}","properties":{"tokens":"${tokensOf(seq)}","model":"model-${seq % 4}"}}`;
  }

  /** The event as the API stores it (validated, subscription and metric resolved). */
  row(seq: number, metricId: string): UsageEventRow {
    const tokens = String(tokensOf(seq));
    return { transaction_id: this.transactionId(seq), subscription_id: this.subscriptionOf(seq).id, metric_id: metricId, timestamp: this.timestamp(seq), value: tokens, properties: { tokens, model: `model-${seq % 4}` } };
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP: node:http with keep-alive agents, one connection per concurrent request.

interface HttpAnswer {
  status: number;
  text: string;
}

function post(agent: http.Agent, port: number, path: string, body: string): Promise<HttpAnswer> {
  return new Promise((done, fail) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => done({ status: response.statusCode ?? 0, text }));
        response.on('error', fail);
      },
    );
    request.on('error', fail);
    request.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// A load phase: `connections` loops send as fast as answers come back. The first `warmup` seconds
// (JIT, pools, caches) are excluded from the figures but their events are checked like the rest.

interface Outcome {
  events: number;
  accepted: number;
  duplicates: number;
  rejected: number;
}

interface PhaseResult {
  name: string;
  connections: number;
  seconds: number;
  requests: number;
  events: number;
  latencies: number[];
  totals: Outcome;
  failures: number;
  firstFailure?: string;
  cpu: CpuUse | null;
}

async function runPhase(
  name: string,
  connections: number,
  options: Options,
  meter: CpuMeter,
  source: EventSource,
  send: (connection: number) => Promise<Outcome>,
): Promise<PhaseResult> {
  const started = performance.now();
  const windowStart = started + options.warmup * 1000;
  const end = windowStart + options.seconds * 1000;
  const totals: Outcome = { events: 0, accepted: 0, duplicates: 0, rejected: 0 };
  const latencies: number[] = [];
  let events = 0;
  let failures = 0;
  let firstFailure: string | undefined;
  let cpuAtStart: CpuSample | undefined;
  let lastEvents = 0;
  let lastAt = windowStart;
  const progress = setInterval(() => {
    const now = performance.now();
    if (now < windowStart) return;
    const rate = ((events - lastEvents) / (now - lastAt)) * 1000;
    console.log(`  ${name}: ${((now - windowStart) / 1000).toFixed(0)}/${options.seconds} s, ${events.toLocaleString('en-US')} events, ${Math.round(rate).toLocaleString('en-US')} events/s lately`);
    lastEvents = events;
    lastAt = now;
  }, PROGRESS_EVERY_MS);
  const warmupOver = setTimeout(() => (cpuAtStart = meter.sample()), options.warmup * 1000);
  const over = () => performance.now() >= end || (options.max_events > 0 && source.sent >= options.max_events);
  const loop = async (connection: number) => {
    while (!over()) {
      const t0 = performance.now();
      try {
        const outcome = await send(connection);
        const t1 = performance.now();
        totals.events += outcome.events;
        totals.accepted += outcome.accepted;
        totals.duplicates += outcome.duplicates;
        totals.rejected += outcome.rejected;
        // Counted by completion time, so the rate is what was acknowledged inside the window.
        if (t1 >= windowStart && t1 <= end) {
          latencies.push(t1 - t0);
          events += outcome.events;
        }
      } catch (error) {
        failures++;
        firstFailure ??= error instanceof Error ? error.message : String(error);
        await new Promise((r) => setTimeout(r, 10)); // no hot loop against a dead server
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, i) => loop(i)));
  const cpuAtEnd = meter.sample();
  // Stopped by max_events: the rate is over the time it took.
  const seconds = Math.min(options.seconds, Math.max(0.001, (performance.now() - windowStart) / 1000));
  clearInterval(progress);
  clearTimeout(warmupOver);
  return {
    name,
    connections,
    seconds,
    requests: latencies.length,
    events,
    latencies,
    totals,
    failures,
    firstFailure,
    cpu: cpuAtStart ? CpuMeter.between(cpuAtStart, cpuAtEnd) : null,
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface Figures {
  perSecond: number;
  unit: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
}

function figures(result: PhaseResult, unit: 'events' | 'requests'): Figures {
  const sorted = [...result.latencies].sort((a, b) => a - b);
  const requestsPerSecond = result.requests / result.seconds;
  return { perSecond: unit === 'events' ? result.events / result.seconds : requestsPerSecond, unit: `${unit}/s`, requestsPerSecond, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function printPhase(result: PhaseResult, f: Figures): void {
  console.log(`  ${result.name}: ${fmt(f.perSecond)} ${f.unit} (${fmt(f.requestsPerSecond)} requests/s), latency p50 ${f.p50.toFixed(1)} ms, p99 ${f.p99.toFixed(1)} ms, ${result.connections} connections, ${result.seconds} s`);
  if (!result.cpu) return;
  console.log(`    ${describeCpu(result.cpu)}`);
  // Per CPU-second of our own processes: comparable between runs even when others share the machine.
  console.log(`    ${fmt(f.perSecond / result.cpu.ours)} ${f.unit.replace('/s', '')} per CPU-second of API + Postgres + bench`);
  const api = [...result.cpu.groups].filter(([name]) => name.startsWith('api')).reduce((n, [, cores]) => n + cores, 0);
  const postgres = result.cpu.groups.get('postgres') ?? 0;
  // What each event costs each side, in CPU: the figure a change to one side moves, busy machine or not.
  const unit = f.unit === 'events/s' ? 'event' : 'request';
  console.log(`    CPU per ${unit}: API ${((api / f.perSecond) * 1e6).toFixed(1)} µs, Postgres ${((postgres / f.perSecond) * 1e6).toFixed(1)} µs`);
}

// ---------------------------------------------------------------------------------------------
// Exactly once: what a phase added to usage_events must be what was acknowledged as accepted, which
// must be every distinct transaction id sent; each re-send must be answered as a duplicate.

interface StoreTotals {
  rows: number;
  tokens: number;
}

/**
 * Each ingest phase starts from the same usage_events: `background` earlier events spread over the
 * subscriptions, vacuumed and analysed, as in a system that has been running for a while. So the
 * phases compare like for like (inserting into a b-tree of millions of random ids costs more than
 * into an empty one), and plans are made for a table of realistic size. background=0 starts each
 * phase from an empty table instead.
 */
async function resetUsageEvents(pool: Pool, subscriptions: readonly Sub[], metricId: string, background: number): Promise<StoreTotals> {
  const started = performance.now();
  await pool.query('truncate usage_events, usage_event_ids');
  const chunk = 250_000;
  for (let from = 0; from < background; from += chunk) {
    // Their ids too: the ingest function claims each id in usage_event_ids, a b-tree as large as the history.
    await pool.query(
      `with background as (
         select 'bg_' || md5(g::text) as transaction_id, ($1::text[])[1 + g % cardinality($1::text[])] as subscription_id, $2::text as metric_id,
                now() - (g % 86400) * interval '1 second' as "timestamp", ((g * 7919) % 1000 + 1)::text as value,
                jsonb_build_object('tokens', ((g * 7919) % 1000 + 1)::text, 'model', 'model-' || g % 4) as properties
         from generate_series($3::bigint, $4::bigint) g
       ), ids as (
         insert into usage_event_ids (transaction_id, subscription_id, metric_id, "timestamp") select transaction_id, subscription_id, metric_id, "timestamp" from background
       )
       insert into usage_events (transaction_id, subscription_id, metric_id, "timestamp", value, properties)
       select transaction_id, subscription_id, metric_id, "timestamp", value, properties from background`,
      [subscriptions.map((s) => s.id), metricId, from, Math.min(background, from + chunk) - 1],
    );
  }
  await pool.query('vacuum analyze usage_events, usage_event_ids');
  if (background > 0) console.log(`  usage_events reset to ${fmt(background)} background events, vacuumed and analysed, ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return storeTotals(pool);
}

async function storeTotals(pool: Pool): Promise<StoreTotals> {
  const { rows } = await pool.query<{ n: string; tokens: string | null }>(`select count(*) as n, sum(value::numeric) as tokens from usage_events`);
  return { rows: Number(rows[0].n), tokens: Number(rows[0].tokens ?? 0) };
}

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

const checks: Check[] = [];

async function checkExactlyOnce(pool: Pool, before: StoreTotals, result: PhaseResult, source: EventSource): Promise<boolean> {
  const after = await storeTotals(pool);
  const stored = after.rows - before.rows;
  const tokens = after.tokens - before.tokens;
  const problems: string[] = [];
  if (result.failures > 0) problems.push(`${result.failures} requests failed (first: ${result.firstFailure})`);
  if (result.totals.rejected > 0) problems.push(`${result.totals.rejected} events rejected`);
  if (result.totals.accepted !== source.fresh) problems.push(`${fmt(result.totals.accepted)} acknowledged as accepted but ${fmt(source.fresh)} distinct transaction ids sent`);
  if (result.totals.duplicates !== source.resent) problems.push(`${fmt(result.totals.duplicates)} reported as duplicates but ${fmt(source.resent)} re-sent`);
  if (stored !== result.totals.accepted) problems.push(`${fmt(stored)} rows stored but ${fmt(result.totals.accepted)} acknowledged as accepted`);
  if (tokens !== source.tokenSum) problems.push(`stored tokens sum to ${fmt(tokens)} but the distinct events carry ${fmt(source.tokenSum)}`);
  checks.push({ phase: result.name, sent: source.sent, stored, distinct: source.fresh, accepted: result.totals.accepted, duplicates: result.totals.duplicates, resent: source.resent, problems });
  if (problems.length > 0) {
    console.log(`  CHECK FAILED (${result.name}): ${problems.join('; ')}`);
    return false;
  }
  console.log(
    `  check (${result.name}): ${fmt(stored)} rows = ${fmt(source.fresh)} distinct ids acknowledged as accepted, ${fmt(source.resent)} re-sends answered as duplicates and stored once: no event lost or double counted`,
  );
  return true;
}

// ---------------------------------------------------------------------------------------------

interface Stack {
  pool: Pool;
  orm: Orm;
}

/** Plan, metrics, customers and subscriptions through the API (its typed client), as an operator would create them. */
async function setUp(port: number, count: number): Promise<{ subscriptions: Sub[]; aggregated: Sub }> {
  const api = perennialClient(`http://127.0.0.1:${port}`, KEY);
  const created = <T>({ data, error, response }: { data?: T; error?: unknown; response: Response }): T => {
    if (response.status !== 201 || !data) throw new Error(`${response.url}: ${response.status} ${JSON.stringify(error)}`);
    return data;
  };
  created(await api.POST('/v1/metrics', { body: { code: 'tokens', name: 'Tokens', aggregation: 'sum', field: 'tokens' } }));
  created(await api.POST('/v1/metrics', { body: { code: 'seats', name: 'Seats', aggregation: 'weighted_sum', field: 'seats' } }));
  created(await api.POST('/v1/metrics', { body: { code: 'calls', name: 'Calls', aggregation: 'count' } }));
  created(
    await api.POST('/v1/plans', {
      body: {
        code: 'usage',
        name: 'Usage',
        currency: 'USD',
        interval: 'month',
        amount: '10.00',
        charges: [
          { metric_code: 'tokens', model: 'standard', properties: { unit_amount: '0.0015' } },
          { metric_code: 'seats', model: 'standard', properties: { unit_amount: '5.00' } },
          { metric_code: 'calls', model: 'standard', properties: { unit_amount: '0.0001' } },
        ],
      },
    }),
  );
  // One more than asked: the last takes the aggregation phase's million events, and nothing else.
  const subscriptions: Sub[] = [];
  let next = 0;
  const create = async () => {
    for (let i = next++; i <= count; i = next++) {
      const customer = created(await api.POST('/v1/customers', { body: { name: `Customer ${i}`, email: `c${i}@bench.test`, currency: 'USD' } }));
      const externalId = `ext-${i}`;
      const subscription = created(await api.POST('/v1/subscriptions', { body: { customer_id: customer.id, plan_code: 'usage', external_id: externalId } }));
      subscriptions[i] = { id: subscription.id, externalId };
    }
  };
  await Promise.all(Array.from({ length: 8 }, create));
  return { subscriptions: subscriptions.slice(0, count), aggregated: subscriptions[count] };
}

async function startApis(count: number, env: NodeJS.ProcessEnv, profileDir: string | null): Promise<{ apis: ServiceProcess[]; ports: number[] }> {
  const apis: ServiceProcess[] = [];
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const port = await freePort();
    const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    const api = startService(count === 1 ? 'api' : `api${i + 1}`, process.execPath, [...profile, '--import', 'tsx', 'api/server.ts'], { cwd: ROOT, env: { ...env, PORT: String(port) } });
    apis.push(api);
    ports.push(port);
    await api.printed('api: listening');
  }
  return { apis, ports };
}

async function aggregationPhase(stack: Stack, aggregated: Sub, metricId: string, total: number): Promise<Array<{ aggregation: Aggregation; first: number; median: number; quantity: string; events: number }>> {
  const subscription = await stack.orm.em.fork().findOneOrFail(Subscription, { id: aggregated.id });
  const window = { start: subscription.currentPeriodStart!, end: subscription.currentPeriodEnd! };
  console.log(`aggregation: loading ${fmt(total)} events into ${aggregated.id}, period ${window.start.toISOString()} .. ${window.end.toISOString()}`);
  // generate_series rather than the API: this phase measures reading a period, not writing one.
  const stepMs = (window.end.getTime() - window.start.getTime()) / total;
  const chunk = 100_000;
  const loadStarted = performance.now();
  for (let from = 0; from < total; from += chunk) {
    await stack.pool.query(
      `insert into usage_events (transaction_id, subscription_id, metric_id, "timestamp", value, properties)
       select 'agg_' || g, $1, $2, $3::timestamptz + (g * $4::double precision) * interval '1 millisecond',
              ((g * 7919) % 1000 + 1)::text, jsonb_build_object('tokens', ((g * 7919) % 1000 + 1)::text)
       from generate_series($5::bigint, $6::bigint) g`,
      [aggregated.id, metricId, window.start, stepMs, from, Math.min(total, from + chunk) - 1],
    );
    console.log(`  ${fmt(Math.min(total, from + chunk))}/${fmt(total)} events loaded, ${((performance.now() - loadStarted) / 1000).toFixed(1)} s`);
  }
  const vacuumStarted = performance.now();
  await stack.pool.query('vacuum analyze usage_events');
  console.log(`  vacuum analyze usage_events: ${((performance.now() - vacuumStarted) / 1000).toFixed(1)} s`);
  let expectedSum = 0;
  for (let g = 0; g < total; g++) expectedSum += tokensOf(g);
  const results = [];
  // The same million rows read as each aggregation: only the SQL differs, not the data.
  for (const aggregation of ['sum', 'weighted_sum', 'count'] as const) {
    const times: number[] = [];
    let last = { quantity: '', events: 0 };
    for (let run = 0; run < 3; run++) {
      const t0 = performance.now();
      const usage = await aggregateUsage(stack.orm.em.fork(), aggregated.id, { id: metricId, aggregation }, window);
      times.push((performance.now() - t0) / 1000);
      last = { quantity: usage.quantity.toFixed(), events: usage.eventCount };
    }
    const expected = aggregation === 'sum' ? ` (expected ${expectedSum})` : aggregation === 'count' ? ` (expected ${total})` : '';
    console.log(`  aggregateUsage ${aggregation}: first ${times[0].toFixed(3)} s, median of 3 ${[...times].sort()[1].toFixed(3)} s; quantity ${last.quantity}${expected}, ${fmt(last.events)} events`);
    results.push({ aggregation, first: times[0], median: [...times].sort()[1], quantity: last.quantity, events: last.events });
  }
  return results;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const scratch = await mkdtemp(join(tmpdir(), 'perennial-bench-'));
  const cleanups: Array<() => Promise<unknown>> = [() => rm(scratch, { recursive: true, force: true })];
  const cleanUp = async () => {
    for (const step of cleanups.reverse()) await step().catch((error: unknown) => console.error('cleanup:', error));
  };
  let allExact = true;
  try {
    const profileDir = options.cpu_prof ? (options.cpu_prof_dir ?? (await mkdtemp(join(tmpdir(), 'perennial-ingest-profile-')))) : null;
    if (profileDir) console.log(`the API processes write CPU profiles (.cpuprofile) into ${profileDir} when they stop`);
    const pgDir = join(scratch, 'pg');
    const postgres = await startEmbeddedPostgres({ dataDir: pgDir, port: await freePort(), database: 'bench' });
    cleanups.push(() => postgres.stop());
    const temporalPort = await freePort();
    const temporal = await startTemporalDevServer({ port: temporalPort, logFile: join(scratch, 'temporal.log') });
    cleanups.push(() => temporal.stop());
    const orm = await openOrm(postgres.url);
    cleanups.push(() => orm.close());
    await migrate(orm);
    const pool = new Pool({ connectionString: postgres.url, max: Math.max(options.connections, 2) });
    cleanups.push(() => pool.end());

    const settings = await pool.query<{ name: string; setting: string; unit: string | null }>(
      `select name, setting, unit from pg_settings where name in ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'max_wal_size', 'commit_delay') order by name`,
    );
    const settingsLine = settings.rows.map((s) => `${s.name}=${s.setting}${s.unit && s.unit !== 'ms' ? ` (${s.unit})` : ''}`).join(', ');
    const version = (await pool.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0].v;
    console.log(`postgres ${version}: ${settingsLine}`);

    // The subscriptions' workflows issue their first invoice at start; they need a worker.
    const address = `127.0.0.1:${temporalPort}`;
    const nativeConnection = await NativeConnection.connect({ address });
    cleanups.push(() => nativeConnection.close());
    const worker = await createBillingWorker({ connection: nativeConnection, namespace: 'default', taskQueue: 'bench', orm });
    const running = worker.run();
    cleanups.push(async () => {
      // On Ctrl-C the Temporal runtime has already stopped it.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });

    const { apis, ports } = await startApis(options.apis, {
      ...process.env,
      DATABASE_URL: postgres.url,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TASK_QUEUE: 'bench',
      BILLING_API_KEYS: `admin:${KEY}`,
    }, profileDir);
    cleanups.push(() => Promise.all(apis.map((api) => api.stop())));
    const postmaster = Number(readFileSync(join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const meter = new CpuMeter([
      ...apis.map((api) => ({ name: api.name, pid: api.child.pid! })),
      { name: 'postgres', pid: postmaster },
      { name: 'temporal', pid: temporal.child.pid! },
      { name: 'bench (load generator, idle worker)', pid: process.pid },
    ]);
    const stack: Stack = { pool, orm };

    const setupStarted = performance.now();
    const { subscriptions, aggregated } = await setUp(ports[0], options.subscriptions);
    // Wait for every first invoice, so the worker is idle before anything is measured.
    for (;;) {
      const { rows } = await pool.query<{ n: string }>('select count(*) as n from invoices');
      if (Number(rows[0].n) >= subscriptions.length + 1) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    console.log(`setup: ${subscriptions.length + 1} subscriptions on ${options.apis} API process(es), first invoices issued, ${((performance.now() - setupStarted) / 1000).toFixed(1)} s`);
    const { rows: metricRows } = await pool.query<{ id: string }>(`select id from billable_metrics where code = 'tokens'`);
    const metricId = metricRows[0].id;

    // One keep-alive agent per API process; connection i always talks to process i mod apis.
    const agents = ports.map(() => new http.Agent({ keepAlive: true, maxSockets: Math.max(options.connections, options.single_connections) }));
    cleanups.push(async () => agents.forEach((a) => a.destroy()));
    const raw = Array.from({ length: Math.max(options.connections, options.single_connections) }, (_, c) => new RawHttpConnection('127.0.0.1', ports[c % ports.length]));
    cleanups.push(async () => raw.forEach((r) => r.close()));
    const head = `POST /v1/usage_events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\n`;
    const apiPhase = async (name: string, tag: string, connections: number, batch: number): Promise<PhaseResult> => {
      const source = new EventSource(tag, subscriptions, options.duplicates);
      const before = await resetUsageEvents(pool, subscriptions, metricId, options.background);
      console.log(`${name}: ${connections} connections, ${options.warmup} s warmup + ${options.seconds} s`);
      const result = await runPhase(name, connections, options, meter, source, async (c) => {
        const seqs = Array.from({ length: batch }, () => source.take());
        const body = batch === 1 ? `{"event":${source.json(seqs[0])}}` : `{"events":[${seqs.map((s) => source.json(s)).join(',')}]}`;
        const answer = options.node_http ? await post(agents[c % agents.length], ports[c % ports.length], '/v1/usage_events', body) : await raw[c].request(head, body);
        if (answer.status !== 202) throw new Error(`HTTP ${answer.status}: ${answer.text.slice(0, 300)}`);
        // The hot loop writes its bodies by hand over node:http (the client's overhead would be measured too); the answer is typed from the document.
        const parsed = JSON.parse(answer.text) as Schemas['UsageEventBatch'];
        return { events: batch, accepted: parsed.accepted, duplicates: parsed.duplicates, rejected: parsed.rejected.length };
      });
      allExact = (await checkExactlyOnce(pool, before, result, source)) && allExact;
      return result;
    };

    const batchResult = await apiPhase('API, batches', 'b', options.connections, options.batch);
    const batchFigures = figures(batchResult, 'events');
    printPhase(batchResult, batchFigures);

    const singleResult = await apiPhase('API, single events', 's', options.single_connections, 1);
    const singleFigures = figures(singleResult, 'requests');
    printPhase(singleResult, singleFigures);

    // The API's own writer and pool (max 4, group commit) in this process: the storage path alone.
    const writerPool = usagePool(postgres.url);
    cleanups.push(() => writerPool.end());
    const writer = new GroupCommitWriter(writerPool);
    const writerSource = new EventSource('w', subscriptions, options.duplicates);
    let before = await resetUsageEvents(pool, subscriptions, metricId, options.background);
    console.log(`storage path without HTTP (GroupCommitWriter + ingest_usage_events): ${options.connections} concurrent batches of ${options.batch}`);
    const writerResult = await runPhase('writer, batches', options.connections, options, meter, writerSource, async () => {
      const rows = Array.from({ length: options.batch }, () => writerSource.row(writerSource.take(), metricId));
      const outcomes = await writer.write(rows);
      const accepted = outcomes.filter((o) => o === 'accepted').length;
      const duplicates = outcomes.filter((o) => o === 'duplicate').length;
      return { events: rows.length, accepted, duplicates, rejected: rows.length - accepted - duplicates };
    });
    allExact = (await checkExactlyOnce(pool, before, writerResult, writerSource)) && allExact;
    const writerFigures = figures(writerResult, 'events');
    printPhase(writerResult, writerFigures);

    // The ceiling: plain multi-row inserts, one statement and one commit per batch, no checks.
    const rawSource = new EventSource('r', subscriptions, options.duplicates);
    const columns = 6;
    const rowsOf = (types: string[]) =>
      Array.from({ length: options.batch }, (_, r) => `(${types.map((type, c) => `$${r * columns + c + 1}${type}`).join(',')})`).join(',');
    // A transaction id is unique across the monthly partitions through usage_event_ids: claimed there,
    // then stored in its month, as the ingest function does (once, when a batch repeats an id).
    const rawSql = `with claimed as (
        insert into usage_event_ids (transaction_id, subscription_id, metric_id, "timestamp") values ${rowsOf(['', '', '', ''])}
        on conflict (transaction_id) do nothing returning transaction_id
      )
      insert into usage_events (transaction_id, subscription_id, metric_id, "timestamp", value, properties)
      select distinct on (e.transaction_id) e.* from (values ${rowsOf(['::text', '::text', '::text', '::timestamptz', '::text', '::jsonb'])}) e (transaction_id, subscription_id, metric_id, "timestamp", value, properties)
      join claimed using (transaction_id)`;
    before = await resetUsageEvents(pool, subscriptions, metricId, options.background);
    console.log(`raw ceiling (multi-row insert ... on conflict do nothing): ${options.connections} connections, batches of ${options.batch}`);
    const rawResult = await runPhase('raw insert, batches', options.connections, options, meter, rawSource, async () => {
      // In transaction-id order, as the API's writer does: concurrent statements inserting the same
      // re-sent ids in different orders could otherwise deadlock.
      const rows = Array.from({ length: options.batch }, () => rawSource.row(rawSource.take(), metricId)).sort((a, b) => (a.transaction_id < b.transaction_id ? -1 : 1));
      const params = rows.flatMap((r) => [r.transaction_id, r.subscription_id, r.metric_id, r.timestamp, r.value, JSON.stringify(r.properties)]);
      const result = await pool.query(rawSql, params);
      const accepted = result.rowCount ?? 0;
      return { events: rows.length, accepted, duplicates: rows.length - accepted, rejected: 0 };
    });
    allExact = (await checkExactlyOnce(pool, before, rawResult, rawSource)) && allExact;
    const rawFigures = figures(rawResult, 'events');
    printPhase(rawResult, rawFigures);

    const aggregation = options.agg_events > 0 ? await aggregationPhase(stack, aggregated, metricId, options.agg_events) : [];
    const rowsAtEnd = (await storeTotals(pool)).rows;

    const line = (label: string, value: string) => console.log(`  ${label.padEnd(50)} ${value}`);
    const lat = (f: Figures) => `p50 ${f.p50.toFixed(1)} ms, p99 ${f.p99.toFixed(1)} ms`;
    const perCpu = (r: PhaseResult, f: Figures) => (r.cpu ? f.perSecond / r.cpu.ours : NaN);
    const cpuNote = (r: PhaseResult, f: Figures) => `, ${fmt(perCpu(r, f))} per CPU-s`;
    console.log('\n=== usage ingestion summary ===');
    line('machine', `${cpus().length} cores, Node ${process.version}, Postgres ${version}`);
    line('postgres settings', settingsLine);
    line('API processes / subscriptions / background', `${options.apis} / ${subscriptions.length}, duplicates ${(options.duplicates * 100).toFixed(0)}% re-sent, ${fmt(options.background)} background events`);
    line(`1. API, batches of ${options.batch} (${options.connections} conn)`, `${fmt(batchFigures.perSecond)} events/s (${fmt(batchFigures.requestsPerSecond)} req/s), ${lat(batchFigures)}${cpuNote(batchResult, batchFigures)}`);
    line(`2. API, single events (${options.single_connections} conn)`, `${fmt(singleFigures.perSecond)} requests/s, ${lat(singleFigures)}${cpuNote(singleResult, singleFigures)}`);
    line(`   storage path without HTTP (${options.connections} conn)`, `${fmt(writerFigures.perSecond)} events/s, ${lat(writerFigures)}${cpuNote(writerResult, writerFigures)}`);
    line(`3. raw insert ceiling (${options.connections} conn)`, `${fmt(rawFigures.perSecond)} events/s, ${lat(rawFigures)}${cpuNote(rawResult, rawFigures)}`);
    line(
      '   API / raw',
      `${(batchFigures.perSecond / rawFigures.perSecond).toFixed(2)}, per CPU-s ${(perCpu(batchResult, batchFigures) / perCpu(rawResult, rawFigures)).toFixed(2)} (storage path / raw ${(writerFigures.perSecond / rawFigures.perSecond).toFixed(2)})`,
    );
    const phases = [batchResult, singleResult, writerResult, rawResult];
    const others = phases.map((p) => p.cpu?.other ?? 0);
    line('other processes on the machine (cores)', `${others.map((o) => o.toFixed(2)).join(' / ')} during phases 1 / 2 / storage / 3`);
    if (Math.max(...others) > 0.2) console.log(`  WARNING: other processes took cores from this run; its figures understate the machine (compare the per CPU-second lines)`);
    line('4. exactly once (every phase)', allExact ? 'no event lost or double counted' : 'FAILED, see the check lines above');
    for (const a of aggregation) line(`5. aggregateUsage ${a.aggregation}, ${fmt(options.agg_events)} events`, `${a.median.toFixed(3)} s median (first ${a.first.toFixed(3)} s)`);
    line('usage_events rows at the end', fmt(rowsAtEnd));
    if (options.json) {
      const phase = (r: PhaseResult, f: Figures) => ({
        perSecond: f.perSecond,
        unit: f.unit,
        requestsPerSecond: f.requestsPerSecond,
        p50Ms: f.p50,
        p99Ms: f.p99,
        seconds: r.seconds,
        connections: r.connections,
        cores: r.cpu ? { ...Object.fromEntries(r.cpu.groups), other: r.cpu.other, idle: r.cpu.idle, iowait: r.cpu.iowait } : null,
      });
      const report = {
        options: { ...options, json: undefined },
        machine: { cores: cpus().length, node: process.version, postgres: version, settings: settingsLine },
        figures: {
          apiBatches: phase(batchResult, batchFigures),
          apiSingle: phase(singleResult, singleFigures),
          storagePath: phase(writerResult, writerFigures),
          rawCeiling: phase(rawResult, rawFigures),
          apiOverRaw: batchFigures.perSecond / rawFigures.perSecond,
          aggregation,
        },
        exactlyOnce: allExact,
        checks,
      };
      await writeFile(options.json, JSON.stringify(report, null, 2));
    }
  } finally {
    await cleanUp();
  }
  if (!allExact) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
