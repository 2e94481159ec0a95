import { z } from 'zod';
import type { Role } from '../auth';
import {
  ApplyCouponBody,
  AtBody,
  AttachPaymentMethodBody,
  CreatePortalSessionBody,
  CancelBody,
  ChangePlanBody,
  ChangeQuantityBody,
  CreateCouponBody,
  CreateCreditNoteBody,
  CreateCustomerBody,
  CreateMetricBody,
  CreateInvoiceBody,
  CreateAddOnBody,
  ListAddOnsQuery,
  AttachAddOnBody,
  ListSubscriptionAddOnsQuery,
  RemoveAddOnQuery,
  CreatePaymentBody,
  CreatePlanBody,
  CreatePlanVersionBody,
  CreateRefundBody,
  CreateSubscriptionBody,
  CreateTaxRateBody,
  DeferredRevenueReportQuery,
  EmptyBody,
  ExtendTrialBody,
  ListAppliedCouponsQuery,
  ListCouponsQuery,
  ListCreditNotesQuery,
  ListCustomersQuery,
  CustomerTimelineQuery,
  ListEmailsQuery,
  ListEventsQuery,
  ListInvoicesQuery,
  JournalEntriesQuery,
  ListLedgerTransactionsQuery,
  ListMetricsQuery,
  ListPaymentsQuery,
  ListPlansQuery,
  ListPlanVersionsQuery,
  ListRefundsQuery,
  ListSubscriptionsQuery,
  ListTaxRatesQuery,
  MarkUncollectibleBody,
  AddInvoiceLineBody,
  FinalizeInvoiceBody,
  VoidInvoiceBody,
  MigratePlanBody,
  PreviewPlanMigrationBody,
  ReconciliationReportQuery,
  SetCustomerTaxRatesBody,
  ArAgingReportQuery,
  ChurnReportQuery,
  MrrReportQuery,
  UpdateCustomerBody,
  UpdateInvoiceBody,
  UpdateLedgerAccountBody,
  CreateWalletBody,
  UpdateWalletBody,
  TopUpWalletBody,
  ListWalletsQuery,
  ListWalletTransactionsQuery,
  CreateApiKeyBody,
  ListApiKeysQuery,
  ListAuditEventsQuery,
  CreateWebhookEndpointBody,
  UpdateWebhookEndpointBody,
  ListWebhookEndpointsQuery,
  ListWebhookDeliveriesQuery,
} from '../schemas';
import { UsageEvents } from './usage-events';
import * as R from './responses';
import * as S from './security-responses';

/**
 * Every operation the API serves, with the zod schemas that validate its request (imported from the
 * route code) and describe its answer (./responses). The document is generated from this list, and
 * test/contract/openapi.test.ts fails when the app mounts a route that is not here, or the other
 * way round.
 */
export interface Operation {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** OpenAPI's template: /v1/customers/{id}. */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  /** Who may call it; 'public' needs no key. */
  roles: readonly Role[] | 'public';
  body?: z.ZodType;
  query?: z.ZodObject;
  response: { status: 200 | 201 | 202; schema: z.ZodType };
  /** HTTP statuses of the errors it answers with ({ error: { type, code, message, param } }). */
  errors: readonly number[];
  /** The answer's media type when it is not JSON (the reference page). */
  contentType?: string;
  /** Other media types the answer may come as, by a query parameter (a CSV file), each a string body. */
  alsoAs?: readonly string[];
}

const ANY: readonly Role[] = ['admin', 'support', 'readonly'];
const WRITE: readonly Role[] = ['admin', 'support'];
const ADMIN: readonly Role[] = ['admin'];

/** Reads: any key; 404 for a path naming something missing. */
const read = (path: string, operationId: string, summary: string, tag: string, schema: z.ZodType, extra: Partial<Operation> = {}): Operation => ({
  method: 'get',
  path,
  operationId,
  summary,
  tag,
  roles: ANY,
  response: { status: 200, schema },
  errors: [...(extra.query ? [400] : []), 401, ...(path.includes('{') ? [404] : [])],
  ...extra,
});

/** Writes: 400 for a refused body, 403 for a key that may not, 409 for a conflict or a state that refuses, 422 for an Idempotency-Key reused with another request. */
const write = (
  path: string,
  operationId: string,
  summary: string,
  tag: string,
  roles: readonly Role[],
  body: z.ZodType | undefined,
  response: Operation['response'],
  extra: Partial<Operation> = {},
): Operation => ({
  method: 'post',
  path,
  operationId,
  summary,
  tag,
  roles,
  body,
  response,
  errors: [400, 401, 403, ...(path.includes('{') ? [404] : []), 409, 422],
  ...extra,
});

const subscriptionChange = (action: string, operationId: string, summary: string, body: z.ZodType): Operation =>
  write(`/v1/subscriptions/{id}/${action}`, operationId, summary, 'Subscriptions', WRITE, body, { status: 200, schema: R.Subscription });

export const OPERATIONS: readonly Operation[] = [
  { method: 'get', path: '/health', operationId: 'getHealth', summary: 'Liveness: the API process answers', tag: 'Service', roles: 'public', response: { status: 200, schema: R.Health }, errors: [] },

  { method: 'get', path: '/openapi.json', operationId: 'getOpenApiDocument', summary: 'This document', tag: 'Service', roles: 'public', response: { status: 200, schema: R.OpenApiDocument }, errors: [] },
  {
    method: 'get',
    path: '/docs',
    operationId: 'getReference',
    summary: 'This document as a browsable reference (Swagger UI, served from the swagger-ui-dist package)',
    tag: 'Service',
    roles: 'public',
    response: { status: 200, schema: R.HtmlPage },
    errors: [],
    contentType: 'text/html',
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    summary:
      'Prometheus metrics: request latency by route and status, usage events by outcome, and business counts read from Postgres (invoices issued, charges and webhook deliveries by outcome). No API key; a bearer METRICS_TOKEN when that is set (docs/operations.md)',
    tag: 'Service',
    roles: 'public',
    response: { status: 200, schema: R.PrometheusText },
    errors: [401],
    contentType: 'text/plain',
  },

  write('/v1/customers', 'createCustomer', 'Create a customer', 'Customers', WRITE, CreateCustomerBody, { status: 201, schema: R.Customer }),
  read('/v1/customers', 'listCustomers', 'List customers, newest first', 'Customers', R.CustomerList, { query: ListCustomersQuery }),
  read('/v1/customers/{id}', 'getCustomer', 'Retrieve a customer', 'Customers', R.Customer),
  write('/v1/customers/{id}', 'updateCustomer', "Change a customer's name, e-mail or net terms (net terms apply to invoices issued from now on)", 'Customers', WRITE, UpdateCustomerBody, { status: 200, schema: R.Customer }),
  write('/v1/customers/{id}/setup_intents', 'createSetupIntent', "A Stripe SetupIntent for the customer's browser to collect a card", 'Customers', WRITE, undefined, { status: 201, schema: R.SetupIntent }, { errors: [401, 403, 404, 409, 422, 502] }),
  write('/v1/customers/{id}/payment_methods', 'attachPaymentMethod', 'Attach a card (a Stripe payment method id) and retry open invoices with it', 'Customers', WRITE, AttachPaymentMethodBody, { status: 201, schema: R.CustomerWithPaymentMethod }, { errors: [400, 401, 403, 404, 409, 422, 502] }),
  write('/v1/customers/{id}/portal_sessions', 'createPortalSession', 'A customer portal link for this customer, valid for one hour', 'Customers', WRITE, CreatePortalSessionBody, { status: 201, schema: R.PortalSession }),
  write('/v1/customers/{id}/tax_rates', 'setCustomerTaxRates', "Replace the customer's tax rates", 'Tax rates', WRITE, SetCustomerTaxRatesBody, { status: 200, schema: R.CustomerTaxRates }),
  read('/v1/customers/{id}/tax_rates', 'getCustomerTaxRates', "The customer's tax rates, in the order they apply", 'Tax rates', R.CustomerTaxRates),
  write('/v1/customers/{id}/applied_coupons', 'applyCoupon', 'Apply a coupon to the customer or one of its subscriptions', 'Coupons', WRITE, ApplyCouponBody, { status: 201, schema: R.AppliedCoupon }),
  read('/v1/customers/{id}/timeline', 'listCustomerTimeline', 'Everything that happened to the customer, newest first: subscriptions, invoices, payments and failed attempts, refunds, credit, e-mails', 'Customers', R.TimelineEventList, { query: CustomerTimelineQuery }),
  read('/v1/customers/{id}/balance', 'getCustomerBalance', 'The credit the customer holds, what its open invoices ask, and the card it is charged to', 'Customers', R.CustomerBalance),
  read('/v1/customers/{id}/applied_coupons', 'listAppliedCoupons', "List the customer's applied coupons, newest first", 'Coupons', R.AppliedCouponList, { query: ListAppliedCouponsQuery }),

  write('/v1/metrics', 'createMetric', 'Create a billable metric', 'Metrics', ADMIN, CreateMetricBody, { status: 201, schema: R.BillableMetric }),
  read('/v1/metrics', 'listMetrics', 'List billable metrics, newest first', 'Metrics', R.BillableMetricList, { query: ListMetricsQuery }),
  read('/v1/metrics/{code}', 'getMetric', 'Retrieve a billable metric by code', 'Metrics', R.BillableMetric),

  write('/v1/plans', 'createPlan', 'Create a plan (version 1)', 'Plans', ADMIN, CreatePlanBody, { status: 201, schema: R.Plan }),
  read('/v1/plans', 'listPlans', 'List every version of every plan, newest first', 'Plans', R.PlanList, { query: ListPlansQuery }),
  read('/v1/plans/{code}', 'getPlan', "Retrieve a plan's newest version", 'Plans', R.Plan),
  write('/v1/plans/{code}/versions', 'createPlanVersion', 'Create a new version of a plan', 'Plans', ADMIN, CreatePlanVersionBody, { status: 201, schema: R.Plan }),
  read('/v1/plans/{code}/versions', 'listPlanVersions', "List a plan's versions, oldest first", 'Plans', R.PlanList, { query: ListPlanVersionsQuery }),
  write('/v1/plans/{code}/migrations', 'migratePlan', 'Start moving subscriptions on older versions to a newer one at their next renewal (a workflow, in batches)', 'Plans', ADMIN, MigratePlanBody, { status: 202, schema: R.PlanMigrationRun }),
  write('/v1/plans/{code}/migrations/preview', 'previewPlanMigration', "Each subscription's next invoice on its version and on the new one; changes nothing", 'Plans', ADMIN, PreviewPlanMigrationBody, { status: 200, schema: R.PlanMigration }),
  read('/v1/plans/{code}/migrations/{id}', 'getPlanMigration', "A migration's progress: each subscription handled so far and its outcome", 'Plans', R.PlanMigrationRun),

  write('/v1/subscriptions', 'createSubscription', 'Create a subscription (starts its workflow)', 'Subscriptions', WRITE, CreateSubscriptionBody, { status: 201, schema: R.Subscription }),
  read('/v1/subscriptions', 'listSubscriptions', 'List subscriptions, newest first, as last mirrored into the database', 'Subscriptions', R.SubscriptionList, { query: ListSubscriptionsQuery }),
  read('/v1/subscriptions/{id}', 'getSubscription', 'Retrieve a subscription, read live from its workflow', 'Subscriptions', R.Subscription),
  read('/v1/subscriptions/{id}/usage', 'getSubscriptionUsage', 'Usage not billed yet and the next invoice as it would be issued now', 'Subscriptions', R.SubscriptionUsage),
  subscriptionChange('cancel', 'cancelSubscription', 'Cancel now, at period end or at an instant', CancelBody),
  subscriptionChange('change_plan', 'changeSubscriptionPlan', 'Change the plan now, at period end or at an instant', ChangePlanBody),
  write('/v1/subscriptions/{id}/change_plan/preview', 'previewSubscriptionPlanChange', 'The invoice a plan change would produce; changes nothing', 'Subscriptions', ANY, ChangePlanBody, {
    status: 200,
    schema: R.PlanChangePreview,
  }),
  subscriptionChange('change_quantity', 'changeSubscriptionQuantity', 'Change the seats now (prorated or not), at period end or at an instant', ChangeQuantityBody),
  write('/v1/subscriptions/{id}/change_quantity/preview', 'previewSubscriptionQuantityChange', 'The invoice a change of seats would produce; changes nothing', 'Subscriptions', ANY, ChangeQuantityBody, {
    status: 200,
    schema: R.QuantityChangePreview,
  }),
  subscriptionChange('pause', 'pauseSubscription', 'Pause billing', AtBody),
  subscriptionChange('resume', 'resumeSubscription', 'Resume billing', AtBody),
  subscriptionChange('end_trial', 'endSubscriptionTrial', 'End the trial now', EmptyBody),
  subscriptionChange('extend_trial', 'extendSubscriptionTrial', 'Move the end of the trial', ExtendTrialBody),
  subscriptionChange('reactivate', 'reactivateSubscription', 'Take back a scheduled cancellation', EmptyBody),
  {
    method: 'delete',
    path: '/v1/subscriptions/{id}/scheduled_changes/{change_id}',
    operationId: 'deleteScheduledChange',
    summary: 'Take back a scheduled change',
    tag: 'Subscriptions',
    roles: WRITE,
    response: { status: 200, schema: R.Subscription },
    errors: [400, 401, 403, 404, 409],
  },

  write('/v1/subscriptions/{id}/add_ons', 'attachSubscriptionAddOn', 'Attach an add-on: a recurring one (on the plan\'s cadence) is prorated for the rest of the period now, a one-time one billed on the next invoice or now', 'Add-ons', WRITE, AttachAddOnBody, { status: 201, schema: R.SubscriptionAddOnChange }),
  read('/v1/subscriptions/{id}/add_ons', 'listSubscriptionAddOns', "List a subscription's add-ons, removed and billed ones included, oldest first", 'Add-ons', R.SubscriptionAddOnList, { query: ListSubscriptionAddOnsQuery }),
  {
    method: 'delete',
    path: '/v1/subscriptions/{id}/add_ons/{item_id}',
    operationId: 'removeSubscriptionAddOn',
    summary: 'Remove an add-on from a subscription; the unused time of a recurring one is credited',
    tag: 'Add-ons',
    roles: WRITE,
    query: RemoveAddOnQuery,
    response: { status: 200, schema: R.SubscriptionAddOnChange },
    errors: [400, 401, 403, 404, 409],
  },
  write('/v1/add_ons', 'createAddOn', 'Create an add-on: recurring with an interval, otherwise billed once', 'Add-ons', ADMIN, CreateAddOnBody, { status: 201, schema: R.AddOn }),
  read('/v1/add_ons', 'listAddOns', 'List add-ons, newest first', 'Add-ons', R.AddOnList, { query: ListAddOnsQuery }),
  read('/v1/add_ons/{code}', 'getAddOn', 'Retrieve an add-on', 'Add-ons', R.AddOn),

  write('/v1/invoices', 'createInvoice', 'Issue a one-off invoice (one-time add-ons or described lines), taxed, discounted and numbered like every invoice; collect (default true) charges the card on file', 'Invoices', WRITE, CreateInvoiceBody, { status: 201, schema: R.Invoice }),
  read('/v1/invoices', 'listInvoices', 'List invoices, newest first', 'Invoices', R.InvoiceList, { query: ListInvoicesQuery }),
  read('/v1/invoices/{id}', 'getInvoice', 'Retrieve an invoice with its lines', 'Invoices', R.Invoice),
  read('/v1/invoices/{id}/pdf', 'getInvoicePdf', 'Download an invoice as a PDF (an attachment named after its number, or its id while a draft); the same invoice gives the same bytes', 'Invoices', R.PdfFile, { contentType: 'application/pdf' }),
  write('/v1/invoices/{id}', 'updateInvoice', "Change an open invoice's payment terms (days_until_due; due_at follows)", 'Invoices', WRITE, UpdateInvoiceBody, { status: 200, schema: R.Invoice }),
  write('/v1/invoices/{id}/payments', 'recordPayment', 'Record a payment received by hand (a transfer)', 'Invoices', WRITE, CreatePaymentBody, { status: 201, schema: R.PaymentWithInvoice }),
  read('/v1/invoices/{id}/payments', 'listInvoicePayments', "List an invoice's payments, oldest first", 'Invoices', R.PaymentList, { query: ListPaymentsQuery }),
  read('/v1/invoices/{id}/collection', 'getInvoiceCollection', "Where an invoice's collection stands: card attempts with decline codes, the dunning state (next retry) and whether its subscription is suspended", 'Invoices', R.InvoiceCollection),
  write('/v1/invoices/{id}/refunds', 'refundInvoice', 'Refund an invoice, through Stripe for card payments', 'Refunds and credit notes', WRITE, CreateRefundBody, { status: 201, schema: R.RefundSummary }, { errors: [400, 401, 403, 404, 409, 422, 502] }),
  read('/v1/invoices/{id}/refunds', 'listInvoiceRefunds', "List an invoice's refunds", 'Refunds and credit notes', R.RefundList, { query: ListRefundsQuery }),
  write('/v1/invoices/{id}/credit_notes', 'issueCreditNote', 'Issue a credit note against an invoice', 'Refunds and credit notes', WRITE, CreateCreditNoteBody, { status: 201, schema: R.CreditNoteWithInvoice }),
  read('/v1/invoices/{id}/credit_notes', 'listInvoiceCreditNotes', "List an invoice's credit notes", 'Refunds and credit notes', R.CreditNoteList, { query: ListCreditNotesQuery }),
  write('/v1/invoices/{id}/mark_uncollectible', 'markInvoiceUncollectible', 'Write an invoice off', 'Invoices', WRITE, MarkUncollectibleBody, { status: 200, schema: R.Invoice }),
  write('/v1/invoices/{id}/lines', 'addInvoiceLine', "Add a line to a draft invoice (a negative unit_amount is a credit); the draft's discounts, taxes and totals are computed again", 'Invoices', WRITE, AddInvoiceLineBody, { status: 201, schema: R.Invoice }),
  write('/v1/invoices/{id}/finalize', 'finalizeInvoice', 'Finalise a draft now: numbered, posted to the ledger, customer credit applied, collected at once; a finalised invoice is returned as it is', 'Invoices', WRITE, FinalizeInvoiceBody, { status: 200, schema: R.Invoice }),
  write('/v1/invoices/{id}/void', 'voidInvoice', 'Void an open invoice nothing was paid on: it keeps its number, the ledger reverses it (recognised revenue included), credit used on it goes back, collection stops', 'Invoices', WRITE, VoidInvoiceBody, { status: 200, schema: R.Invoice }),

  write('/v1/coupons', 'createCoupon', 'Create a coupon', 'Coupons', ADMIN, CreateCouponBody, { status: 201, schema: R.Coupon }),
  read('/v1/coupons', 'listCoupons', 'List coupons, newest first', 'Coupons', R.CouponList, { query: ListCouponsQuery }),
  read('/v1/coupons/{code}', 'getCoupon', 'Retrieve a coupon by code', 'Coupons', R.Coupon),
  write('/v1/tax_rates', 'createTaxRate', 'Create a tax rate', 'Tax rates', ADMIN, CreateTaxRateBody, { status: 201, schema: R.TaxRate }),
  read('/v1/tax_rates', 'listTaxRates', 'List tax rates, newest first', 'Tax rates', R.TaxRateList, { query: ListTaxRatesQuery }),
  read('/v1/tax_rates/{code}', 'getTaxRate', 'Retrieve a tax rate by code', 'Tax rates', R.TaxRate),

  read('/v1/ledger/balances', 'getLedgerBalances', 'Balances of every ledger account per currency', 'Ledger', R.LedgerBalances),
  read('/v1/ledger/transactions', 'listLedgerTransactions', 'Posted ledger transactions with their entries, newest first', 'Ledger', R.LedgerTransactionList, { query: ListLedgerTransactionsQuery }),
  read('/v1/reports/deferred_revenue', 'getDeferredRevenueReport', 'The deferred revenue waterfall per UTC month: opening, billed, recognized, other movements, closing (checked against the ledger)', 'Reports', R.DeferredRevenueReport, { query: DeferredRevenueReportQuery }),
  read('/v1/reports/reconciliation', 'getReconciliationReport', 'Invoices, payments, refunds, credit notes, write-offs and credit applied in a range of UTC days against their ledger postings, and the trial balance', 'Reports', R.ReconciliationReport, { query: ReconciliationReportQuery }),
  read('/v1/reports/mrr', 'getMrrReport', 'MRR and ARR at each UTC month end, with the movements between months (new, expansion, contraction, churn, reactivation) checked to add up', 'Reports', R.MrrReport, { query: MrrReportQuery }),
  read('/v1/reports/churn', 'getChurnReport', 'Logo churn and gross and net revenue churn per UTC month, with their definitions', 'Reports', R.ChurnReport, { query: ChurnReportQuery }),
  read('/v1/reports/ar_aging', 'getArAgingReport', 'Open receivables by customer in buckets of days past due (not yet due, 1-30, 31-60, 61-90, 91-120, over 120)', 'Reports', R.ArAgingReport, { query: ArAgingReportQuery }),
  read('/v1/ledger/accounts', 'listLedgerAccounts', 'The chart of accounts, each with the GL code and name it exports under', 'Ledger', R.LedgerAccountList),
  {
    method: 'patch',
    path: '/v1/ledger/accounts/{code}',
    operationId: 'updateLedgerAccount',
    summary: "Map an account to the general ledger: its GL code (null clears it) and the name it exports under",
    tag: 'Ledger',
    roles: ADMIN,
    body: UpdateLedgerAccountBody,
    response: { status: 200, schema: R.LedgerAccount },
    errors: [400, 401, 403, 404],
  },
  read('/v1/accounting_periods', 'listAccountingPeriods', 'The closed accounting periods (UTC months), oldest first, then the current month', 'Accounting', R.AccountingPeriodList),
  write('/v1/accounting_periods/{period}/close', 'closeAccountingPeriod', 'Close a month that has ended (YYYY-MM); nothing posts into it afterwards, closing again answers the first close', 'Accounting', ADMIN, undefined, {
    status: 200,
    schema: R.AccountingPeriod,
  }, { errors: [400, 401, 403, 409, 422] }),
  read(
    '/v1/journal_entries',
    'listJournalEntries',
    'The ledger as journals for a range of UTC days (from inclusive, to exclusive): JSON, or a CSV file (plain, QuickBooks Online or Xero import)',
    'Accounting',
    R.JournalEntryList,
    { query: JournalEntriesQuery, alsoAs: ['text/csv'] },
  ),
  read('/v1/emails', 'listEmails', 'The e-mail outbox, newest first', 'E-mails', R.EmailList, { query: ListEmailsQuery }),
  read('/v1/events', 'listEvents', 'What happened, newest first: each event carries its object as the API showed it then (webhooks deliver the same)', 'Events', R.EventList, { query: ListEventsQuery }),
  read('/v1/events/{id}', 'getEvent', 'Retrieve an event', 'Events', R.Event),

  write('/v1/wallets', 'createWallet', "Create a customer's prepaid credit wallet: granted credits at once, paid credits invoiced and spendable once paid", 'Wallets', WRITE, CreateWalletBody, { status: 201, schema: R.Wallet }),
  read('/v1/wallets', 'listWallets', "List a customer's wallets, newest first", 'Wallets', R.WalletList, { query: ListWalletsQuery }),
  read('/v1/wallets/{id}', 'getWallet', 'Retrieve a wallet with its balances', 'Wallets', R.Wallet),
  write('/v1/wallets/{id}', 'updateWallet', "Change a wallet's name, expiry or automatic top-up (null clears a setting)", 'Wallets', WRITE, UpdateWalletBody, { status: 200, schema: R.Wallet }),
  write('/v1/wallets/{id}/top_ups', 'topUpWallet', 'Add paid (invoiced) and granted credits to a wallet', 'Wallets', WRITE, TopUpWalletBody, { status: 201, schema: R.Wallet }),
  read('/v1/wallets/{id}/transactions', 'listWalletTransactions', "A wallet's transactions, newest first", 'Wallets', R.WalletTransactionList, { query: ListWalletTransactionsQuery }),
  write('/v1/wallets/{id}/terminate', 'terminateWallet', 'Terminate a wallet: what it still holds is forfeited', 'Wallets', WRITE, EmptyBody, { status: 200, schema: R.Wallet }),

  write('/v1/webhook_endpoints', 'createWebhookEndpoint', 'Create a webhook endpoint: events of the types it names (or ["*"]) are POSTed to its URL, signed (Standard Webhooks); the answer carries its secret, shown only here and at rotation', 'Webhooks', ADMIN, CreateWebhookEndpointBody, { status: 201, schema: R.WebhookEndpointWithSecret }),
  read('/v1/webhook_endpoints', 'listWebhookEndpoints', 'List webhook endpoints, newest first', 'Webhooks', R.WebhookEndpointList, { query: ListWebhookEndpointsQuery, roles: ADMIN, errors: [400, 401, 403] }),
  read('/v1/webhook_endpoints/{id}', 'getWebhookEndpoint', 'Retrieve a webhook endpoint (without its secret)', 'Webhooks', R.WebhookEndpoint, { roles: ADMIN, errors: [401, 403, 404] }),
  write('/v1/webhook_endpoints/{id}', 'updateWebhookEndpoint', "Change an endpoint's URL, events, description or status; disabling it stops its pending deliveries, enabling it clears why it was disabled", 'Webhooks', ADMIN, UpdateWebhookEndpointBody, { status: 200, schema: R.WebhookEndpoint }),
  {
    method: 'delete',
    path: '/v1/webhook_endpoints/{id}',
    operationId: 'deleteWebhookEndpoint',
    summary: 'Delete a webhook endpoint: nothing more is sent to it, its pending deliveries stop; its deliveries stay listed',
    tag: 'Webhooks',
    roles: ADMIN,
    response: { status: 200, schema: R.WebhookEndpoint },
    errors: [401, 403, 404],
  },
  write('/v1/webhook_endpoints/{id}/rotate_secret', 'rotateWebhookSecret', 'Give the endpoint a new secret; the previous one keeps signing beside it for 24 hours', 'Webhooks', ADMIN, undefined, { status: 200, schema: R.WebhookEndpointWithSecret }),
  read('/v1/webhook_endpoints/{id}/deliveries', 'listWebhookDeliveries', "List an endpoint's deliveries, newest first, each with its attempts (status code, latency, an excerpt of the answer, the error)", 'Webhooks', R.WebhookDeliveryList, {
    query: ListWebhookDeliveriesQuery,
    roles: ADMIN,
    errors: [400, 401, 403, 404],
  }),
  read('/v1/webhook_deliveries/{id}', 'getWebhookDelivery', 'Retrieve a webhook delivery with its attempts', 'Webhooks', R.WebhookDelivery, { roles: ADMIN, errors: [401, 403, 404] }),
  write('/v1/webhook_deliveries/{id}/resend', 'resendWebhookDelivery', 'Send a failed delivery again: a new run of the whole retry schedule, its attempts numbered after the earlier ones', 'Webhooks', ADMIN, undefined, { status: 200, schema: R.WebhookDelivery }),

  {
    method: 'post',
    path: '/v1/usage_events',
    operationId: 'ingestUsageEvents',
    summary: 'Ingest usage events (deduplicated on transaction_id); 202 once stored, with per-event rejections',
    tag: 'Usage',
    roles: WRITE,
    body: UsageEvents,
    response: { status: 202, schema: R.UsageEventBatch },
    errors: [400, 401, 403],
  },

  write('/v1/api_keys', 'createApiKey', 'Make an API key; the answer is the only time its secret is shown', 'API keys', ADMIN, CreateApiKeyBody, { status: 201, schema: S.CreatedApiKey }),
  { ...read('/v1/api_keys', 'listApiKeys', 'List the keys made through the API (never their secrets), newest first', 'API keys', S.ApiKeyList, { query: ListApiKeysQuery }), roles: ADMIN, errors: [400, 401, 403] },
  {
    method: 'delete',
    path: '/v1/api_keys/{id}',
    operationId: 'revokeApiKey',
    summary: 'Revoke a key: every API process refuses it from the next request on',
    tag: 'API keys',
    roles: ADMIN,
    response: { status: 200, schema: S.ApiKey },
    errors: [401, 403, 404],
  },
  {
    ...read('/v1/audit_events', 'listAuditEvents', 'Every change made through the API, newest first, with its actor, request and the resource before and after', 'Audit', S.AuditEventList, { query: ListAuditEventsQuery }),
    roles: ADMIN,
    errors: [400, 401, 403],
  },

  {
    method: 'post',
    path: '/webhooks/stripe',
    operationId: 'receiveStripeEvent',
    summary: "Stripe's webhook: checked against the Stripe-Signature header",
    tag: 'Webhooks',
    roles: 'public',
    response: { status: 200, schema: R.WebhookReceipt },
    errors: [400, 404],
  },
];
