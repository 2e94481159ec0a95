import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client as TemporalClient, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { Pool } from 'pg';
import { createApp } from '../api/app';
import { usagePool } from '../api/usage-ingest';
import { perennialClient } from '../client';
import { parseApiKeySpec } from '../config/env';
import { migrate, openOrm } from '../db/orm';
import { aggregateUsage, storeUsageEvents, type UsageEventRow } from '../db/usage-store';
import { usagePartitions } from '../db/usage-partitions';
import type { Aggregation } from '../domain/usage';
import { startEmbeddedPostgres } from '../scripts/embedded-postgres';
import { startTemporalDevServer } from '../scripts/temporal-dev-server';
import { freePort } from '../scripts/wait-for-port';
import { createBillingWorker } from '../workers/billing-worker';
import { CpuMeter, describeCpu, type CpuSample } from './support/cpu-meter';

/**
 * Usage events partitioned by month, at volume: `events` events spread over `months` calendar months
 * (the current one and those before it) and `subscriptions` subscriptions, generated inside Postgres,
 * their ids claimed in usage_event_ids as ingestion claims them. One real subscription, created
 * through the API (a Temporal workflow runs it), takes `heavy` of the bulk events (a large customer)
 * and `real` more through POST /v1/usage_events. Then:
 *   1. aggregateUsage of that subscription's current period (sum, count, weighted_sum, latest),
 *      `runs` times each: p50 and max, each beside the 1 s bound;
 *   2. ingest_usage_events (db/usage-store.ts storeUsageEvents) on batches of `batch` new events, and
 *      again on the same batches (every event a duplicate), beside the raw ceiling measured in the
 *      same run: the same batch claimed and stored by one plain statement, with no checks;
 *   3. EXPLAIN of the period's aggregation: the partitions scanned out of those that exist, with the
 *      parameters known at planning (as aggregateUsage runs) and with a generic plan (run-time pruning).
 * Checks (exit code 1 when one fails; json=<file> writes them with the figures): every generated and
 * ingested event stored once with its id claimed, the aggregation equal to the same sums computed from
 * the generator's formula without reading the table, fresh batches accepted, re-sent batches answered
 * as duplicates, and the period's plan scanning only the months it overlaps.
 *   npm run bench:usage-partitions -- [events=10000000] [months=6] [subscriptions=10000] [heavy=0.02]
 *                                     [real=20000] [runs=7] [batch=100] [json=<file>]
 */
const DEFAULTS = { events: 10_000_000, months: 6, subscriptions: 10_000, heavy: 0.02, real: 20_000, runs: 7, batch: 100 };
type Options = typeof DEFAULTS & { json: string | null };
const KEY = 'sk_bench_partitions_admin_5521';
const BOUND_SECONDS = 1;
const CHUNK = 1_000_000;

function parseArgs(argv: string[]): Options {
  const options: Options = { ...DEFAULTS, json: null };
  for (const arg of argv) {
    const [key, value] = arg.split('=');
    if (key === 'json' && value) options.json = value;
    else if (key in DEFAULTS && value !== undefined && Number.isFinite(Number(value))) (options as Record<string, unknown>)[key] = Number(value);
    else throw new Error(`unknown or malformed argument "${arg}"; use json=<file> or key=number with key one of ${Object.keys(DEFAULTS).join(', ')}`);
  }
  if (options.months < 1 || options.subscriptions < 1 || options.heavy < 0 || options.heavy >= 1) throw new Error('months and subscriptions must be at least 1, heavy in [0, 1)');
  return options;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const seconds = (ms: number) => (ms / 1000).toFixed(3);
const monthStart = (offset: number): Date => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
};
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
};

/**
 * The bulk events, as SQL over generate_series(g): event g belongs to the real subscription when its
 * scrambled number falls in the first `heavy` share, else to one of the synthetic ones; its instant
 * is scrambled over [from, to). Written once, used both to insert and to compute what the real
 * subscription's period must add up to without reading the table.
 */
function generator(realId: string, options: Options, from: Date, to: Date) {
  const span = to.getTime() - from.getTime();
  const heavyCut = Math.round(options.heavy * 1_000_000);
  return {
    params: [realId, from.toISOString(), span, heavyCut, options.subscriptions],
    // $1 real subscription, $2 from, $3 span (ms), $4 heavy cut (per million), $5 synthetic subscriptions
    subscription: `case when (g * 7919) % 1000000 < $4 then $1::text else 'sub_bulk_' || (g % $5::bigint)::text end`,
    // A multiplier far larger than the span, so consecutive events land all over it.
    timestamp: `$2::timestamptz + ((g * 2654435761) % $3::bigint) * interval '1 millisecond'`,
    value: `((g * 31) % 1000 + 1)::text`,
  };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const scratch = await mkdtemp(join(tmpdir(), 'perennial-partitions-bench-'));
  const cleanups: Array<() => Promise<unknown>> = [() => rm(scratch, { recursive: true, force: true })];
  const cleanUp = async () => {
    for (const step of cleanups.reverse()) await step().catch((error: unknown) => console.error('cleanup:', error));
  };
  const onSignal = () => void cleanUp().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => {
    console.log(`  check: ${ok ? 'ok' : 'FAILED'}: ${what}`);
    if (!ok) problems.push(what);
  };
  const report: Record<string, unknown> = { options };
  try {
    const pgDir = join(scratch, 'pg');
    const postgres = await startEmbeddedPostgres({ dataDir: pgDir, port: await freePort(), database: 'bench' });
    cleanups.push(() => postgres.stop());
    const temporalPort = await freePort();
    const temporal = await startTemporalDevServer({ port: temporalPort, logFile: join(scratch, 'temporal.log') });
    cleanups.push(() => temporal.stop());
    const orm = await openOrm(postgres.url);
    cleanups.push(() => orm.close());
    await migrate(orm);
    const pool = new Pool({ connectionString: postgres.url, max: 4 });
    cleanups.push(() => pool.end());
    const version = (await pool.query<{ v: string }>(`select current_setting('server_version') as v`)).rows[0].v;
    const postmaster = Number(readFileSync(join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const meter = new CpuMeter([
      { name: 'postgres', pid: postmaster },
      { name: 'temporal', pid: temporal.child.pid! },
      { name: 'bench (API, worker, client)', pid: process.pid },
    ]);

    // The real subscription, as an operator makes it: through the API, its workflow on a worker.
    const address = `127.0.0.1:${temporalPort}`;
    const native = await NativeConnection.connect({ address });
    cleanups.push(() => native.close());
    const worker = await createBillingWorker({ connection: native, namespace: 'default', taskQueue: 'bench', orm });
    const running = worker.run();
    cleanups.push(async () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    });
    const connection = await Connection.connect({ address });
    cleanups.push(() => connection.close());
    const ingestPool = usagePool(postgres.url);
    cleanups.push(() => ingestPool.end());
    const app = createApp({ orm, temporal: new TemporalClient({ connection }), taskQueue: 'bench', apiKeys: parseApiKeySpec(`admin:${KEY}`), usagePool: ingestPool });
    const server = http.createServer(app);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    cleanups.push(() => new Promise((done) => server.close(done)));
    const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const api = perennialClient(baseUrl, KEY);
    const created = <T>({ data, error, response }: { data?: T; error?: unknown; response: Response }): T => {
      if (response.status !== 201 || !data) throw new Error(`${response.url}: ${response.status} ${JSON.stringify(error)}`);
      return data;
    };
    const metrics: Array<{ code: string; aggregation: Aggregation; field?: string }> = [
      { code: 'tokens', aggregation: 'sum', field: 'tokens' },
      { code: 'calls', aggregation: 'count' },
      { code: 'seats', aggregation: 'weighted_sum', field: 'seats' },
      { code: 'gauge', aggregation: 'latest', field: 'level' },
    ];
    for (const m of metrics) created(await api.POST('/v1/metrics', { body: { code: m.code, name: m.code, aggregation: m.aggregation, ...(m.field ? { field: m.field } : {}) } }));
    created(
      await api.POST('/v1/plans', {
        body: { code: 'usage', name: 'Usage', currency: 'USD', interval: 'month', amount: '10.00', charges: metrics.map((m) => ({ metric_code: m.code, model: 'standard' as const, properties: { unit_amount: '0.001' } })) },
      }),
    );
    const customer = created(await api.POST('/v1/customers', { body: { name: 'Heavy user', email: 'heavy@bench.test', currency: 'USD' } }));
    // Its period is the current calendar month, so its events sit in one partition among the months.
    const periodStart = monthStart(0);
    const periodEnd = monthStart(1);
    const subscription = created(await api.POST('/v1/subscriptions', { body: { customer_id: customer.id, plan_code: 'usage', start_at: periodStart.toISOString(), external_id: 'heavy' } }));
    const metricIds = Object.fromEntries(
      (await pool.query<{ code: string; id: string }>('select code, id from billable_metrics')).rows.map((r) => [r.code, r.id]),
    ) as Record<string, string>;
    console.log(`postgres ${version}; subscription ${subscription.id} created through the API, period ${periodStart.toISOString()} to ${periodEnd.toISOString()}`);

    // The months of the bulk: every one gets its partition first, so each row is written once.
    const first = monthStart(1 - options.months);
    await pool.query(`select usage_events_attach_month(m) from generate_series($1::timestamptz, $2::timestamptz, interval '1 month') m`, [first.toISOString(), periodStart.toISOString()]);
    const now = new Date();
    // Through the end of the current month: the measured period is a whole month of events (events
    // dated later in the period are accepted as any others).
    const gen = generator(subscription.id, options, first, periodEnd);
    // Loaded as a restore would be: the window index is dropped and built again after the load (one
    // sort per partition instead of millions of random b-tree inserts), exactly as the migration defines it.
    const { rows: indexRows } = await pool.query<{ indexdef: string }>(`select indexdef from pg_indexes where indexname = 'usage_events_window_idx'`);
    await pool.query('drop index usage_events_window_idx');
    const bulkStarted = performance.now();
    const bulkCpu = meter.sample();
    for (let from = 0; from < options.events; from += CHUNK) {
      const to = Math.min(options.events, from + CHUNK) - 1;
      // The bulk is the tokens metric; its ids are claimed as ingestion claims them.
      await pool.query(
        `with bulk as (
           select 'bulk_' || g as transaction_id, ${gen.subscription} as subscription_id, $6::text as metric_id, ${gen.timestamp} as "timestamp", ${gen.value} as value
           from generate_series($7::bigint, $8::bigint) g
         ), ids as (
           insert into usage_event_ids (transaction_id, subscription_id, metric_id, "timestamp") select transaction_id, subscription_id, metric_id, "timestamp" from bulk
         )
         insert into usage_events (transaction_id, subscription_id, metric_id, "timestamp", value, properties)
         select transaction_id, subscription_id, metric_id, "timestamp", value, jsonb_build_object('tokens', value) from bulk`,
        [...gen.params, metricIds.tokens, from, to],
      );
      const elapsed = (performance.now() - bulkStarted) / 1000;
      console.log(`  bulk: ${fmt(to + 1)} of ${fmt(options.events)} events, ${elapsed.toFixed(0)} s (${fmt((to + 1) / elapsed)} events/s)`);
    }
    const indexStarted = performance.now();
    const indexer = await pool.connect();
    try {
      await indexer.query(`set maintenance_work_mem = '256MB'`);
      // pg_indexes shows a partitioned index as "ON ONLY" the parent, which would build no partition's index.
      await indexer.query(indexRows[0].indexdef.replace(' ON ONLY ', ' ON '));
    } finally {
      indexer.release();
    }
    const { rows: valid } = await pool.query<{ n: number }>(
      `select count(*)::int as n from pg_inherits i join pg_index x on x.indexrelid = i.inhrelid where i.inhparent = 'usage_events_window_idx'::regclass and x.indisvalid`,
    );
    console.log(`  window index built again on ${valid[0].n} partitions in ${((performance.now() - indexStarted) / 1000).toFixed(0)} s`);
    const vacuumStarted = performance.now();
    await pool.query('vacuum analyze usage_events, usage_event_ids');
    const bulkUse = CpuMeter.between(bulkCpu, meter.sample());
    console.log(`bulk: ${fmt(options.events)} events in ${((performance.now() - bulkStarted) / 1000).toFixed(0)} s with the index and vacuum analyze (${((performance.now() - vacuumStarted) / 1000).toFixed(0)} s); ${describeCpu(bulkUse)}`);

    // The real code path: POST /v1/usage_events, batches of 1,000, every metric.
    const realStarted = performance.now();
    const realEvents: Array<{ metric: string; value: number; at: number }> = [];
    const span = Math.max(1, now.getTime() - periodStart.getTime());
    for (let i = 0; i < options.real; i += 1000) {
      const events = [];
      for (let j = i; j < Math.min(options.real, i + 1000); j++) {
        const metric = metrics[j % metrics.length];
        const at = periodStart.getTime() + ((j * 7727) % span);
        const value = (j % 9) + 1;
        realEvents.push({ metric: metric.code, value, at });
        events.push({ transaction_id: `real_${j}`, subscription_id: subscription.id, code: metric.code, timestamp: new Date(at).toISOString(), properties: metric.field ? { [metric.field]: value } : {} });
      }
      const { data, error } = await api.POST('/v1/usage_events', { body: { events } as never });
      const body = data as { accepted: number; rejected: unknown[] } | undefined;
      if (!body || body.accepted !== events.length) throw new Error(`POST /v1/usage_events: ${JSON.stringify(body?.rejected?.slice(0, 3) ?? error)}`);
    }
    console.log(`real: ${fmt(options.real)} events through POST /v1/usage_events in ${((performance.now() - realStarted) / 1000).toFixed(1)} s`);

    const partitions = await usagePartitions(orm.em.fork());
    const { rows: counts } = await pool.query<{ events: string; ids: string }>('select (select count(*) from usage_events) as events, (select count(*) from usage_event_ids) as ids');
    console.log(`partitions: ${partitions.map((p) => `${p.name} ${fmt(p.rows)}`).join(', ')}`);
    check(Number(counts[0].events) === options.events + options.real, `usage_events holds ${fmt(Number(counts[0].events))} rows: the ${fmt(options.events)} generated and ${fmt(options.real)} ingested`);
    check(Number(counts[0].ids) === Number(counts[0].events), `usage_event_ids holds one id per event (${fmt(Number(counts[0].ids))})`);

    // 1. aggregateUsage of the period, beside the bound.
    const window = { start: periodStart, end: periodEnd };
    const { rows: expectedBulk } = await pool.query<{ n: string; total: string | null }>(
      `select count(*) as n, sum(value::numeric)::text as total from (
         select ${gen.subscription} as subscription_id, ${gen.timestamp} as "timestamp", ${gen.value} as value from generate_series(0::bigint, $6::bigint - 1) g
       ) e where subscription_id = $1 and "timestamp" >= $7 and "timestamp" < $8`,
      [...gen.params, options.events, periodStart.toISOString(), periodEnd.toISOString()],
    );
    const realOf = (code: string) => realEvents.filter((e) => e.metric === code && e.at >= periodStart.getTime() && e.at < periodEnd.getTime());
    const aggregations: Array<{ aggregation: Aggregation; events: number; quantity: string; p50: number; max: number; runs: number[] }> = [];
    console.log(`\n1. aggregateUsage of subscription ${subscription.id}'s period (${fmt(Number(expectedBulk[0].n) + realOf('tokens').length)} tokens events in it), ${options.runs} runs each`);
    for (const metric of metrics) {
      const runs: number[] = [];
      let result = { quantity: '', events: 0 };
      for (let r = 0; r < options.runs; r++) {
        const started = performance.now();
        const usage = await aggregateUsage(orm.em.fork(), subscription.id, { id: metricIds[metric.code], aggregation: metric.aggregation }, window);
        runs.push(performance.now() - started);
        result = { quantity: usage.quantity.toFixed(), events: usage.eventCount };
      }
      const figure = { aggregation: metric.aggregation, ...result, p50: percentile(runs, 0.5), max: Math.max(...runs), runs };
      aggregations.push(figure);
      console.log(`  ${metric.aggregation.padEnd(13)} ${fmt(result.events).padStart(10)} events: p50 ${seconds(figure.p50)} s, max ${seconds(figure.max)} s   (bound ${BOUND_SECONDS} s: p50 ${(figure.p50 / 1000 / BOUND_SECONDS).toFixed(3)} of it)`);
    }
    const tokens = aggregations[0];
    const expectedTokens = Number(expectedBulk[0].n) + realOf('tokens').length;
    const expectedSum = realOf('tokens').reduce((s, e) => s + e.value, Number(expectedBulk[0].total ?? 0));
    check(tokens.events === expectedTokens && tokens.quantity === String(expectedSum), `sum of the period: ${tokens.quantity} over ${fmt(tokens.events)} events, as the generator's formula gives (${expectedSum} over ${fmt(expectedTokens)})`);
    check(aggregations[1].events === realOf('calls').length && aggregations[1].quantity === String(realOf('calls').length), `count of the period: ${aggregations[1].quantity} (${realOf('calls').length} sent)`);

    // 2. The ingest function on batches, beside the raw ceiling of the same work.
    const metricCycle = metrics.map((m) => ({ id: metricIds[m.code], field: m.field }));
    const batchOf = (tag: string, n: number): UsageEventRow[] =>
      Array.from({ length: options.batch }, (_, i) => {
        const m = metricCycle[i % metricCycle.length];
        const value = String((i % 7) + 1);
        return {
          transaction_id: `${tag}_${n}_${String(i).padStart(5, '0')}`,
          subscription_id: subscription.id,
          metric_id: m.id,
          timestamp: new Date(periodStart.getTime() + ((n * options.batch + i) * 9973) % span).toISOString(),
          value: m.field ? value : null,
          properties: m.field ? { [m.field]: Number(value) } : {},
        };
      });
    const ingestRuns = Math.max(options.runs, 5);
    const fresh: number[] = [];
    const resent: number[] = [];
    const raw: number[] = [];
    let freshAccepted = 0;
    let resentDuplicates = 0;
    let rawStored = 0;
    const ingestCpu: CpuSample = meter.sample();
    for (let n = 0; n < ingestRuns; n++) {
      const batch = batchOf('ingest', n);
      let started = performance.now();
      const first = await storeUsageEvents(pool, batch);
      fresh.push(performance.now() - started);
      freshAccepted += first.filter((o) => o.outcome === 'accepted').length;
      started = performance.now();
      const again = await storeUsageEvents(pool, batch);
      resent.push(performance.now() - started);
      resentDuplicates += again.filter((o) => o.outcome === 'duplicate').length;
      const rows = batchOf('raw', n);
      const params = rows.flatMap((r) => [r.transaction_id, r.subscription_id, r.metric_id, r.timestamp, r.value, JSON.stringify(r.properties)]);
      const values = (types: string[]) => rows.map((_, r) => `(${types.map((t, c) => `$${r * 6 + c + 1}${t}`).join(',')})`).join(',');
      started = performance.now();
      const stored = await pool.query(
        `with claimed as (
           insert into usage_event_ids (transaction_id, subscription_id, metric_id, "timestamp") values ${values(['', '', '', ''])}
           on conflict (transaction_id) do nothing returning transaction_id
         )
         insert into usage_events (transaction_id, subscription_id, metric_id, "timestamp", value, properties)
         select e.* from (values ${values(['::text', '::text', '::text', '::timestamptz', '::text', '::jsonb'])}) e (transaction_id, subscription_id, metric_id, "timestamp", value, properties)
         join claimed using (transaction_id)`,
        params,
      );
      raw.push(performance.now() - started);
      rawStored += stored.rowCount ?? 0;
    }
    const ingestUse = CpuMeter.between(ingestCpu, meter.sample());
    const ms = (v: number) => `${v.toFixed(2)} ms`;
    console.log(`\n2. ingest_usage_events on batches of ${options.batch} (one call at a time, ${ingestRuns} runs; ${describeCpu(ingestUse)})`);
    console.log(`  new events          p50 ${ms(percentile(fresh, 0.5))}, max ${ms(Math.max(...fresh))}   (raw ceiling, same batch: p50 ${ms(percentile(raw, 0.5))}; ratio ${(percentile(raw, 0.5) / percentile(fresh, 0.5)).toFixed(2)})`);
    console.log(`  re-sent (duplicates) p50 ${ms(percentile(resent, 0.5))}, max ${ms(Math.max(...resent))}`);
    check(freshAccepted === ingestRuns * options.batch, `${fmt(freshAccepted)} of ${fmt(ingestRuns * options.batch)} new events accepted`);
    check(resentDuplicates === ingestRuns * options.batch, `${fmt(resentDuplicates)} of ${fmt(ingestRuns * options.batch)} re-sent events answered as duplicates`);
    check(rawStored === ingestRuns * options.batch, `the raw statement stored ${fmt(rawStored)} events`);

    // 3. Pruning.
    // EXPLAIN takes no bind parameters: the values are written in, as a plan made for known values sees them.
    const literal = (v: string) => `'${v.replaceAll("'", "''")}'`;
    const aggregationArgs = [subscription.id, metricIds.tokens, periodStart.toISOString(), periodEnd.toISOString()].map(literal);
    const aggregationSql = (a: string[]) => `select count(*), sum(value::numeric) from usage_events where subscription_id = ${a[0]} and metric_id = ${a[1]} and "timestamp" >= ${a[2]}::timestamptz and "timestamp" < ${a[3]}::timestamptz`;
    const explain = 'explain (analyze, costs off, timing off, summary off)';
    const planLines = (rows: Array<{ 'QUERY PLAN': string }>) => rows.map((r) => r['QUERY PLAN']);
    const scanned = (plan: string[]) => [...new Set(plan.flatMap((line) => /on (usage_events_\w+)/.exec(line)?.[1] ?? []))];
    const custom = planLines((await pool.query<{ 'QUERY PLAN': string }>(`${explain} ${aggregationSql(aggregationArgs)}`)).rows);
    const client = await pool.connect();
    let generic: string[];
    try {
      await client.query(`set plan_cache_mode = force_generic_plan`);
      await client.query(`prepare period_usage(text, text, timestamptz, timestamptz) as ${aggregationSql(['$1', '$2', '$3', '$4'])}`);
      generic = planLines((await client.query<{ 'QUERY PLAN': string }>(`${explain} execute period_usage(${aggregationArgs.join(', ')})`)).rows);
      await client.query('deallocate period_usage');
      await client.query('reset plan_cache_mode');
    } finally {
      client.release();
    }
    const existing = (await usagePartitions(orm.em.fork())).map((p) => p.name);
    const removed = generic.flatMap((line) => /Subplans Removed: (\d+)/.exec(line)?.[1] ?? []).map(Number);
    console.log(`\n3. partition pruning of the period's aggregation (${existing.length} partitions exist: ${existing.join(', ')})`);
    console.log(`  parameters known at planning (as aggregateUsage runs it): scans ${scanned(custom).join(', ')}`);
    for (const line of custom) console.log(`    ${line}`);
    console.log(`  generic plan (run-time pruning): scans ${scanned(generic).join(', ')}; Subplans Removed: ${removed.join(', ') || 'none'}`);
    for (const line of generic) console.log(`    ${line}`);
    const month = existing.find((name) => name === `usage_events_${periodStart.getUTCFullYear()}_${String(periodStart.getUTCMonth() + 1).padStart(2, '0')}`);
    check(month !== undefined && scanned(custom).length === 1 && scanned(custom)[0] === month, `the period's plan scans its month's partition only (${scanned(custom).join(', ')})`);
    check(removed.length > 0 && removed[0] === existing.length - 1, `the generic plan removes the other ${existing.length - 1} partitions at run time (${removed.join(', ') || 'none'})`);

    const worst = Math.max(...aggregations.map((a) => a.p50));
    console.log('\n=== usage partitions summary ===');
    const line = (label: string, value: string) => console.log(`  ${label.padEnd(52)} ${value}`);
    line('machine', `${cpus().length} cores, Node ${process.version}, Postgres ${version}`);
    line('events / months / subscriptions', `${fmt(options.events + options.real)} / ${options.months} (+ months ahead) / ${fmt(options.subscriptions)} + 1 real`);
    for (const a of aggregations) line(`aggregateUsage ${a.aggregation} (${fmt(a.events)} events)`, `p50 ${seconds(a.p50)} s, max ${seconds(a.max)} s; bound ${BOUND_SECONDS} s`);
    line('worst p50 / bound', `${(worst / 1000 / BOUND_SECONDS).toFixed(3)}`);
    line(`ingest_usage_events, ${options.batch} new events`, `p50 ${ms(percentile(fresh, 0.5))}; raw ceiling p50 ${ms(percentile(raw, 0.5))}`);
    line(`ingest_usage_events, ${options.batch} re-sent`, `p50 ${ms(percentile(resent, 0.5))}`);
    line('other processes on the machine (cores)', `${bulkUse.other.toFixed(2)} during the bulk load, ${ingestUse.other.toFixed(2)} during ingest`);
    line('checks', problems.length === 0 ? 'all passed' : `FAILED: ${problems.join('; ')}`);
    Object.assign(report, {
      machine: { cores: cpus().length, node: process.version, postgres: version },
      partitions: existing,
      rows: { events: Number(counts[0].events), ids: Number(counts[0].ids) },
      aggregations: aggregations.map(({ runs, ...a }) => ({ ...a, runsMs: runs })),
      ingest: { batch: options.batch, runs: ingestRuns, freshP50Ms: percentile(fresh, 0.5), resentP50Ms: percentile(resent, 0.5), rawP50Ms: percentile(raw, 0.5), freshAccepted, resentDuplicates, rawStored },
      pruning: { custom: scanned(custom), generic: scanned(generic), subplansRemoved: removed, existing },
      cpu: { bulkOther: bulkUse.other, ingestOther: ingestUse.other },
      checks: { passed: problems.length === 0, problems },
    });
  } catch (error) {
    problems.push(String(error));
    report.checks = { passed: false, problems };
    throw error;
  } finally {
    if (options.json) await writeFile(options.json, JSON.stringify(report, null, 2));
    await cleanUp();
  }
  if (problems.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
