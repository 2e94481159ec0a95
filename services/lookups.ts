import type { EntityManager } from '@mikro-orm/postgresql';
import { Coupon, TaxRate } from '../db/entities/adjustments';
import { Customer } from '../db/entities/customer';
import { Invoice } from '../db/entities/invoice';
import { Plan } from '../db/entities/plan';
import { latestPlan } from '../db/plan-store';
import { BillingError } from '../domain/errors';

/**
 * Finding what a request names, or the error that says it is missing. `param` is the request field
 * that named it: a path's `id` or `code` is a 404; a field of the body is a 400 naming the field.
 */
const missing = (what: string, value: string, param: string) =>
  new BillingError(param === 'id' || param === 'code' ? 'not_found_error' : 'invalid_request_error', 'resource_missing', `No such ${what}: '${value}'`, param);

export async function customerOf(em: EntityManager, id: string, param = 'id'): Promise<Customer> {
  const customer = await em.findOne(Customer, { id });
  if (!customer) throw missing('customer', id, param);
  return customer;
}

export async function invoiceOf(em: EntityManager, id: string, param = 'id'): Promise<Invoice> {
  const invoice = await em.findOne(Invoice, { id });
  if (!invoice) throw missing('invoice', id, param);
  return invoice;
}

export async function couponOf(em: EntityManager, code: string, param = 'code'): Promise<Coupon> {
  const coupon = await em.findOne(Coupon, { code });
  if (!coupon) throw missing('coupon', code, param);
  return coupon;
}

export async function taxRateOf(em: EntityManager, code: string, param = 'code'): Promise<TaxRate> {
  const rate = await em.findOne(TaxRate, { code });
  if (!rate) throw missing('tax rate', code, param);
  return rate;
}

/** The newest version of a plan, or the version asked for. */
export async function planOf(em: EntityManager, code: string, version?: number, param = 'code'): Promise<Plan> {
  const plan = version === undefined ? await latestPlan(em, code) : await em.findOne(Plan, { code, version });
  if (!plan) {
    throw new BillingError(
      param === 'code' ? 'not_found_error' : 'invalid_request_error',
      'resource_missing',
      `No such plan: '${code}'${version ? ` version ${version}` : ''}`,
      version ? 'plan_version' : param,
    );
  }
  return plan;
}
