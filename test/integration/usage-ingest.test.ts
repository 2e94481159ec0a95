import type { EntityManager } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { GroupCommitWriter, usagePool } from '../../api/usage-ingest';
import { issuePeriodInvoice } from '../../db/invoice-store';
import { forkEm } from '../../db/orm';
import type { UsageEventRow } from '../../db/usage-store';
import { daysAgo, eventually, startStack, type Stack } from './harness';

/**
 * What ingestion does with events it must not count: a transaction id repeated with another event,
 * values a metric cannot bill, and events Postgres cannot store, which must never fail the requests
 * committed together with them. Real Postgres, real concurrent requests; no worker (each test issues
 * the invoices a workflow would).
 */
describe('usage ingestion', () => {
  let stack: Stack;
  const em = (): EntityManager => forkEm(stack.db.orm)();
  let n = 0;

  beforeAll(async () => {
    stack = await startStack('usage-ingest', { worker: false });
    const metrics = [
      { code: 'api_calls', name: 'API calls', aggregation: 'sum', field: 'calls' },
      { code: 'storage_gb', name: 'Storage', aggregation: 'max', field: 'gb' },
      { code: 'gauge', name: 'Gauge', aggregation: 'latest', field: 'level' },
      { code: 'seats', name: 'Seats', aggregation: 'weighted_sum', field: 'delta' },
      { code: 'active_users', name: 'Active users', aggregation: 'unique_count', field: 'user' },
    ];
    for (const m of metrics) expect((await stack.admin.post('/v1/metrics', m)).status).toBe(201);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function subscription(charges: string[], startAt = '2027-01-01T00:00:00Z'): Promise<string> {
    const customer = await stack.admin.post('/v1/customers', { name: `Ingest ${++n}`, email: `ingest${n}@example.test`, currency: 'USD' });
    expect(customer.status).toBe(201);
    const code = `ingest-plan-${n}`;
    const plan = await stack.admin.post('/v1/plans', {
      code,
      name: code,
      currency: 'USD',
      interval: 'month',
      amount: '0.00',
      charges: charges.map((metric_code) => ({ metric_code, model: 'standard', properties: { unit_amount: '1' } })),
    });
    expect(plan.status).toBe(201);
    const sub = await stack.admin.post('/v1/subscriptions', { customer_id: customer.body.id, plan_code: code, start_at: startAt, external_id: `ingest-ext-${n}` });
    expect(sub.status).toBe(201);
    return sub.body.id;
  }

  const send = (events: unknown[]) => stack.admin.post('/v1/usage_events', { events });
  const month = (index: number) => ({ start: new Date(Date.UTC(2027, index, 1)), end: new Date(Date.UTC(2027, index + 1, 1)) });

  /** The invoice a workflow issues at the start of month `index` of 2027 (usage of the month before). */
  async function invoiceAt(subscriptionId: string, index: number) {
    const invoice = await issuePeriodInvoice(em(), { subscriptionId, periodIndex: index, periodStart: month(index).start, periodEnd: month(index).end, issuedAt: month(index).start });
    const res = await stack.admin.get(`/v1/invoices/${invoice.id}`);
    expect(res.status).toBe(200);
    return res.body;
  }

  const usageLines = (invoice: any) => invoice.lines.filter((l: any) => l.kind === 'usage').map((l: any) => [l.metric_code, l.quantity, l.amount]);
  const storedEvents = (subscriptionId: string) =>
    em().execute(`select transaction_id, value, "timestamp", properties from usage_events where subscription_id = ? order by transaction_id`, [subscriptionId]);
  const codes = (res: { body: any }) => res.body.rejected.map((r: any) => [r.index, r.code]);

  describe('a repeated transaction_id', () => {
    it('is a duplicate when it repeats the event, and is refused by index, naming what differs, when it carries another', async () => {
      const subId = await subscription(['api_calls']);
      const externalId = `ingest-ext-${n}`;
      const other = await subscription(['api_calls']);
      await invoiceAt(subId, 0);
      const first = { transaction_id: 'rep-1', subscription_id: subId, code: 'api_calls', timestamp: '2027-01-10T00:00:00Z', properties: { calls: 5, region: 'eu' } };
      expect((await send([first])).body).toMatchObject({ accepted: 1, duplicates: 0, rejected: [] });

      const res = await send([
        // The same event: by external id, properties in another order, the time in another offset.
        { transaction_id: 'rep-1', external_subscription_id: externalId, code: 'api_calls', timestamp: '2027-01-10T01:00:00+01:00', properties: { region: 'eu', calls: 5 } },
        { ...first, timestamp: '2027-01-11T00:00:00Z' },
        { ...first, subscription_id: other },
        { ...first, properties: { calls: 7, region: 'eu' } },
        { ...first, code: 'storage_gb', properties: { gb: 5 } },
        { ...first, transaction_id: 'rep-2', properties: { calls: 3 } },
        // Within one batch the first event of an id is the one stored; the repeats are judged against it.
        { ...first, transaction_id: 'rep-2', properties: { calls: 4 } },
        { ...first, transaction_id: 'rep-2', properties: { calls: 3 } },
      ]);
      expect(res.status).toBe(202);
      expect(res.body).toMatchObject({ accepted: 1, duplicates: 2 });
      expect(codes(res)).toEqual([
        [1, 'transaction_id_conflict'],
        [2, 'transaction_id_conflict'],
        [3, 'transaction_id_conflict'],
        [4, 'transaction_id_conflict'],
        [6, 'transaction_id_conflict'],
      ]);
      const messages = res.body.rejected.map((r: any) => r.message);
      expect(messages[0]).toMatch(/different timestamp;/);
      expect(messages[1]).toMatch(/different subscription;/);
      expect(messages[2]).toMatch(/different properties;/);
      expect(messages[3]).toMatch(/different code and properties;/);
      expect(messages[4]).toMatch(/"rep-2" already names an event with a different properties/);

      // Nothing was overwritten, and the invoice bills each id once, as first sent: 5 + 3 calls.
      expect((await storedEvents(subId)).map((e: any) => [e.transaction_id, e.value])).toEqual([
        ['rep-1', '5'],
        ['rep-2', '3'],
      ]);
      expect(await storedEvents(other)).toEqual([]);
      expect(usageLines(await invoiceAt(subId, 1))).toEqual([['api_calls', '8', '8.00']]);
    });

    it('sent without a timestamp (dated on receipt) is still a duplicate when retried later, and a conflict when it differs', async () => {
      const startAt = daysAgo(3);
      const subId = await subscription(['api_calls'], startAt);
      const event = { transaction_id: 'undated-1', subscription_id: subId, code: 'api_calls', properties: { calls: 2 } };
      expect((await send([event])).body).toMatchObject({ accepted: 1, rejected: [] });
      const [stored] = await storedEvents(subId);
      const retried = await send([event, { ...event, properties: { calls: 3 } }, { ...event, timestamp: new Date(Date.now() - 86_400_000).toISOString() }]);
      expect(retried.body).toMatchObject({ accepted: 0, duplicates: 1 });
      expect(codes(retried)).toEqual([
        [1, 'transaction_id_conflict'],
        [2, 'transaction_id_conflict'],
      ]);
      expect(retried.body.rejected[1].message).toMatch(/different timestamp;/);
      // Given explicitly, the instant it was dated at is the same event.
      const explicit = await send([{ ...event, timestamp: new Date(stored.timestamp).toISOString() }]);
      expect(explicit.body).toMatchObject({ accepted: 0, duplicates: 1, rejected: [] });
    });

    it('by two requests at once: one event is stored, and the other request is told it conflicts, never that it was a duplicate', async () => {
      const subId = await subscription(['api_calls']);
      const [{ id: metricId }] = await em().execute(`select id from billable_metrics where code = 'api_calls'`);
      const racing = (id: string, calls: number) => ({ transaction_id: id, subscription_id: subId, code: 'api_calls', timestamp: '2027-01-15T00:00:00Z', properties: { calls } });

      // Deterministically the hard case: another batch has inserted the id and not yet committed, so
      // this request's statement cannot see its event when it starts; it waits on the insert.
      for (const [id, calls, expected] of [
        ['race-held-1', 6, { accepted: 0, duplicates: 0, rejected: [expect.objectContaining({ index: 0, code: 'transaction_id_conflict' })] }],
        ['race-held-2', 5, { accepted: 0, duplicates: 1, rejected: [] }],
      ] as const) {
        const holder = new Client({ connectionString: stack.db.url });
        await holder.connect();
        try {
          await holder.query('begin');
          const row: UsageEventRow = { transaction_id: id, subscription_id: subId, metric_id: metricId, timestamp: '2027-01-15T00:00:00.000Z', value: '5', properties: { calls: 5 } };
          expect((await holder.query('select * from ingest_usage_events($1::jsonb)', [JSON.stringify([row])])).rows).toEqual([]);
          const answer = send([racing(id, calls)]);
          await eventually(
            'the request waits for the uncommitted event with its id',
            () =>
              em().execute(
                `select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid
                  where l.locktype = 'transactionid' and not l.granted and a.datname = current_database()`,
              ),
            (rows) => rows[0].n > 0,
          );
          await holder.query('commit');
          expect((await answer).body).toEqual({ object: 'usage_event_batch', ...expected });
        } finally {
          await holder.end();
        }
      }

      // And through the API only: twenty ids, each sent by two requests at once with different calls.
      const pairs = Array.from({ length: 20 }, (_, i) => [racing(`race-api-${i}`, 1), racing(`race-api-${i}`, 2)]);
      const answers = await Promise.all(pairs.flat().map((e) => stack.admin.post('/v1/usage_events', { event: e })));
      expect(answers.every((a) => a.status === 202)).toBe(true);
      const stored = new Map((await storedEvents(subId)).map((e: any) => [e.transaction_id, e.value]));
      pairs.forEach(([a], i) => {
        const [first, second] = [answers[2 * i].body, answers[2 * i + 1].body];
        const outcomes = [first, second].map((b) => (b.accepted === 1 ? 'accepted' : b.rejected[0]?.code));
        expect(outcomes.sort()).toEqual(['accepted', 'transaction_id_conflict']);
        // The stored event is the one whose request was told it was accepted.
        expect(stored.get(a.transaction_id)).toBe(first.accepted === 1 ? '1' : '2');
      });
    });
  });

  it('refuses values a metric cannot bill (a negative sum, max or latest) and keeps negative changes of a weighted sum', async () => {
    const subId = await subscription(['api_calls', 'storage_gb', 'gauge', 'seats', 'active_users']);
    await invoiceAt(subId, 0);
    const event = (id: string, code: string, properties: Record<string, unknown>, timestamp = '2027-01-10T00:00:00Z') => ({
      transaction_id: id,
      subscription_id: subId,
      code,
      timestamp,
      properties,
    });
    const res = await send([
      event('neg-calls-ok', 'api_calls', { calls: 10 }),
      event('neg-calls', 'api_calls', { calls: -3 }),
      event('neg-calls-str', 'api_calls', { calls: '-0.5' }),
      event('neg-zero', 'api_calls', { calls: '-0' }),
      event('neg-gb-ok', 'storage_gb', { gb: 5 }),
      event('neg-gb', 'storage_gb', { gb: -1 }),
      event('neg-level-ok', 'gauge', { level: 7 }, '2027-01-20T00:00:00Z'),
      event('neg-level', 'gauge', { level: -2 }, '2027-01-21T00:00:00Z'),
      event('neg-seats-up', 'seats', { delta: 5 }, '2027-01-01T00:00:00Z'),
      event('neg-seats-down', 'seats', { delta: -2 }, '2027-01-16T00:00:00Z'),
      // unique_count compares text: "-5" is a name like any other.
      event('neg-user', 'active_users', { user: -5 }),
    ]);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(7);
    expect(codes(res)).toEqual([
      [1, 'value_negative'],
      [2, 'value_negative'],
      [5, 'value_negative'],
      [7, 'value_negative'],
    ]);
    expect(res.body.rejected[0].message).toMatch(/properties\.calls is negative/);
    // Had the -2 gauge been taken, January's latest level would be -2 and the invoice could not be
    // priced. Seats: 5 for 15 days, then 3 for 16 days of 31: 123 / 31 = 3.9677419355.
    expect(usageLines(await invoiceAt(subId, 1))).toEqual([
      ['api_calls', '10', '10.00'],
      ['storage_gb', '5', '5.00'],
      ['gauge', '7', '7.00'],
      ['seats', '3.9677419355', '3.97'],
      ['active_users', '1', '1.00'],
    ]);
  });

  describe('an event Postgres cannot store', () => {
    it('is refused by itself at ingest, and requests sent at the same moment are all kept', async () => {
      const subId = await subscription(['api_calls', 'active_users']);
      const event = (id: string, properties: Record<string, unknown>, code = 'api_calls') => ({ transaction_id: id, subscription_id: subId, code, timestamp: '2027-01-10T00:00:00Z', properties });
      let deep: unknown = 1;
      for (let i = 0; i < 40; i++) deep = { d: deep };
      const digits = Array.from({ length: 3000 }, (_, i) => String((i * 7919) % 10)).join('');
      // Each of these once made the statement fail (Postgres refuses U+0000 and unpaired surrogates
      // in jsonb, and an index entry over 2,704 bytes) and with it every request committed alongside.
      const bad = send([
        event('bad-ok-1', { calls: 1 }),
        event('bad-nul-\u0000', { calls: 1 }),
        event('bad-nul-value', { calls: 1, note: 'a\u0000b' }),
        event('bad-surrogate-key', { calls: 1, ['\ud800']: 'x' }),
        event('bad-deep', { calls: 1, deep }),
        event('bad-digits', { calls: `1.${digits}` }),
        event('bad-long-name', { user: 'u'.repeat(3000) }, 'active_users'),
        event('bad-ok-2', { calls: 2 }),
      ]);
      // Nested ten thousand deep: parsed, but too deep to encode again recursively.
      const deepBody = `{"events":[{"transaction_id":"bad-very-deep","subscription_id":"${subId}","code":"api_calls","timestamp":"2027-01-10T00:00:00Z","properties":{"calls":1,"deep":${'['.repeat(10_000)}${']'.repeat(10_000)}}}]}`;
      const veryDeep = stack.admin.post('/v1/usage_events', deepBody);
      const good = Array.from({ length: 12 }, (_, i) => send([event(`good-${i}-a`, { calls: 1 }), event(`good-${i}-b`, { calls: 1 })]));
      const [badAnswer, veryDeepAnswer, ...goodAnswers] = await Promise.all([bad, veryDeep, ...good]);

      for (const answer of goodAnswers) expect({ status: answer.status, body: answer.body }).toEqual({ status: 202, body: { object: 'usage_event_batch', accepted: 2, duplicates: 0, rejected: [] } });
      expect(badAnswer.status).toBe(202);
      expect(badAnswer.body.accepted).toBe(2);
      expect(codes(badAnswer)).toEqual([
        [1, 'parameter_invalid'],
        [2, 'parameter_invalid'],
        [3, 'parameter_invalid'],
        [4, 'parameter_invalid'],
        [5, 'value_too_long'],
        [6, 'value_too_long'],
      ]);
      expect(badAnswer.body.rejected.map((r: any) => r.message)).toEqual([
        expect.stringMatching(/^transaction_id contains U\+0000/),
        expect.stringMatching(/^properties\.note contains U\+0000/),
        expect.stringMatching(/^a key in properties contains/),
        expect.stringMatching(/^properties nest more than 32 levels/),
        expect.stringMatching(/^properties\.calls has 3002 characters/),
        expect.stringMatching(/^properties\.user is 3000 characters long/),
      ]);
      expect(veryDeepAnswer.status).toBe(202);
      expect(codes(veryDeepAnswer)).toEqual([[0, 'parameter_invalid']]);
      expect((await storedEvents(subId)).length).toBe(2 + 24);
    });

    it('refuses only itself when it fails a statement shared with other requests', async () => {
      const subId = await subscription(['api_calls']);
      const [{ id: metricId }] = await em().execute(`select id from billable_metrics where code = 'api_calls'`);
      // A hand-written fault. Every input known to make Postgres refuse an event (U+0000, unpaired
      // surrogates, deep nesting, over-long values) is refused before it reaches a statement, so no
      // real event can fail one; this constraint stands in for whatever else Postgres may refuse.
      const FAULT = 'usage_ingest_test_fault';
      // As the schema's owner: the application's role may not alter a table.
      const owner = new Client({ connectionString: stack.db.ownerUrl });
      await owner.connect();
      await owner.query(`alter table usage_events add constraint ${FAULT} check (transaction_id not like 'refused-by-postgres-%')`);
      const pool = usagePool(stack.db.url);
      try {
        // Statement sizes as sent, to show that the requests below went out as one statement.
        const statements: number[] = [];
        const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
        (pool as unknown as { query: (...args: unknown[]) => Promise<unknown> }).query = (...args: unknown[]) => {
          if (String(args[0]).includes('ingest_usage_events')) statements.push((JSON.parse((args[1] as string[])[0]) as unknown[]).length);
          return query(...args);
        };
        const row = (id: string): UsageEventRow => ({ transaction_id: id, subscription_id: subId, metric_id: metricId, timestamp: '2027-01-10T00:00:00.000Z', value: '1', properties: { calls: 1 } });

        // One statement at a time: while the first is in flight, the next two requests queue behind
        // it and are combined into the following statement.
        const writer = new GroupCommitWriter(pool, 1);
        const blocker = writer.write([row('shared-blocker')]);
        const withBadEvent = writer.writeDetailed([row('shared-a'), row('refused-by-postgres-1'), row('shared-b')]);
        const good = writer.write([row('shared-c')]);

        expect(await blocker).toEqual(['accepted']);
        expect(await good).toEqual(['accepted']);
        const written = await withBadEvent;
        expect(written.map((w) => w.outcome)).toEqual(['accepted', 'event_not_storable', 'accepted']);
        expect(written[1].reason).toMatch(new RegExp(FAULT));
        expect(statements.slice(0, 2)).toEqual([1, 4]);

        // Through the API: a request with the bad event and requests sent at the same moment.
        const event = (id: string) => ({ transaction_id: id, subscription_id: subId, code: 'api_calls', timestamp: '2027-01-10T00:00:00Z', properties: { calls: 1 } });
        const [bad, ...goods] = await Promise.all([
          send([event('api-a'), event('refused-by-postgres-2'), event('api-b')]),
          ...Array.from({ length: 12 }, (_, i) => send([event(`api-good-${i}`)])),
        ]);
        for (const answer of goods) expect(answer.body).toEqual({ object: 'usage_event_batch', accepted: 1, duplicates: 0, rejected: [] });
        expect(bad.status).toBe(202);
        expect(bad.body).toMatchObject({ accepted: 2, duplicates: 0 });
        expect(bad.body.rejected).toEqual([
          { index: 1, transaction_id: 'refused-by-postgres-2', code: 'event_not_storable', message: expect.stringContaining('the database refused to store this event') },
        ]);
        expect((await storedEvents(subId)).map((e: any) => e.transaction_id).sort()).toEqual(
          ['api-a', 'api-b', ...Array.from({ length: 12 }, (_, i) => `api-good-${i}`), 'shared-a', 'shared-b', 'shared-blocker', 'shared-c'].sort(),
        );
      } finally {
        await pool.end();
        await owner.query(`alter table usage_events drop constraint ${FAULT}`);
        await owner.end();
      }
    });
  });
});
