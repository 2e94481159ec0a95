import Stripe from 'stripe';
import type { ChaosApi } from '../chaos/api-client';
import { CARD_NUMBERS } from '../chaos/workload';

/**
 * What a renewal storm bills: N subscriptions over N/10 customers, each with a card that pays, on a
 * daily plan, all started one day before the same instant T. Each bills its first day when it is
 * created; all N renew at T. With `calendar` alignment the customers live in a zone whose midnight
 * is T, so the periods are calendar days there (midnight is when everything bills); otherwise the
 * periods follow the shared start (anniversary).
 *
 * A few more subscriptions (the ceiling's) start an hour ago on another customer set: they renew in
 * a day, long after the run, and the ceiling bills their renewals directly, without Temporal.
 */
export const PLAN_CODE = 'renewal-storm-daily';
export const PLAN_AMOUNT = '9.00';
export const CURRENCY = 'USD';
export const DAY_MS = 86_400_000;

export type Alignment = 'anniversary' | 'calendar';

export interface StormInstant {
  at: Date;
  /** The customers' zone: UTC, or (calendar alignment) one whose midnight is `at`. */
  zone: string;
}

/**
 * Zones whose midnight falls on the hour or the half hour UTC, for a calendar-aligned storm. Etc/GMT
 * signs are inverted: Etc/GMT+3 is three hours behind UTC, so its midnight is 03:00 UTC. Zones with
 * a half-hour offset and no daylight saving in December give the half hours that have one.
 */
const HALF_HOUR_ZONES = ['Asia/Kolkata', 'Asia/Tehran', 'Asia/Kabul', 'Asia/Yangon', 'Australia/Darwin', 'Pacific/Marquesas', 'Australia/Adelaide', 'America/St_Johns'];

function utcOffsetMinutes(zone: string, at: Date): number {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' }).formatToParts(at);
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'));
  return Math.round((local - Math.floor(at.getTime() / 60_000) * 60_000) / 60_000);
}

/** The first instant at or after `notBefore` that is midnight in some zone (checked, not assumed). */
export function nextMidnightSomewhere(notBefore: Date): StormInstant {
  const start = Math.ceil(notBefore.getTime() / 1_800_000) * 1_800_000;
  for (let at = start; at < start + DAY_MS; at += 1_800_000) {
    const instant = new Date(at);
    const zones = [...Array.from({ length: 27 }, (_, i) => i - 12).map((h) => (h === 0 ? 'Etc/GMT' : `Etc/GMT${h > 0 ? '+' : '-'}${Math.abs(h)}`)), ...HALF_HOUR_ZONES];
    for (const zone of zones) {
      const local = at + utcOffsetMinutes(zone, instant) * 60_000;
      if (local % DAY_MS === 0) return { at: instant, zone };
    }
  }
  throw new Error(`no zone has midnight within a day of ${notBefore.toISOString()}`);
}

export interface Population {
  customerIds: string[];
  /** The storm's subscriptions, which renew at T. */
  stormIds: string[];
  /** The ceiling's subscriptions, renewed directly. */
  ceilingIds: string[];
}

export interface SetupOptions {
  api: ChaosApi;
  /** The Stripe SDK on the emulator: what a customer's browser does with Stripe.js. */
  stripe: Stripe;
  subscriptions: number;
  ceilingSubscriptions: number;
  concurrency: number;
  log: (line: string) => void;
}

const idempotent = (key: string) => ({ 'Idempotency-Key': key });

async function created<T>(what: string, answer: { data?: T; error?: unknown; response: Response }): Promise<T> {
  if ((answer.response.status !== 201 && answer.response.status !== 200) || !answer.data) throw new Error(`${what}: HTTP ${answer.response.status} ${JSON.stringify(answer.error)}`);
  return answer.data;
}

export async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await work(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}

/** The plan and every customer with a paying card: nothing is billed yet. */
export async function createCustomers(options: SetupOptions, zone: string): Promise<{ storm: string[]; ceiling: string[] }> {
  const { api, stripe } = options;
  await created('plan', await api.client.POST('/v1/plans', { params: { header: idempotent(`storm-plan`) }, body: { code: PLAN_CODE, name: 'Daily', currency: CURRENCY, interval: 'day', amount: PLAN_AMOUNT } }));
  const stormCount = Math.max(1, Math.ceil(options.subscriptions / 10));
  const ceilingCount = Math.max(1, Math.ceil(options.ceilingSubscriptions / 10));
  const ids: string[] = [];
  let done = 0;
  await inParallel(
    Array.from({ length: stormCount + ceilingCount }, (_, i) => i),
    options.concurrency,
    async (i) => {
      const customer = await created(
        `customer ${i}`,
        await api.client.POST('/v1/customers', {
          params: { header: idempotent(`storm-customer-${i}`) },
          body: { name: `Storm customer ${i}`, email: `s${i}@storm.test`, currency: CURRENCY, timezone: zone },
        }),
      );
      const card = await stripe.paymentMethods.create({ type: 'card', card: { number: CARD_NUMBERS.paying, exp_month: 12, exp_year: 2034, cvc: '123' } });
      await created(`card of ${customer.id}`, await api.client.POST('/v1/customers/{id}/payment_methods', { params: { path: { id: customer.id }, header: idempotent(`storm-card-${i}`) }, body: { payment_method: card.id } }));
      ids[i] = customer.id;
      if (++done % 200 === 0) options.log(`customers: ${done}/${stormCount + ceilingCount}`);
    },
  );
  return { storm: ids.slice(0, stormCount), ceiling: ids.slice(stormCount) };
}

/** `count` subscriptions over `customers`, each started at `startAt`; returns their ids in order. */
export async function createSubscriptions(
  options: SetupOptions,
  what: string,
  count: number,
  customers: string[],
  startAt: Date,
  alignment: Alignment,
  onCreated?: () => void,
): Promise<string[]> {
  const ids: string[] = [];
  await inParallel(
    Array.from({ length: count }, (_, i) => i),
    options.concurrency,
    async (i) => {
      const subscription = await created(
        `${what} subscription ${i}`,
        await options.api.client.POST('/v1/subscriptions', {
          params: { header: idempotent(`${what}-subscription-${i}`) },
          body: { customer_id: customers[i % customers.length], plan_code: PLAN_CODE, start_at: startAt.toISOString(), billing_alignment: alignment },
        }),
      );
      ids[i] = subscription.id;
      onCreated?.();
    },
  );
  return ids;
}
