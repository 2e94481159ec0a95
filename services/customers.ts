import { UniqueConstraintViolationException, type FilterQuery } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import Decimal from 'decimal.js';
import { AppliedCoupon, Coupon, CustomerTaxRate, TaxRate } from '../db/entities/adjustments';
import { Customer } from '../db/entities/customer';
import { Subscription } from '../db/entities/subscription';
import { newId } from '../db/ids';
import { customerCreated, customerUpdated } from '../db/resource-events';
import { customerJson } from '../db/resource-json';
import { findPage, type Page, type PageRequest } from '../db/pagination';
import { BillingError } from '../domain/errors';
import type { CardDetails, StripeGateway } from '../payments/stripe-gateway';
import { assertCompatibleRates } from '../domain/tax';
import { couponOf, customerOf } from './lookups';

export interface NewCustomer {
  name: string;
  email: string;
  currency: string;
  externalId?: string;
  timezone?: string;
  netTermsDays?: number;
  invoiceGracePeriodDays?: number;
}

/** Stores a customer; `stored` runs inside its transaction (the request's record of it). */
export async function createCustomer(em: EntityManager, input: NewCustomer, stored: (tx: EntityManager, customer: Customer) => Promise<void>): Promise<void> {
  const customer = Object.assign(new Customer(), {
    id: newId('cus'),
    name: input.name,
    email: input.email,
    currency: input.currency,
    externalId: input.externalId ?? null,
    timezone: input.timezone ?? 'UTC',
    netTermsDays: input.netTermsDays ?? 0,
    invoiceGracePeriodDays: input.invoiceGracePeriodDays ?? 0,
  });
  try {
    await em.transactional(async (tx) => {
      tx.persist(customer);
      await tx.flush();
      await customerCreated(tx, customer);
      await stored(tx, customer);
    });
  } catch (error) {
    if (error instanceof UniqueConstraintViolationException) {
      throw new BillingError('conflict_error', 'resource_already_exists', `A customer with external_id "${input.externalId}" already exists`, 'external_id');
    }
    throw error;
  }
}

/**
 * Changes name, e-mail or net terms; terms apply to invoices issued from now on (open ones keep theirs).
 * A change is reported as customer.updated; an update that changes nothing (a retry) reports nothing.
 */
export async function updateCustomer(em: EntityManager, customerId: string, changes: { name?: string; email?: string; netTermsDays?: number; invoiceGracePeriodDays?: number }): Promise<Customer> {
  return em.transactional(async (tx) => {
    const customer = await customerOf(tx, customerId);
    const before = JSON.stringify(customerJson(customer));
    if (changes.name !== undefined) customer.name = changes.name;
    if (changes.email !== undefined) customer.email = changes.email;
    if (changes.netTermsDays !== undefined) customer.netTermsDays = changes.netTermsDays;
    if (changes.invoiceGracePeriodDays !== undefined) customer.invoiceGracePeriodDays = changes.invoiceGracePeriodDays;
    await tx.flush();
    if (JSON.stringify(customerJson(customer)) !== before) await customerUpdated(tx, customer);
    return customer;
  });
}

/** `%`, `_` and `\\` are LIKE's own syntax: searched for as themselves. */
const likePattern = (text: string): string => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Newest first. `q` finds a customer by part of its name or e-mail (any case), or by its exact id or external id. */
export function listCustomers(em: EntityManager, filter: { email?: string; externalId?: string; q?: string }, page: PageRequest): Promise<Page<Customer>> {
  const where: FilterQuery<Customer> = { ...(filter.email ? { email: filter.email } : {}), ...(filter.externalId ? { externalId: filter.externalId } : {}) };
  if (filter.q) {
    const pattern = likePattern(filter.q);
    where.$or = [{ name: { $ilike: pattern } }, { email: { $ilike: pattern } }, { id: filter.q }, { externalId: filter.q }];
  }
  return findPage(em, Customer, where, { keys: ['createdAt', 'id'], direction: 'desc', noun: 'customer' }, page);
}

/** Replaces the customer's tax rates (by code, in the order given); they apply to invoices issued from now on. */
export async function setCustomerTaxRates(em: EntityManager, customerId: string, codes: string[]): Promise<{ customer: Customer; rates: TaxRate[] }> {
  const customer = await customerOf(em, customerId);
  const rates = await em.find(TaxRate, { code: codes });
  const ordered = codes.map((code, i) => {
    const rate = rates.find((r) => r.code === code);
    if (!rate) throw new BillingError('invalid_request_error', 'resource_missing', `No such tax rate: '${code}'`, `tax_rates.${i}`);
    return rate;
  });
  if (new Set(codes).size !== codes.length) throw new BillingError('invalid_request_error', 'parameter_invalid', 'Invalid tax_rates: lists a tax rate twice', 'tax_rates');
  assertCompatibleRates(ordered, 'tax_rates');
  await em.transactional(async (tx) => {
    await tx.nativeDelete(CustomerTaxRate, { customerId: customer.id });
    ordered.forEach((rate, position) => tx.persist(Object.assign(new CustomerTaxRate(), { customerId: customer.id, taxRateId: rate.id, position })));
  });
  return { customer, rates: ordered };
}

/** The customer's tax rates, in the order they apply. */
export async function customerTaxRates(em: EntityManager, customerId: string): Promise<{ customer: Customer; rates: TaxRate[] }> {
  const customer = await customerOf(em, customerId);
  const links = await em.find(CustomerTaxRate, { customerId }, { orderBy: { position: 'asc' } });
  const rates = new Map((links.length ? await em.find(TaxRate, { id: links.map((l) => l.taxRateId) }) : []).map((r) => [r.id, r]));
  return { customer, rates: links.map((l) => rates.get(l.taxRateId)!) };
}

/** Applies a coupon to all the customer's subscriptions, or to one of them. */
export async function applyCoupon(em: EntityManager, customerId: string, input: { couponCode: string; subscriptionId?: string }) {
  const customer = await customerOf(em, customerId);
  const coupon = await couponOf(em, input.couponCode, 'coupon_code');
  if (input.subscriptionId) {
    const subscription = await em.findOne(Subscription, { id: input.subscriptionId });
    if (!subscription || subscription.customerId !== customer.id) {
      throw new BillingError('invalid_request_error', 'resource_missing', `No such subscription of customer ${customer.id}: '${input.subscriptionId}'`, 'subscription_id');
    }
  }
  if (coupon.currency && coupon.currency !== customer.currency) {
    throw new BillingError('invalid_request_error', 'currency_mismatch', `Coupon ${coupon.code} takes ${coupon.currency} off, but customer ${customer.id} pays in ${customer.currency}`, 'coupon_code');
  }
  const applied = Object.assign(new AppliedCoupon(), {
    id: newId('ac'),
    couponId: coupon.id,
    customerId: customer.id,
    subscriptionId: input.subscriptionId ?? null,
    periodsRemaining: coupon.duration === 'forever' ? null : coupon.duration === 'once' ? 1 : coupon.durationPeriods,
    status: 'active' as const,
  });
  await em.persistAndFlush(applied);
  return { applied, coupon };
}

/** The coupons applied to a customer, newest first, each with its coupon. */
export async function listAppliedCoupons(em: EntityManager, customerId: string, page: PageRequest) {
  await customerOf(em, customerId);
  const applied = await findPage(em, AppliedCoupon, { customerId }, { keys: ['createdAt', 'id'], direction: 'desc', noun: 'applied coupon' }, page);
  const coupons = await couponsById(em, applied.data.map((a) => a.couponId));
  return { ...applied, data: applied.data.map((a) => ({ applied: a, coupon: coupons.get(a.couponId)! })) };
}

async function couponsById(em: EntityManager, ids: string[]) {
  return new Map((ids.length ? await em.find(Coupon, { id: ids }) : []).map((c) => [c.id, c]));
}

export interface CustomerBalance {
  customer: Customer;
  /** Credit the customer holds for later invoices (proration credits, credit notes, overpayments, less what invoices used). */
  creditBalance: Decimal;
  /** What the customer's open invoices still ask. */
  amountDue: Decimal;
  openInvoices: number;
  /** The card renewals are charged to; details are null when Stripe is not configured or does not answer. */
  paymentMethod: { id: string; card: CardDetails | null } | null;
}

/** Where the customer stands, in its currency: the credit it holds, what it owes, and the card it pays with. */
export async function customerBalance(em: EntityManager, customerId: string, gateway: StripeGateway | null = null): Promise<CustomerBalance> {
  const customer = await customerOf(em, customerId);
  const [row] = await em.execute<Array<{ credit: string | null; due: string | null; open: number }>>(
    `select (select sum(amount)::text from customer_balance_transactions where customer_id = ? and currency = ?) as credit,
            (select sum(amount_due)::text from invoices where customer_id = ? and status = 'open') as due,
            (select count(*)::int from invoices where customer_id = ? and status = 'open') as open`,
    [customer.id, customer.currency, customer.id, customer.id],
  );
  const methodId = customer.defaultPaymentMethod ?? null;
  // A page showing the balance should not fail because Stripe is slow or down: the card's id is enough to go on.
  const card = methodId && gateway ? await gateway.card(methodId).catch(() => null) : null;
  return { customer, creditBalance: new Decimal(row.credit ?? 0), amountDue: new Decimal(row.due ?? 0), openInvoices: row.open, paymentMethod: methodId ? { id: methodId, card } : null };
}
