import { z } from 'zod';
import { currencyField, gracePeriodField, idField, nameField, netTermsField, timeZoneField } from './fields';
import { listQuery, PageQuery } from './pagination';

export const CreateCustomerBody = z
  .object({
    name: nameField,
    email: z.email(),
    currency: currencyField,
    external_id: z.string().min(1).max(255).optional(),
    timezone: timeZoneField.optional().describe('IANA time zone whose clock billing periods follow (default UTC)'),
    net_terms_days: netTermsField.optional().describe('Days the customer has to pay an invoice (default 0: due on issue)'),
    invoice_grace_period_days: gracePeriodField.optional(),
  })
  .strict();

/** Changes apply to invoices issued from now on; an open invoice's terms change on the invoice. */
export const UpdateCustomerBody = z
  .object({
    name: nameField.optional(),
    email: z.email().optional(),
    net_terms_days: netTermsField.optional().describe('Days the customer has to pay invoices issued from now on'),
    invoice_grace_period_days: gracePeriodField.optional().describe('For renewals issued from now on; drafts already waiting keep their grace end'),
  })
  .strict();

export const ListCustomersQuery = listQuery({
  email: z.string().min(1).optional(),
  external_id: z.string().min(1).optional(),
  q: z.string().trim().min(1).max(200).optional().describe('Search: part of the name or e-mail (any case), or the exact id or external id'),
});

/** Replaces the customer's tax rates (by code); they apply to invoices issued from now on. */
export const SetCustomerTaxRatesBody = z.object({ tax_rates: z.array(z.string().min(1)).max(10) }).strict();

/** Without `subscription_id` the coupon applies to all the customer's subscriptions. */
export const ApplyCouponBody = z.object({ coupon_code: z.string().min(1), subscription_id: idField.optional() }).strict();

export const ListAppliedCouponsQuery = PageQuery;

export const AttachPaymentMethodBody = z.object({ payment_method: z.string().regex(/^pm_[A-Za-z0-9_]+$/, 'must be a Stripe payment method id such as "pm_card_visa"') }).strict();

/** A customer's timeline, newest first; the cursor is an event's id. */
export const CustomerTimelineQuery = PageQuery;
/** Where the portal's "Return" link goes (checked again by the service: http or https only). */
export const CreatePortalSessionBody = z.object({ return_url: z.string().min(1).max(2000).optional() }).strict();
