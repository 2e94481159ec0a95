import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { Coupon, TaxRate } from '../db/entities/adjustments';
import { BillableMetric } from '../db/entities/usage';
import { newId } from '../db/ids';
import { findPage, type Page, type PageRequest } from '../db/pagination';
import type { CouponDuration } from '../domain/discounts';
import { BillingError } from '../domain/errors';
import { assertFitsCurrency, assertStorableAmount } from './amounts';
import { assertValidMetric, type Aggregation } from '../domain/usage';

/** Billable metrics, coupons and tax rates: immutable once created, so invoices stay explainable. */

const NEWEST_FIRST = ['createdAt', 'id'] as const;

const invalid = (param: string, message: string) => new BillingError('invalid_request_error', 'parameter_invalid', `Invalid ${param}: ${message}`, param);

const alreadyExists = (what: string, code: string) => (error: unknown) => {
  if (error instanceof UniqueConstraintViolationException) {
    throw new BillingError('conflict_error', 'resource_already_exists', `A ${what} with code "${code}" already exists`, 'code');
  }
  throw error;
};

export async function createMetric(em: EntityManager, input: { code: string; name: string; aggregation: Aggregation; field?: string }): Promise<BillableMetric> {
  assertValidMetric(input.aggregation, input.field);
  const metric = Object.assign(new BillableMetric(), { id: newId('bm'), code: input.code, name: input.name, aggregation: input.aggregation, field: input.field ?? null });
  await em.persistAndFlush(metric).catch(alreadyExists('billable metric', input.code));
  return metric;
}

export async function metricOf(em: EntityManager, code: string): Promise<BillableMetric> {
  const metric = await em.findOne(BillableMetric, { code });
  if (!metric) throw new BillingError('not_found_error', 'resource_missing', `No such billable metric: '${code}'`, 'code');
  return metric;
}

export const listMetrics = (em: EntityManager, page: PageRequest): Promise<Page<BillableMetric>> =>
  findPage(em, BillableMetric, {}, { keys: NEWEST_FIRST, direction: 'desc', noun: 'billable metric' }, page);

export interface NewCoupon {
  code: string;
  name: string;
  percentOff?: string;
  amountOff?: string;
  currency?: string;
  duration: CouponDuration;
  durationPeriods?: number;
}

/** Exactly one of a percentage and an amount (in one currency) off. */
export async function createCoupon(em: EntityManager, input: NewCoupon): Promise<Coupon> {
  if ((input.percentOff === undefined) === (input.amountOff === undefined)) throw invalid('percent_off', 'give exactly one of percent_off and amount_off');
  if (input.percentOff !== undefined && (new Decimal(input.percentOff).isZero() || new Decimal(input.percentOff).gt(100))) throw invalid('percent_off', 'must be more than 0 and at most 100');
  if (input.amountOff !== undefined) {
    if (!input.currency) throw new BillingError('invalid_request_error', 'parameter_missing', 'Missing required param: currency (an amount_off coupon is in one currency)', 'currency');
    if (new Decimal(input.amountOff).isZero()) throw invalid('amount_off', 'must be more than 0');
    assertFitsCurrency(input.amountOff, input.currency, 'amount_off');
    assertStorableAmount(input.amountOff, 'amount_off');
  } else if (input.currency) throw invalid('currency', 'only an amount_off coupon has a currency');
  if ((input.duration === 'repeating') !== (input.durationPeriods !== undefined)) {
    throw invalid('duration_periods', 'is required with duration "repeating" and only then');
  }
  const coupon = Object.assign(new Coupon(), {
    id: newId('coupon'),
    code: input.code,
    name: input.name,
    percentOff: input.percentOff === undefined ? null : new Decimal(input.percentOff),
    amountOff: input.amountOff === undefined ? null : new Decimal(input.amountOff),
    currency: input.currency ?? null,
    duration: input.duration,
    durationPeriods: input.durationPeriods ?? null,
  });
  await em.persistAndFlush(coupon).catch(alreadyExists('coupon', input.code));
  return coupon;
}

export const listCoupons = (em: EntityManager, page: PageRequest): Promise<Page<Coupon>> => findPage(em, Coupon, {}, { keys: NEWEST_FIRST, direction: 'desc', noun: 'coupon' }, page);

export async function createTaxRate(em: EntityManager, input: { code: string; name: string; percentage: string; inclusive?: boolean }): Promise<TaxRate> {
  if (new Decimal(input.percentage).gt(100)) throw invalid('percentage', 'must be at most 100');
  const rate = Object.assign(new TaxRate(), { id: newId('txr'), code: input.code, name: input.name, percentage: new Decimal(input.percentage), inclusive: input.inclusive ?? false });
  await em.persistAndFlush(rate).catch(alreadyExists('tax rate', input.code));
  return rate;
}

export const listTaxRates = (em: EntityManager, page: PageRequest): Promise<Page<TaxRate>> => findPage(em, TaxRate, {}, { keys: NEWEST_FIRST, direction: 'desc', noun: 'tax rate' }, page);
