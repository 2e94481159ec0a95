import Decimal from 'decimal.js';
import type { ApiClient, ApiResponse } from './http';
import { timeSkippingStack, type TimeSkippingStack } from './time-skipping-stack';

/**
 * Given/when/then scenarios on the time-skipping server. One stack (server, clock, database,
 * worker, API) per suite: the clock only moves forward, so a suite's scenarios run in date order,
 * each on its own customer and subscription, and each cancels what it leaves running.
 */
export interface Scenarios {
  api: ApiClient;
  stack: TimeSkippingStack;
  /** Moves the clock to `instant` (never back). */
  at(instant: string): Promise<void>;
  plan(code: string, fields: Record<string, unknown>): Promise<void>;
  customer(fields?: Record<string, unknown>): Promise<string>;
  subscribe(fields: Record<string, unknown>): Promise<string>;
  /** The subscription's invoices, oldest first, as "reason total: line amount [period], …". */
  invoices(subscriptionId: string): Promise<string[]>;
  /** The full invoices, oldest first. */
  invoiceBodies(subscriptionId: string): Promise<any[]>;
  post(path: string, body?: unknown): Promise<ApiResponse>;
  get(path: string): Promise<ApiResponse>;
  /** Ends every subscription a scenario left running (before the next scenario moves the clock). */
  cleanUp(): Promise<void>;
  stop(): Promise<void>;
}

const day = (iso: string): string => iso.slice(0, 10);

/** One line of an invoice, compact enough to state a whole invoice by hand in a test. */
export function lineText(line: { kind: string; amount: string; period_start: string; period_end: string; description: string }): string {
  return `${line.kind} ${line.amount} ${day(line.period_start)}..${day(line.period_end)}`;
}

export async function scenarios(label: string): Promise<Scenarios> {
  const stack = await timeSkippingStack(label);
  const api = stack.api;
  const running: string[] = [];
  let n = 0;
  const invoiceBodies = async (id: string) => [...(await api.get(`/v1/invoices?subscription_id=${id}&limit=100`)).body.data].reverse();
  const self: Scenarios = {
    api,
    stack,
    at: (instant) => stack.skipTo(instant),
    async plan(code, fields) {
      const res = await api.post('/v1/plans', { code, name: code, currency: 'USD', interval: 'month', ...fields });
      if (res.status !== 201) throw new Error(`plan ${code}: ${res.status} ${JSON.stringify(res.body)}`);
    },
    async customer(fields = {}) {
      const res = await api.post('/v1/customers', { name: `Customer ${++n}`, email: `c${n}@scenario.test`, currency: 'USD', ...fields });
      if (res.status !== 201) throw new Error(`customer: ${res.status} ${JSON.stringify(res.body)}`);
      return res.body.id;
    },
    async subscribe(fields) {
      const customerId = fields.customer_id ?? (await self.customer());
      const res = await api.post('/v1/subscriptions', { ...fields, customer_id: customerId });
      if (res.status !== 201) throw new Error(`subscription: ${res.status} ${JSON.stringify(res.body)}`);
      running.push(res.body.workflow_id);
      return res.body.id;
    },
    async invoices(id) {
      return (await invoiceBodies(id)).map(
        (i: any) => `${i.total} = ${i.lines.map((l: any) => lineText(l)).join(' + ')}`,
      );
    },
    invoiceBodies,
    post: (path, body) => api.post(path, body),
    get: (path) => api.get(path),
    async cleanUp() {
      // Terminated only once idle: a workflow cut short mid-task leaves the test server's clock locked.
      await stack.terminateWhenIdle(running.splice(0), 'scenario finished');
    },
    async stop() {
      await self.cleanUp();
      await stack.stop();
    },
  };
  return self;
}

/** Sum of decimal strings, for stating that parts add up. */
export const total = (amounts: string[]): string => amounts.reduce((t, a) => t.plus(a), new Decimal(0)).toFixed(2);
