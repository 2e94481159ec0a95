import { z } from 'zod';
import { CANCELLATION_REASONS } from '../../domain/cancellation';
import { COUPON_DURATIONS } from '../../domain/discounts';
import { AGGREGATIONS } from '../../domain/usage';
import { CHARGE_MODELS } from '../../domain/pricing';
import { RECONCILED_TYPES } from '../../domain/reconciliation';
import { LEDGER_SOURCE_TYPES } from '../../domain/ledger';
import { TIMELINE_EVENT_TYPES, TIMELINE_RESOURCES } from '../../services/customer-timeline';
import { WALLET_TOP_UP_TRIGGERS, WALLET_TRANSACTION_KINDS, WALLET_TRANSACTION_STATUSES } from '../../domain/wallet';
import { EVENT_TYPES } from '../../domain/events';

/**
 * What api/serializers.ts (and the few answers built in a route) produce, as zod schemas: the
 * document's response schemas are generated from these, and the integration tests validate every
 * answer against the document, so a serializer that drifts from them fails a test. Objects are
 * strict: a field added to a serializer and not here is drift too.
 */
/** The response components: each becomes #/components/schemas/<id>. */
export const responseSchemas = z.registry<{ id: string }>();

const money = z.string().regex(/^-?\d+(\.\d+)?$/).describe('A decimal string in major units, such as "49.00"');
const decimal = z.string().regex(/^-?\d+(\.\d+)?$/);
const timestamp = z.string().describe('ISO 8601');
const currency = z.string().regex(/^[A-Z]{3}$/);
const ledgerSourceType = z.enum(LEDGER_SOURCE_TYPES);

/** A page of a list (api/serializers.ts listJson): `url` is the list's path, `has_more` whether more lie beyond. */
const listOf = <T extends z.ZodType>(item: T) => z.strictObject({ object: z.literal('list'), url: z.string(), data: z.array(item), has_more: z.boolean() });

export const ErrorBody = z
  .strictObject({
    error: z.strictObject({
      type: z.enum(['invalid_request_error', 'authentication_error', 'permission_error', 'not_found_error', 'conflict_error', 'state_error', 'idempotency_error', 'rate_limit_error', 'api_error']),
      code: z.string(),
      message: z.string(),
      param: z.string().optional(),
    }),
  })
  .register(responseSchemas, { id: 'Error' });

export const Customer = z
  .strictObject({
    id: z.string(),
    object: z.literal('customer'),
    name: z.string(),
    email: z.string(),
    currency,
    timezone: z.string(),
    net_terms_days: z.int().describe('Days the customer has to pay an invoice; copied to each invoice when issued'),
    invoice_grace_period_days: z.int().describe('Days a renewal invoice stays a draft before it is finalised (0: at once)'),
    external_id: z.string().nullable(),
    created_at: timestamp.nullable(),
  })
  .register(responseSchemas, { id: 'Customer' });

export const CustomerWithPaymentMethod = Customer.extend({ default_payment_method: z.string(), retried_invoices: z.array(z.string()) }).register(responseSchemas, { id: 'CustomerWithPaymentMethod' });

export const SetupIntent = z.strictObject({ object: z.literal('setup_intent'), id: z.string(), customer_id: z.string(), client_secret: z.string() }).register(responseSchemas, { id: 'SetupIntent' });

export const PortalSession = z
  .strictObject({
    object: z.literal('portal_session'),
    id: z.string(),
    customer_id: z.string(),
    url: z.string().describe("Opens the customer portal for this customer only, until expires_at; give it to the customer, not an API key"),
    return_url: z.string().nullable(),
    expires_at: timestamp,
    created_at: timestamp,
  })
  .register(responseSchemas, { id: 'PortalSession' });

const Charge = z.strictObject({
  id: z.string(),
  object: z.literal('charge'),
  metric_code: z.string(),
  model: z.enum(CHARGE_MODELS),
  properties: z.record(z.string(), z.unknown()),
});

export const Plan = z
  .strictObject({
    id: z.string(),
    object: z.literal('plan'),
    code: z.string(),
    version: z.int().min(1),
    name: z.string(),
    currency,
    interval: z.enum(['day', 'week', 'month', 'year']),
    interval_count: z.int(),
    trial_days: z.int(),
    amount: money,
    minimum_amount: money.nullable(),
    fee_tiers: z
      .strictObject({
        mode: z.enum(['volume', 'graduated']),
        tiers: z.array(z.strictObject({ up_to: decimal.nullable(), unit_amount: decimal, flat_amount: decimal })),
      })
      .nullable()
      .describe("The fee per seat in tiers, priced on a subscription's quantity; null: amount per seat"),
    setup_fee: money.nullable().describe("Billed once per subscription, on its first invoice that bills the plan's fee"),
    charges: z.array(Charge),
    created_at: timestamp.nullable(),
  })
  .register(responseSchemas, { id: 'Plan' });

export const PlanList = listOf(Plan).register(responseSchemas, { id: 'PlanList' });

export const AddOn = z
  .strictObject({
    id: z.string(),
    object: z.literal('add_on'),
    code: z.string(),
    name: z.string(),
    amount: money.describe('Per unit: for one period of a recurring add-on, or once'),
    currency,
    interval: z.enum(['day', 'week', 'month', 'year']).nullable().describe('Null: billed once'),
    interval_count: z.int().nullable(),
    created_at: timestamp.nullable(),
  })
  .register(responseSchemas, { id: 'AddOn' });

export const AddOnList = listOf(AddOn).register(responseSchemas, { id: 'AddOnList' });

export const SubscriptionAddOn = z
  .strictObject({
    id: z.string(),
    object: z.literal('subscription_add_on'),
    subscription_id: z.string(),
    add_on: AddOn,
    quantity: decimal,
    added_at: timestamp.nullable(),
    removed_at: timestamp.nullable(),
    billed_invoice_id: z.string().nullable().describe('A one-time add-on: the invoice that billed it'),
  })
  .register(responseSchemas, { id: 'SubscriptionAddOn' });

export const SubscriptionAddOnList = listOf(SubscriptionAddOn).register(responseSchemas, { id: 'SubscriptionAddOnList' });

const ScheduledChange = z.strictObject({
  id: z.string(),
  type: z.enum(['change_plan', 'change_quantity', 'pause', 'resume', 'cancel']),
  at: timestamp,
  at_period_end: z.boolean(),
  quantity: z.int().optional(),
  plan_code: z.string().optional(),
  plan_version: z.int().optional(),
  proration: z.enum(['prorate', 'none']).optional(),
  prorate: z.boolean().optional(),
});

export const Subscription = z
  .strictObject({
    id: z.string(),
    object: z.literal('subscription'),
    customer_id: z.string(),
    external_id: z.string().nullable(),
    plan_code: z.string(),
    plan_version: z.int(),
    quantity: z.int().min(1).describe('Seats the recurring fee is priced on'),
    overrides: z
      .strictObject({
        amount: money.nullable(),
        minimum_amount: money.nullable(),
        charges: z.array(z.strictObject({ metric_code: z.string(), properties: z.record(z.string(), z.unknown()) })),
      })
      .nullable()
      .describe("Contract prices used instead of the plan's; null: the plan's"),
    status: z.enum(['scheduled', 'trialing', 'active', 'past_due', 'suspended', 'paused', 'canceled', 'billing_error']),
    start_at: timestamp.nullable(),
    trial_end: timestamp.nullable(),
    billing_alignment: z.enum(['anniversary', 'calendar']),
    timezone: z.string(),
    current_period_start: timestamp.nullable(),
    current_period_end: timestamp.nullable(),
    cancel_at_period_end: z.boolean(),
    cancellation_details: z
      .strictObject({ reason: z.enum(CANCELLATION_REASONS), comment: z.string().nullable() })
      .nullable()
      .describe('Why the cancellation was asked for, as given to the cancel request; null when none was given'),
    canceled_at: timestamp.nullable(),
    paused_at: timestamp.nullable(),
    next_billing_at: timestamp.nullable(),
    scheduled_changes: z.array(ScheduledChange),
    upcoming: z.array(
      z.strictObject({
        at: timestamp,
        event: z.enum(['start', 'trial_end', 'renewal', 'cancellation', 'plan_change', 'quantity_change', 'pause', 'resume']),
        changeId: z.string().optional(),
      }),
    ),
    latest_invoice: z.strictObject({ id: z.string(), number: z.string().nullable(), total: money, currency }).nullable(),
    billing_error: z.strictObject({ activity: z.string(), code: z.string(), message: z.string(), at: timestamp }).nullable(),
    add_ons: z.array(SubscriptionAddOn).describe('Its add-ons now: recurring ones not removed, one-time ones not billed yet'),
    workflow_id: z.string(),
    state_source: z.enum(['workflow', 'database']),
    created_at: timestamp.nullable(),
  })
  .register(responseSchemas, { id: 'Subscription' });

const TierPart = z.strictObject({ from: decimal, up_to: decimal.nullable(), units: decimal, unit_amount: decimal, flat_amount: decimal, amount: decimal });

const lineFields = {
  object: z.literal('invoice_line'),
  kind: z.enum(['fee', 'usage', 'minimum', 'setup', 'one_off', 'prepaid_credit']),
  description: z.string(),
  metric_code: z.string().nullable(),
  charge_model: z.enum(CHARGE_MODELS).nullable(),
  quantity: decimal,
  unit_amount: decimal.nullable(),
  amount: money,
  discount_amount: money,
  tax_amount: money,
  period_start: timestamp.nullable(),
  period_end: timestamp.nullable(),
  add_on_id: z.string().nullable().describe('The add-on the line bills'),
  tiers: z.array(TierPart),
};

const Discount = z.strictObject({ applied_coupon_id: z.string(), name: z.string(), amount: money });
const Tax = z.strictObject({ tax_rate_id: z.string(), name: z.string(), percentage: decimal, inclusive: z.boolean(), base: money, amount: money });

export const Invoice = z
  .strictObject({
    id: z.string(),
    object: z.literal('invoice'),
    number: z.string().nullable().describe('Null while a draft: numbered when finalised'),
    status: z.enum(['draft', 'open', 'paid', 'void', 'uncollectible']),
    customer_id: z.string(),
    subscription_id: z.string().nullable().describe('Null on a one-off invoice'),
    collection_method: z.enum(['charge_automatically', 'send_invoice']).describe("Charged to the customer's card, or left open for a payment by hand"),
    currency,
    subtotal: money,
    discount_total: money,
    tax_total: money,
    total: money,
    credit_applied: money,
    wallet_applied: money.describe('Prepaid wallet credit spent on the invoice'),
    amount_paid: money,
    amount_due: money,
    amount_refunded: money,
    amount_credited: money,
    billing_reason: z.enum(['subscription_cycle', 'subscription_update', 'subscription_pause', 'subscription_cancel', 'manual']),
    discounts: z.array(Discount),
    taxes: z.array(Tax),
    period_start: timestamp.nullable(),
    period_end: timestamp.nullable(),
    issued_at: timestamp.nullable(),
    days_until_due: z.int(),
    due_at: timestamp.nullable().describe('finalized_at (issued_at unless it waited as a draft) + days_until_due days'),
    overdue: z.boolean().describe('Open, with an amount due, and due_at has passed'),
    paid_at: timestamp.nullable(),
    finalized_at: timestamp.nullable().describe('When it was numbered and posted; null while a draft'),
    auto_finalizes_at: timestamp.nullable().describe("A draft's grace end, when it is finalised unless it was before"),
    voided_at: timestamp.nullable(),
    lines: z.array(z.strictObject({ id: z.string(), ...lineFields })),
  })
  .register(responseSchemas, { id: 'Invoice' });

export const InvoiceList = listOf(Invoice).register(responseSchemas, { id: 'InvoiceList' });

export const SubscriptionAddOnChange = SubscriptionAddOn.extend({ invoice: Invoice.nullable().describe('What the change billed or credited at once') }).register(responseSchemas, {
  id: 'SubscriptionAddOnChange',
});

export const UpcomingInvoice = z
  .strictObject({
    object: z.literal('upcoming_invoice'),
    currency,
    subtotal: money,
    discount_total: money,
    tax_total: money,
    total: money,
    discounts: z.array(Discount),
    taxes: z.array(Tax),
    lines: z.array(z.strictObject(lineFields)),
  })
  .register(responseSchemas, { id: 'UpcomingInvoice' });

export const SubscriptionUsage = z
  .strictObject({
    object: z.literal('subscription_usage'),
    subscription_id: z.string(),
    currency,
    from_datetime: timestamp,
    to_datetime: timestamp,
    charges: z.array(z.strictObject({ metric_code: z.string().nullable(), charge_model: z.enum(CHARGE_MODELS).nullable(), quantity: decimal, amount: money, tiers: z.array(TierPart) })),
    amount: money,
    upcoming_invoice: UpcomingInvoice,
  })
  .register(responseSchemas, { id: 'SubscriptionUsage' });

export const PlanChangePreview = z
  .strictObject({
    object: z.literal('plan_change_preview'),
    subscription_id: z.string(),
    plan_code: z.string(),
    plan_version: z.int(),
    at: timestamp.nullable(),
    proration: z.enum(['prorate', 'none']),
    invoice: UpcomingInvoice.nullable(),
  })
  .register(responseSchemas, { id: 'PlanChangePreview' });

export const QuantityChangePreview = z
  .strictObject({
    object: z.literal('quantity_change_preview'),
    subscription_id: z.string(),
    quantity: z.int().min(1),
    at: timestamp.nullable(),
    proration: z.enum(['prorate', 'none']),
    invoice: UpcomingInvoice.nullable(),
  })
  .register(responseSchemas, { id: 'QuantityChangePreview' });

const MigrationEntry = z.strictObject({
  subscription_id: z.string(),
  from_version: z.int(),
  to_version: z.int(),
  status: z.enum(['would_migrate', 'scheduled', 'failed']),
  at: timestamp.nullable().optional(),
  current_invoice: UpcomingInvoice.optional(),
  new_invoice: UpcomingInvoice.optional(),
  error: z.strictObject({ code: z.string(), message: z.string() }).optional(),
});

export const PlanMigration = z
  .strictObject({ object: z.literal('plan_migration'), plan_code: z.string(), to_version: z.int(), dry_run: z.boolean(), data: z.array(MigrationEntry) })
  .register(responseSchemas, { id: 'PlanMigration' });

export const PlanMigrationRun = z
  .strictObject({
    id: z.string(),
    object: z.literal('plan_migration'),
    plan_code: z.string(),
    to_version: z.int(),
    dry_run: z.literal(false),
    status: z.enum(['running', 'completed']),
    total: z.int(),
    migrated: z.int(),
    started_at: timestamp,
    completed_at: timestamp.nullable(),
    data: z.array(MigrationEntry),
  })
  .register(responseSchemas, { id: 'PlanMigrationRun' });

export const Payment = z
  .strictObject({
    id: z.string(),
    object: z.literal('payment'),
    invoice_id: z.string(),
    amount: money,
    currency,
    method: z.enum(['manual', 'card']),
    reference: z.string().nullable(),
    received_at: timestamp.nullable(),
    created_at: timestamp.nullable(),
  })
  .register(responseSchemas, { id: 'Payment' });

/** A card attempt's own fields, in an invoice's collection and in a payment.failed event alike (paymentAttemptFieldsJson). */
const paymentAttemptFields = {
  attempt: z.int(),
  amount: money,
  currency,
  status: z.enum(['pending', 'processing', 'requires_action', 'succeeded', 'failed', 'canceled']),
  payment_intent_id: z.string().nullable(),
  failure_code: z.string().nullable(),
  decline_code: z.string().nullable(),
  failure_message: z.string().nullable(),
  hard_decline: z.boolean(),
  created_at: timestamp.nullable(),
};

/** GET /v1/invoices/{id}/collection (api/routes/invoice-collection.ts). */
export const InvoiceCollection = z
  .strictObject({
    object: z.literal('invoice_collection'),
    invoice_id: z.string(),
    invoice_status: z.enum(['draft', 'open', 'paid', 'void', 'uncollectible']),
    collection_method: z.enum(['charge_automatically', 'send_invoice']),
    state: z
      .strictObject({
        status: z.enum(['draft', 'collecting', 'retrying', 'awaiting_customer', 'processing', 'failed', 'paid', 'manual', 'error', 'void']),
        attempts: z.int(),
        last_outcome: z.string().nullable(),
        first_failure_at: timestamp.nullable(),
        next_retry_at: timestamp.nullable(),
      })
      .nullable()
      .describe("The dunning state the invoice's collection workflow holds; null when none answers (a manual or draft invoice)"),
    subscription_status: z.string().nullable().describe("The invoice's subscription's status (suspended when dunning ran out); null for a one-off invoice"),
    attempts: z.array(
      z.strictObject({
        ...paymentAttemptFields,
        updated_at: timestamp.nullable(),
      }),
    ),
  })
  .register(responseSchemas, { id: 'InvoiceCollection' });

export const PaymentWithInvoice = Payment.extend({ invoice: Invoice }).register(responseSchemas, { id: 'PaymentWithInvoice' });

export const Refund = z
  .strictObject({
    id: z.string(),
    object: z.literal('refund'),
    invoice_id: z.string(),
    payment_id: z.string(),
    amount: money,
    currency,
    method: z.enum(['card', 'manual']),
    stripe_refund_id: z.string().nullable(),
    reason: z.string().nullable(),
    created_at: timestamp,
  })
  .register(responseSchemas, { id: 'Refund' });

export const RefundList = listOf(Refund).register(responseSchemas, { id: 'RefundList' });

export const RefundSummary = z
  .strictObject({ object: z.literal('refund_summary'), invoice_id: z.string(), amount: money, currency, refunds: z.array(Refund), invoice: Invoice })
  .register(responseSchemas, { id: 'RefundSummary' });

export const CreditNote = z
  .strictObject({
    id: z.string(),
    object: z.literal('credit_note'),
    number: z.string(),
    invoice_id: z.string(),
    customer_id: z.string(),
    amount: money,
    currency,
    kind: z.enum(['reduce_due', 'customer_balance']),
    reason: z.string().nullable(),
    created_at: timestamp,
  })
  .register(responseSchemas, { id: 'CreditNote' });

export const CreditNoteList = listOf(CreditNote).register(responseSchemas, { id: 'CreditNoteList' });

export const CreditNoteWithInvoice = CreditNote.extend({ invoice: Invoice }).register(responseSchemas, { id: 'CreditNoteWithInvoice' });

export const BillableMetric = z
  .strictObject({
    id: z.string(),
    object: z.literal('billable_metric'),
    code: z.string(),
    name: z.string(),
    aggregation: z.enum(AGGREGATIONS),
    field: z.string().nullable(),
    created_at: timestamp.nullable(),
  })
  .register(responseSchemas, { id: 'BillableMetric' });

export const Coupon = z
  .strictObject({
    id: z.string(),
    object: z.literal('coupon'),
    code: z.string(),
    name: z.string(),
    percent_off: decimal.nullable(),
    amount_off: money.nullable(),
    currency: currency.nullable(),
    duration: z.enum(COUPON_DURATIONS),
    duration_periods: z.int().nullable(),
    created_at: timestamp.nullable(),
  })
  .register(responseSchemas, { id: 'Coupon' });

export const AppliedCoupon = z
  .strictObject({
    id: z.string(),
    object: z.literal('applied_coupon'),
    coupon_code: z.string(),
    customer_id: z.string(),
    subscription_id: z.string().nullable(),
    periods_remaining: z.int().nullable(),
    status: z.enum(['active', 'exhausted']),
    created_at: timestamp.nullable(),
  })
  .register(responseSchemas, { id: 'AppliedCoupon' });

export const TaxRate = z
  .strictObject({ id: z.string(), object: z.literal('tax_rate'), code: z.string(), name: z.string(), percentage: decimal, inclusive: z.boolean(), created_at: timestamp.nullable() })
  .register(responseSchemas, { id: 'TaxRate' });

export const CustomerTaxRates = z.strictObject({ object: z.literal('list'), customer_id: z.string(), data: z.array(TaxRate) }).register(responseSchemas, { id: 'CustomerTaxRates' });

export const LedgerBalances = listOf(
  z.strictObject({ account: z.string(), currency, debits: money, credits: money, balance: money, normal_balance: z.enum(['debit', 'credit']) }),
).register(responseSchemas, { id: 'LedgerBalances' });

export const LedgerTransaction = z
  .strictObject({
    id: z.string(),
    object: z.literal('ledger_transaction'),
    description: z.string(),
    currency,
    customer_id: z.string().nullable(),
    invoice_id: z.string().nullable(),
    idempotency_key: z.string(),
    source_type: ledgerSourceType.nullable(),
    source_id: z.string().nullable(),
    effective_at: timestamp.nullable(),
    dated_at: timestamp.nullable().describe('The date it was meant for, when that fell in a closed period and it posted at the start of the next open one'),
    created_at: timestamp.nullable(),
    entries: z.array(z.strictObject({ account: z.string(), direction: z.enum(['debit', 'credit']), amount: money })),
  })
  .register(responseSchemas, { id: 'LedgerTransaction' });

export const LedgerTransactionList = listOf(LedgerTransaction).register(responseSchemas, { id: 'LedgerTransactionList' });

export const DeferredRevenueReport = z
  .strictObject({
    object: z.literal('deferred_revenue_report'),
    currency,
    from: z.string(),
    to: z.string(),
    balanced: z.boolean().describe('Every month closes at the ledger balance'),
    months: z.array(
      z.strictObject({
        month: z.string(),
        opening: money,
        billed: money.describe('Net credits to deferred revenue from invoices issued in the month'),
        recognized: money.describe('Net debits to deferred revenue from revenue recognition in the month'),
        other: z.array(z.strictObject({ source: z.string(), amount: money })).describe('Net credits from any other source, by source type'),
        closing: money.describe('opening + billed - recognized + other'),
        ledger_closing: money.describe("The ledger's deferred revenue balance at the month's end"),
        balanced: z.boolean(),
      }),
    ),
  })
  .register(responseSchemas, { id: 'DeferredRevenueReport' });

const ReconciledAmounts = { expected: money, posted: money, difference: money };
const reconciledType = z.enum(RECONCILED_TYPES);

export const ReconciliationReport = z
  .strictObject({
    object: z.literal('reconciliation_report'),
    currency,
    from: z.string(),
    to: z.string(),
    balanced: z.boolean().describe('No differences and the trial balance holds'),
    sections: z.array(z.strictObject({ type: reconciledType, records: z.number().int(), ...ReconciledAmounts })),
    differences: z.array(z.strictObject({ type: reconciledType, id: z.string(), ...ReconciledAmounts })).describe('Each record whose postings differ from it'),
    trial_balance: z.strictObject({
      debits: money,
      credits: money,
      balanced: z.boolean(),
      accounts: z.array(z.strictObject({ account: z.string(), debits: money, credits: money })),
    }),
  })
  .register(responseSchemas, { id: 'ReconciliationReport' });

export const AccountingPeriod = z
  .strictObject({
    id: z.string().describe('The UTC month, YYYY-MM'),
    object: z.literal('accounting_period'),
    status: z.enum(['open', 'closed']),
    start: timestamp,
    end: timestamp,
    closed_at: timestamp.nullable(),
  })
  .register(responseSchemas, { id: 'AccountingPeriod' });

export const AccountingPeriodList = listOf(AccountingPeriod).register(responseSchemas, { id: 'AccountingPeriodList' });

export const LedgerAccount = z
  .strictObject({
    id: z.string(),
    object: z.literal('ledger_account'),
    code: z.string(),
    name: z.string(),
    type: z.enum(['asset', 'liability', 'revenue', 'expense', 'equity']),
    gl_code: z.string().nullable(),
  })
  .register(responseSchemas, { id: 'LedgerAccount' });

export const LedgerAccountList = listOf(LedgerAccount).register(responseSchemas, { id: 'LedgerAccountList' });

export const JournalEntry = z
  .strictObject({
    id: z.string().describe('The ledger transaction'),
    object: z.literal('journal_entry'),
    date: z.string().describe('UTC day, YYYY-MM-DD'),
    accounting_period: z.string(),
    effective_at: timestamp,
    dated_at: timestamp.nullable(),
    source_type: ledgerSourceType.nullable(),
    source_id: z.string().nullable(),
    description: z.string(),
    currency,
    customer_name: z.string().nullable(),
    lines: z.array(z.strictObject({ account: z.string(), account_name: z.string(), gl_code: z.string().nullable(), debit: money.nullable(), credit: money.nullable() })),
  })
  .register(responseSchemas, { id: 'JournalEntry' });

export const JournalEntryList = listOf(JournalEntry).register(responseSchemas, { id: 'JournalEntryList' });

export const Email = z
  .strictObject({
    id: z.string(),
    object: z.literal('email'),
    customer_id: z.string().nullable(),
    to: z.string(),
    template: z.string(),
    subject: z.string(),
    body: z.string(),
    status: z.enum(['pending', 'sending', 'sent', 'failed', 'unknown']),
    attempts: z.int(),
    last_error: z.string().nullable(),
    message_id: z.string(),
    created_at: timestamp.nullable(),
    sent_at: timestamp.nullable(),
  })
  .register(responseSchemas, { id: 'Email' });

export const EmailList = listOf(Email).register(responseSchemas, { id: 'EmailList' });

/** A card attempt of an invoice, as payment.failed reports it (db/resource-json.ts paymentAttemptJson). */
export const PaymentAttempt = z
  .strictObject({
    id: z.string(),
    object: z.literal('payment_attempt'),
    invoice_id: z.string(),
    customer_id: z.string(),
    ...paymentAttemptFields,
  })
  .register(responseSchemas, { id: 'PaymentAttempt' });

/** What happened, as GET /v1/events lists it and a webhook delivers it: the object as the API showed it then. */
export const Event = z
  .strictObject({
    id: z.string(),
    object: z.literal('event'),
    type: z.enum(EVENT_TYPES),
    created_at: timestamp,
    data: z.strictObject({ object: z.union([Customer, Subscription, Invoice, Payment, PaymentAttempt, Refund, CreditNote]) }),
  })
  .register(responseSchemas, { id: 'Event' });

export const EventList = listOf(Event).register(responseSchemas, { id: 'EventList' });

export const UsageEventBatch = z
  .strictObject({
    object: z.literal('usage_event_batch'),
    accepted: z.int(),
    duplicates: z.int(),
    rejected: z.array(z.strictObject({ index: z.int(), transaction_id: z.string().nullable(), code: z.string(), message: z.string() })),
  })
  .register(responseSchemas, { id: 'UsageEventBatch' });

export const WebhookReceipt = z.strictObject({ received: z.literal(true), duplicate: z.boolean(), outcome: z.string() }).register(responseSchemas, { id: 'WebhookReceipt' });

export const Health = z.strictObject({ status: z.literal('ok') }).register(responseSchemas, { id: 'Health' });

export const OpenApiDocument = z.looseObject({ openapi: z.string(), info: z.looseObject({}), paths: z.record(z.string(), z.unknown()) }).register(responseSchemas, { id: 'OpenApiDocument' });

export const HtmlPage = z.string().register(responseSchemas, { id: 'HtmlPage' });

export const PrometheusText = z.string().describe('Prometheus text exposition format (version 0.0.4)').register(responseSchemas, { id: 'PrometheusText' });

export const PdfFile = z.string().meta({ format: 'binary', contentMediaType: 'application/pdf' }).describe('A PDF file').register(responseSchemas, { id: 'PdfFile' });

export const CustomerList = listOf(Customer).register(responseSchemas, { id: 'CustomerList' });
export const SubscriptionList = listOf(Subscription).register(responseSchemas, { id: 'SubscriptionList' });
export const BillableMetricList = listOf(BillableMetric).register(responseSchemas, { id: 'BillableMetricList' });
export const CouponList = listOf(Coupon).register(responseSchemas, { id: 'CouponList' });
export const AppliedCouponList = listOf(AppliedCoupon).register(responseSchemas, { id: 'AppliedCouponList' });
export const TaxRateList = listOf(TaxRate).register(responseSchemas, { id: 'TaxRateList' });
export const PaymentList = listOf(Payment).register(responseSchemas, { id: 'PaymentList' });

const month = z.string().regex(/^\d{4}-\d{2}$/).describe('A UTC calendar month, YYYY-MM');
const rate = z.string().regex(/^-?\d+\.\d{4}$/).nullable().describe('A fraction with 4 decimals (0.0833 is 8.33 %); null when the month starts with nothing');

export const MrrReport = z
  .strictObject({
    object: z.literal('mrr_report'),
    currency: currency.nullable(),
    from: month,
    to: month,
    rules: z.strictObject({ formula: z.string(), month_end: z.string(), source: z.string(), normalisation: z.string(), movements: z.string(), rounding: z.string() }),
    data: z.array(
      z.strictObject({
        currency,
        opening_mrr: money.describe("MRR at the end of the month before the range's first"),
        unpriced_fee_lines: z.int().describe('Fee lines stored before prices were, that no plan could be matched to: left out'),
        months: z.array(
          z.strictObject({
            month,
            month_end: timestamp,
            start: money,
            new: money,
            expansion: money,
            contraction: money,
            churn: money,
            reactivation: money,
            mrr: money,
            arr: money.describe('12 x mrr'),
            check: z.strictObject({ computed_mrr: money.describe('start + new + expansion + reactivation - contraction - churn'), holds: z.boolean() }),
          }),
        ),
      }),
    ),
  })
  .register(responseSchemas, { id: 'MrrReport' });

export const ChurnReport = z
  .strictObject({
    object: z.literal('churn_report'),
    currency: currency.nullable(),
    from: month,
    to: month,
    definitions: z.record(z.string(), z.string()),
    data: z.array(
      z.strictObject({
        currency,
        months: z.array(
          z.strictObject({
            month,
            customers_at_start: z.int(),
            churned_customers: z.int(),
            start_mrr: money,
            churned_mrr: money,
            contraction_mrr: money,
            expansion_mrr: money,
            reactivation_mrr: money,
            logo_churn_rate: rate,
            gross_revenue_churn_rate: rate,
            net_revenue_churn_rate: rate,
          }),
        ),
      }),
    ),
  })
  .register(responseSchemas, { id: 'ChurnReport' });

const agingBuckets = { not_yet_due: money, days_1_30: money, days_31_60: money, days_61_90: money, days_91_120: money, days_over_120: money, total: money };

export const ArAgingReport = z
  .strictObject({
    object: z.literal('ar_aging_report'),
    currency: currency.nullable(),
    as_of: timestamp,
    rules: z.strictObject({ receivables: z.string(), buckets: z.string() }),
    data: z.array(
      z.strictObject({
        currency,
        customers: z.array(z.strictObject({ customer_id: z.string(), name: z.string(), ...agingBuckets })),
        totals: z.strictObject(agingBuckets),
      }),
    ),
  })
  .register(responseSchemas, { id: 'ArAgingReport' });

const credits = z.string().regex(/^\d+(\.\d+)?$/).describe('A number of credits as a decimal string');

export const Wallet = z
  .strictObject({
    id: z.string(),
    object: z.literal('wallet'),
    customer_id: z.string(),
    name: z.string().nullable(),
    status: z.enum(['active', 'terminated']),
    currency,
    rate: decimal.describe('What one credit is worth in the currency'),
    credits_balance: credits.describe('Credits that can be spent now'),
    balance: money.describe('credits_balance in the currency: paid_balance + granted_balance'),
    paid_balance: money.describe('Bought and paid for'),
    granted_balance: money.describe('Given for free'),
    pending_credits: credits.describe('Bought on an invoice not paid yet; spendable once it is'),
    expires_at: timestamp.nullable(),
    top_up_threshold: credits.nullable(),
    top_up_paid_credits: credits.nullable(),
    top_up_granted_credits: credits.nullable(),
    terminated_at: timestamp.nullable(),
    created_at: timestamp.nullable(),
  })
  .register(responseSchemas, { id: 'Wallet' });

export const WalletList = listOf(Wallet).register(responseSchemas, { id: 'WalletList' });

export const WalletTransaction = z
  .strictObject({
    id: z.string(),
    object: z.literal('wallet_transaction'),
    wallet_id: z.string(),
    kind: z.enum(WALLET_TRANSACTION_KINDS),
    status: z.enum(WALLET_TRANSACTION_STATUSES),
    trigger: z.enum(WALLET_TOP_UP_TRIGGERS).nullable(),
    credits,
    amount: money,
    paid_amount: money,
    granted_amount: money,
    invoice_id: z.string().nullable().describe('The invoice that sold the credits, or spent (or gave back) them'),
    triggered_by_invoice_id: z.string().nullable().describe('For an automatic top-up: the invoice whose consumption started it'),
    effective_at: timestamp.nullable(),
    settled_at: timestamp.nullable(),
    created_at: timestamp.nullable(),
  })
  .register(responseSchemas, { id: 'WalletTransaction' });

export const WalletTransactionList = listOf(WalletTransaction).register(responseSchemas, { id: 'WalletTransactionList' });

export const TimelineEvent = z
  .strictObject({
    id: z.string().describe('Stable: `<type>:<id of the record it comes from>`; a cursor of the list'),
    object: z.literal('timeline_event'),
    type: z.enum(TIMELINE_EVENT_TYPES),
    occurred_at: timestamp.nullable(),
    summary: z.string().describe('One sentence for people, amounts in the currency\'s decimals'),
    resource: z.strictObject({ object: z.enum(TIMELINE_RESOURCES), id: z.string() }).describe('What to open to see more'),
  })
  .register(responseSchemas, { id: 'TimelineEvent' });

export const TimelineEventList = listOf(TimelineEvent).register(responseSchemas, { id: 'TimelineEventList' });

export const CustomerBalance = z
  .strictObject({
    object: z.literal('customer_balance'),
    customer_id: z.string(),
    currency,
    credit_balance: money.describe('Credit held for later invoices'),
    amount_due: money.describe("What the customer's open invoices still ask"),
    open_invoices: z.int(),
    default_payment_method: z
      .strictObject({ id: z.string(), brand: z.string().nullable(), last4: z.string().nullable(), exp_month: z.int().nullable(), exp_year: z.int().nullable() })
      .nullable()
      .describe('The card renewals are charged to (its details read from Stripe; null when Stripe does not answer); null: invoices wait for a payment by hand'),
  })
  .register(responseSchemas, { id: 'CustomerBalance' });

export const WebhookEndpoint = z
  .strictObject({
    id: z.string(),
    object: z.literal('webhook_endpoint'),
    url: z.string(),
    description: z.string().nullable(),
    events: z.array(z.string()).describe('Event types delivered to it, or ["*"] for all'),
    status: z.enum(['enabled', 'disabled']),
    disabled_reason: z.string().nullable().describe('Why it was disabled (the receiver answered 410, or by hand)'),
    preconfigured: z.boolean().describe('Kept in step with the worker\'s PROVISIONING_WEBHOOK_URL and PROVISIONING_WEBHOOK_SECRET'),
    previous_secret_expires_at: timestamp.nullable().describe('After a rotation, the previous secret signs beside the new one until then (24 hours)'),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .register(responseSchemas, { id: 'WebhookEndpoint' });

export const WebhookEndpointWithSecret = WebhookEndpoint.extend({
  secret: z.string().describe('whsec_…: verifies the webhook-signature header (Standard Webhooks); shown only when made or rotated'),
}).register(responseSchemas, { id: 'WebhookEndpointWithSecret' });

export const WebhookEndpointList = listOf(WebhookEndpoint).register(responseSchemas, { id: 'WebhookEndpointList' });

export const WebhookAttempt = z
  .strictObject({
    id: z.string(),
    object: z.literal('webhook_attempt'),
    attempt: z.int().describe('Numbered across the delivery\'s runs: a resend goes on from the last'),
    outcome: z.enum(['succeeded', 'failed']),
    status_code: z.int().nullable().describe('The receiver\'s HTTP status; null when it did not answer'),
    latency_ms: z.int(),
    response_excerpt: z.string().nullable().describe('The first 500 characters of the answer'),
    error: z.string().nullable(),
    attempted_at: timestamp,
  })
  .register(responseSchemas, { id: 'WebhookAttempt' });

export const WebhookDelivery = z
  .strictObject({
    id: z.string(),
    object: z.literal('webhook_delivery'),
    event_id: z.string().describe('Also the webhook-id header of every attempt: receivers dedupe on it'),
    event_type: z.string(),
    endpoint_id: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempt_count: z.int(),
    next_attempt_at: timestamp.nullable(),
    last_status_code: z.int().nullable(),
    resends: z.int().describe('How many times it was sent again by hand'),
    attempts: z.array(WebhookAttempt),
    created_at: timestamp,
    updated_at: timestamp,
  })
  .register(responseSchemas, { id: 'WebhookDelivery' });

export const WebhookDeliveryList = listOf(WebhookDelivery).register(responseSchemas, { id: 'WebhookDeliveryList' });
