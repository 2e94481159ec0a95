import { Router } from 'express';
import { forkEm } from '../../db/orm';
import { customerTimeline } from '../../services/customer-timeline';
import { applyCoupon, createCustomer, customerBalance, customerTaxRates, listAppliedCoupons, listCustomers, setCustomerTaxRates, updateCustomer } from '../../services/customers';
import { customerOf } from '../../services/lookups';
import { allow } from '../auth';
import type { ApiDeps } from '../deps';
import { atomicPhase } from '../idempotency';
import { listUrl, pageOf } from '../lists';
import { ApplyCouponBody, CreateCustomerBody, CustomerTimelineQuery, ListAppliedCouponsQuery, ListCustomersQuery, SetCustomerTaxRatesBody, UpdateCustomerBody } from '../schemas/customers';
import { appliedCouponJson, customerBalanceJson, customerJson, customerTaxRatesJson, listJson, timelineEventJson } from '../serializers';
import { parse } from '../validation';

/** Customers, and what applies to one customer's invoices: its tax rates and coupons. */
export function customersRouter({ orm, stripe }: ApiDeps): Router {
  const em = forkEm(orm);
  const router = Router();

  router.post('/', allow('admin', 'support'), async (req, res) => {
    const body = parse(CreateCustomerBody, req.body);
    const created = await atomicPhase<ReturnType<typeof customerJson>>(req, 'customer_created', (record) =>
      createCustomer(em(), { name: body.name, email: body.email, currency: body.currency, externalId: body.external_id, timezone: body.timezone, netTermsDays: body.net_terms_days, invoiceGracePeriodDays: body.invoice_grace_period_days }, (tx, customer) =>
        record(tx, customerJson(customer)),
      ),
    );
    res.status(201).json(created);
  });

  /** Newest first. */
  router.get('/', async (req, res) => {
    const query = parse(ListCustomersQuery, req.query);
    res.json(listJson(listUrl(req), await listCustomers(em(), { email: query.email, externalId: query.external_id, q: query.q }, pageOf(query)), customerJson));
  });

  router.get('/:id', async (req, res) => {
    res.json(customerJson(await customerOf(em(), String(req.params.id))));
  });

  /** Stripe-style update: the fields sent change, the others stay. */
  router.post('/:id', allow('admin', 'support'), async (req, res) => {
    const body = parse(UpdateCustomerBody, req.body);
    res.json(customerJson(await updateCustomer(em(), String(req.params.id), { name: body.name, email: body.email, netTermsDays: body.net_terms_days, invoiceGracePeriodDays: body.invoice_grace_period_days })));
  });

  /** Newest first; each event names the resource to open. */
  router.get('/:id/timeline', async (req, res) => {
    const query = parse(CustomerTimelineQuery, req.query);
    res.json(listJson(listUrl(req), await customerTimeline(em(), String(req.params.id), pageOf(query)), timelineEventJson));
  });

  router.get('/:id/balance', async (req, res) => {
    res.json(customerBalanceJson(await customerBalance(em(), String(req.params.id), stripe?.gateway ?? null)));
  });

  router.get('/:id/tax_rates', async (req, res) => {
    const { customer, rates } = await customerTaxRates(em(), String(req.params.id));
    res.json(customerTaxRatesJson(customer.id, rates));
  });

  /** Replaces the customer's tax rates (by code); they apply to invoices issued from now on. */
  router.post('/:id/tax_rates', allow('admin', 'support'), async (req, res) => {
    const body = parse(SetCustomerTaxRatesBody, req.body);
    const { customer, rates } = await setCustomerTaxRates(em(), String(req.params.id), body.tax_rates);
    res.json(customerTaxRatesJson(customer.id, rates));
  });

  router.post('/:id/applied_coupons', allow('admin', 'support'), async (req, res) => {
    const body = parse(ApplyCouponBody, req.body);
    const { applied, coupon } = await applyCoupon(em(), String(req.params.id), { couponCode: body.coupon_code, subscriptionId: body.subscription_id });
    res.status(201).json(appliedCouponJson(applied, coupon));
  });

  router.get('/:id/applied_coupons', async (req, res) => {
    const query = parse(ListAppliedCouponsQuery, req.query);
    const page = await listAppliedCoupons(em(), String(req.params.id), pageOf(query));
    res.json(listJson(listUrl(req), page, ({ applied, coupon }) => appliedCouponJson(applied, coupon)));
  });

  return router;
}
