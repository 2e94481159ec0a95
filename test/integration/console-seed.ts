import type { ApiClient } from '../support/http';
import { daysAgo, unique } from './harness';

/**
 * Realistic data for the console's screens and browser tests: a few plans, customers with a tax
 * rate, and subscriptions of different ages, made through the API like any client would.
 */
export interface Seeded {
  plans: { starter: string; growth: string; scale: string; team: string };
  customers: Array<{ id: string; name: string }>;
}

async function created(api: ApiClient, path: string, body: unknown): Promise<any> {
  const res = await api.post(path, body);
  if (res.status !== 201 && res.status !== 200) throw new Error(`${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

export const NAMES = ['Northwind Traders', 'Acme Analytics', 'Globex Logistics', 'Initech Software', 'Umbrella Health'];

export async function seedCatalog(api: ApiClient): Promise<Seeded> {
  const plans = { starter: unique('starter'), growth: unique('growth'), scale: unique('scale'), team: unique('team') };
  await created(api, '/v1/plans', { code: plans.starter, name: 'Starter', currency: 'USD', interval: 'month', amount: '29.00' });
  await created(api, '/v1/plans', { code: plans.growth, name: 'Growth', currency: 'USD', interval: 'month', amount: '99.00' });
  await created(api, '/v1/plans', { code: plans.scale, name: 'Scale', currency: 'USD', interval: 'month', amount: '299.00' });
  // Seats priced in graduated tiers, so invoices show a tier breakdown.
  await created(api, '/v1/plans', {
    code: plans.team,
    name: 'Team',
    currency: 'USD',
    interval: 'month',
    amount: '0.00',
    fee_tiers: { mode: 'graduated', tiers: [{ up_to: 5, unit_amount: '20.00' }, { up_to: 20, unit_amount: '15.00' }, { up_to: null, unit_amount: '10.00' }] },
  });
  const vat = unique('vat');
  await created(api, '/v1/tax_rates', { code: vat, name: 'VAT', percentage: '20' });
  const customers: Seeded['customers'] = [];
  for (const name of NAMES) {
    const slug = name.toLowerCase().replace(/[^a-z]+/g, '-');
    const c = await created(api, '/v1/customers', { name, email: `billing@${slug}.example.com`, currency: 'USD', net_terms_days: customers.length % 2 ? 30 : 14, external_id: unique(slug.split('-')[0]) });
    await created(api, `/v1/customers/${c.id}/tax_rates`, { tax_rates: [vat] });
    customers.push({ id: c.id, name });
  }
  return { plans, customers };
}

export async function subscribe(api: ApiClient, customerId: string, planCode: string, startedDaysAgo: number, quantity?: number): Promise<string> {
  const s = await created(api, '/v1/subscriptions', { customer_id: customerId, plan_code: planCode, start_at: daysAgo(startedDaysAgo), ...(quantity ? { quantity } : {}) });
  return s.id;
}

/** A subscription starting at `startAt` (ISO 8601), with any other fields of the request. */
export async function subscribeAt(api: ApiClient, customerId: string, planCode: string, startAt: string, fields: Record<string, unknown> = {}): Promise<string> {
  const s = await created(api, '/v1/subscriptions', { customer_id: customerId, plan_code: planCode, start_at: startAt, ...fields });
  return s.id;
}
