import { UniqueConstraintViolationException } from '@mikro-orm/core';
import Decimal from 'decimal.js';
import { Router } from 'express';
import { z } from 'zod';
import { AppliedCoupon, Coupon, CustomerTaxRate, TaxRate } from '../../db/entities/adjustments';
import { Customer } from '../../db/entities/customer';
import { Subscription } from '../../db/entities/subscription';
import { newId } from '../../db/ids';
import { forkEm } from '../../db/orm';
import { COUPON_DURATIONS } from '../../domain/discounts';
import { BillingError } from '../../domain/errors';
import { assertCompatibleRates } from '../../domain/tax';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { appliedCouponJson, couponJson, taxRateJson } from '../serializers';
import { amountField, assertFitsCurrency, assertStorableAmount, currencyField, parse } from '../validation';
import { codeField } from './metrics';

const percentField = z.string().regex(/^\d{1,3}(\.\d{1,6})?$/, 'must be a percentage as a decimal string, such as "20" or "8.875"');

export const CreateCoupon = z
  .object({
    code: codeField,
    name: z.string().trim().min(1).max(200),
    percent_off: percentField.optional(),
    amount_off: amountField.optional(),
    currency: currencyField.optional(),
    duration: z.enum(COUPON_DURATIONS),
    duration_periods: z.number().int().min(1).max(1000).optional(),
  })
  .strict();

export const ApplyCoupon = z.object({ coupon_code: z.string().min(1), customer_id: z.string().min(1), subscription_id: z.string().min(1).optional() }).strict();

export const CreateTaxRate = z.object({ code: codeField, name: z.string().trim().min(1).max(200), percentage: percentField, inclusive: z.boolean().optional() }).strict();

export const SetCustomerTaxRates = z.object({ tax_rates: z.array(z.string().min(1)).max(10) }).strict();

const invalid = (param: string, message: string) => new BillingError('invalid_request_error', 'parameter_invalid', `Invalid ${param}: ${message}`, param);

const alreadyExists = (what: string, code: string) => (error: unknown) => {
  if (error instanceof UniqueConstraintViolationException) {
    throw new BillingError('conflict_error', 'resource_already_exists', `A ${what} with code "${code}" already exists`, 'code');
  }
  throw error;
};

/** Coupons, their application to customers and subscriptions, and tax rates. */
export function adjustmentsRouter({ orm }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/coupons', allow('admin'), async (req, res) => {
    const body = parse(CreateCoupon, req.body);
    if ((body.percent_off === undefined) === (body.amount_off === undefined)) throw invalid('percent_off', 'give exactly one of percent_off and amount_off');
    if (body.percent_off !== undefined && (new Decimal(body.percent_off).isZero() || new Decimal(body.percent_off).gt(100))) throw invalid('percent_off', 'must be more than 0 and at most 100');
    if (body.amount_off !== undefined) {
      if (!body.currency) throw new BillingError('invalid_request_error', 'parameter_missing', 'Missing required param: currency (an amount_off coupon is in one currency)', 'currency');
      if (new Decimal(body.amount_off).isZero()) throw invalid('amount_off', 'must be more than 0');
      assertFitsCurrency(body.amount_off, body.currency, 'amount_off');
      assertStorableAmount(body.amount_off, 'amount_off');
    } else if (body.currency) throw invalid('currency', 'only an amount_off coupon has a currency');
    if ((body.duration === 'repeating') !== (body.duration_periods !== undefined)) {
      throw invalid('duration_periods', 'is required with duration "repeating" and only then');
    }
    const coupon = Object.assign(new Coupon(), {
      id: newId('coupon'),
      code: body.code,
      name: body.name,
      percentOff: body.percent_off === undefined ? null : new Decimal(body.percent_off),
      amountOff: body.amount_off === undefined ? null : new Decimal(body.amount_off),
      currency: body.currency ?? null,
      duration: body.duration,
      durationPeriods: body.duration_periods ?? null,
    });
    await em().persistAndFlush(coupon).catch(alreadyExists('coupon', body.code));
    res.status(201).json(couponJson(coupon));
  });

  router.post('/applied_coupons', allow('admin', 'support'), async (req, res) => {
    const body = parse(ApplyCoupon, req.body);
    const coupon = await em().findOne(Coupon, { code: body.coupon_code });
    if (!coupon) throw new BillingError('invalid_request_error', 'resource_missing', `No such coupon: '${body.coupon_code}'`, 'coupon_code');
    const customer = await em().findOne(Customer, { id: body.customer_id });
    if (!customer) throw new BillingError('invalid_request_error', 'resource_missing', `No such customer: '${body.customer_id}'`, 'customer_id');
    if (body.subscription_id) {
      const subscription = await em().findOne(Subscription, { id: body.subscription_id });
      if (!subscription || subscription.customerId !== customer.id) {
        throw new BillingError('invalid_request_error', 'resource_missing', `No such subscription of customer ${customer.id}: '${body.subscription_id}'`, 'subscription_id');
      }
    }
    if (coupon.currency && coupon.currency !== customer.currency) {
      throw new BillingError('invalid_request_error', 'currency_mismatch', `Coupon ${coupon.code} takes ${coupon.currency} off, but customer ${customer.id} pays in ${customer.currency}`, 'coupon_code');
    }
    const applied = Object.assign(new AppliedCoupon(), {
      id: newId('ac'),
      couponId: coupon.id,
      customerId: customer.id,
      subscriptionId: body.subscription_id ?? null,
      periodsRemaining: coupon.duration === 'forever' ? null : coupon.duration === 'once' ? 1 : coupon.durationPeriods,
      status: 'active' as const,
    });
    await em().persistAndFlush(applied);
    res.status(201).json(appliedCouponJson(applied, coupon));
  });

  router.post('/tax_rates', allow('admin'), async (req, res) => {
    const body = parse(CreateTaxRate, req.body);
    if (new Decimal(body.percentage).gt(100)) throw invalid('percentage', 'must be at most 100');
    const rate = Object.assign(new TaxRate(), { id: newId('txr'), code: body.code, name: body.name, percentage: new Decimal(body.percentage), inclusive: body.inclusive ?? false });
    await em().persistAndFlush(rate).catch(alreadyExists('tax rate', body.code));
    res.status(201).json(taxRateJson(rate));
  });

  /** Replaces the customer's tax rates (by code); they apply to invoices issued from now on. */
  router.post('/customers/:id/tax_rates', allow('admin', 'support'), async (req, res) => {
    const body = parse(SetCustomerTaxRates, req.body);
    const customer = await em().findOne(Customer, { id: String(req.params.id) });
    if (!customer) throw new BillingError('not_found_error', 'resource_missing', `No such customer: '${req.params.id}'`, 'id');
    const rates = await em().find(TaxRate, { code: body.tax_rates });
    const ordered = body.tax_rates.map((code, i) => {
      const rate = rates.find((r) => r.code === code);
      if (!rate) throw new BillingError('invalid_request_error', 'resource_missing', `No such tax rate: '${code}'`, `tax_rates.${i}`);
      return rate;
    });
    if (new Set(body.tax_rates).size !== body.tax_rates.length) throw invalid('tax_rates', 'lists a tax rate twice');
    assertCompatibleRates(ordered, 'tax_rates');
    await em().transactional(async (tx) => {
      await tx.nativeDelete(CustomerTaxRate, { customerId: customer.id });
      ordered.forEach((rate, position) => tx.persist(Object.assign(new CustomerTaxRate(), { customerId: customer.id, taxRateId: rate.id, position })));
    });
    res.json({ object: 'list', customer_id: customer.id, data: ordered.map(taxRateJson) });
  });

  return router;
}
