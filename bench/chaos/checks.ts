import type { Client } from '@temporalio/client';
import Decimal from 'decimal.js';
import type { Pool } from 'pg';
import type Stripe from 'stripe';
import { currencyExponent } from '../../domain/currency';
import { collectionStateQuery, type CollectionState } from '../../workflows/messages';

/**
 * What a chaos run checks once the system is quiet, from Postgres (the owner's connection), the
 * emulator (the Stripe SDK) and Temporal (the client): money taken once per invoice, statuses that
 * agree with Stripe, books that balance and tie out, and nothing stuck.
 */

/** How many activity attempts count as stuck rather than retrying through a fault. */
const STUCK_AFTER_ATTEMPTS = 3;
const INVOICE_WORKFLOW_PREFIX = 'invoice-';
/** Collection states that wait for the next retry or for the customer: nothing is under way. */
const WAITING: ReadonlyArray<CollectionState['status']> = ['retrying', 'awaiting_customer', 'failed', 'error'];

export interface StripeCharge {
  intentId: string;
  invoiceId: string | null;
  status: string;
  currency: string;
  /** Charged less refunded, in major units; zero unless the intent succeeded. */
  kept: Decimal;
  refunded: Decimal;
}

export interface ChaosChecks {
  /** Invoices with two or more successful charges kept (not refunded) in Stripe. */
  doubleCharges: number;
  /** Invoices whose status or card payment disagrees with what Stripe kept. */
  statusDisagreements: number;
  /** PaymentIntents that could still take money for an invoice no longer open. */
  liveIntentsOnSettledInvoices: number;
  /** Sum over currencies of |debits − credits|. */
  ledgerImbalance: Decimal;
  /** Sum over currencies of |accounts receivable − amount due of open invoices|. */
  receivablesDifference: Decimal;
  /** Sum over currencies of |card money in the ledger − charges kept in Stripe|. */
  cardPaymentsDifference: Decimal;
  /** Sum over currencies of |excess_payments balance − excess refunds still pending|. */
  excessDifference: Decimal;
  workflowsStuck: number;
  stuck: {
    activitiesPastAttempts: number;
    subscriptionsInBillingError: number;
    collectionsInError: number;
    attemptsPending: number;
    openInvoicesWithoutCollection: number;
    paidInvoicesStillCollecting: number;
    refundsPending: number;
  };
  /** Invoices by status. */
  invoices: Record<string, number>;
  invoicesIssued: number;
  chargesKept: number;
  chargesRefundedAsExcess: number;
  excessRefundsInPostgres: number;
  intentsCanceled: number;
  stripeEventsRecorded: number;
  /** One line per problem found, naming the invoice or workflow. */
  problems: string[];
}

function minorToMajor(minor: number, currency: string): Decimal {
  return new Decimal(minor).dividedBy(new Decimal(10).pow(currencyExponent(currency.toUpperCase())));
}

/** Every PaymentIntent localstripe holds, with what its charge kept. */
export async function stripeCharges(stripe: Stripe): Promise<StripeCharge[]> {
  const charges: StripeCharge[] = [];
  for await (const intent of stripe.paymentIntents.list({ limit: 100 })) {
    const charge = intent.latest_charge && typeof intent.latest_charge === 'object' ? intent.latest_charge : null;
    const currency = intent.currency.toUpperCase();
    const refunded = minorToMajor(charge?.amount_refunded ?? 0, currency);
    const kept = intent.status === 'succeeded' ? minorToMajor(charge?.amount ?? intent.amount, currency).minus(refunded) : new Decimal(0);
    charges.push({ intentId: intent.id, invoiceId: intent.metadata?.invoice_id ?? null, status: intent.status, currency, kept, refunded });
  }
  return charges;
}

export interface QuietState {
  quiet: boolean;
  /** Why not, when not. */
  waitingFor: string;
  /**
   * Everything is quiet but refunds are still pending: nothing may be left to ask Stripe for them
   * again, so the caller stops waiting after a while and the checks count them.
   */
  onlyRefundsPending: boolean;
}

interface RunningWorkflow {
  workflowId: string;
  type: string;
}

async function runningWorkflows(temporal: Client): Promise<RunningWorkflow[]> {
  const found: RunningWorkflow[] = [];
  for await (const execution of temporal.workflow.list({ query: 'ExecutionStatus="Running"' })) found.push({ workflowId: execution.workflowId, type: execution.type });
  return found;
}

async function collectionStates(temporal: Client, workflows: RunningWorkflow[]): Promise<Map<string, CollectionState | null>> {
  const states = new Map<string, CollectionState | null>();
  const invoiceWorkflows = workflows.filter((w) => w.workflowId.startsWith(INVOICE_WORKFLOW_PREFIX));
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < invoiceWorkflows.length) {
      const { workflowId } = invoiceWorkflows[next++];
      const state = await temporal.workflow
        .getHandle(workflowId)
        .query(collectionStateQuery)
        .catch(() => null);
      states.set(workflowId.slice(INVOICE_WORKFLOW_PREFIX.length), state);
    }
  };
  await Promise.all(Array.from({ length: 4 }, lane));
  return states;
}

/**
 * Quiet: every expected invoice issued; no card attempt or refund under way; no webhook waiting in
 * the relay; each invoice either paid with its collection finished, or open with its collection
 * waiting (the next retry days away, or the customer). An open invoice nobody collects, or a
 * collection in error, is stuck rather than busy: it does not hold quiet up, the checks count it.
 */
export async function quietState(owner: Pool, temporal: Client, expectedInvoices: number, busyElsewhere: string | null): Promise<QuietState> {
  const busy = (waitingFor: string): QuietState => ({ quiet: false, waitingFor, onlyRefundsPending: false });
  if (busyElsewhere) return busy(busyElsewhere);
  const { rows } = await owner.query<{ invoices: number; attempts: number; refunds: number }>(
    `select (select count(*)::int from invoices) as invoices,
            (select count(*)::int from payment_attempts where status in ('pending', 'processing')) as attempts,
            (select count(*)::int from refunds where status = 'pending') as refunds`,
  );
  const [db] = rows;
  if (db.invoices < expectedInvoices) return busy(`${db.invoices}/${expectedInvoices} invoices issued`);
  if (db.attempts > 0) return busy(`${db.attempts} card attempts under way`);
  const running = await runningWorkflows(temporal);
  const open = new Set((await owner.query<{ id: string }>(`select id from invoices where status in ('open', 'uncollectible') and amount_due > 0`)).rows.map((r) => r.id));
  const paidStillRunning = running.filter((w) => w.workflowId.startsWith(INVOICE_WORKFLOW_PREFIX) && !open.has(w.workflowId.slice(INVOICE_WORKFLOW_PREFIX.length)));
  if (paidStillRunning.length > 0) return busy(`${paidStillRunning.length} collections of settled invoices still running`);
  const states = await collectionStates(temporal, running);
  const collecting = [...states.values()].filter((s) => !s || !WAITING.includes(s.status));
  if (collecting.length > 0) return busy(`${collecting.length} collections under way`);
  let withActivities = 0;
  for (const workflow of running) {
    const description = await temporal.workflow.getHandle(workflow.workflowId).describe();
    if ((description.raw.pendingActivities ?? []).length > 0) withActivities += 1;
  }
  if (withActivities > 0) return busy(`${withActivities} workflows with activities pending`);
  if (db.refunds > 0) return { quiet: false, waitingFor: `${db.refunds} refunds pending`, onlyRefundsPending: true };
  return { quiet: true, waitingFor: '', onlyRefundsPending: false };
}

interface InvoiceRow {
  id: string;
  number: string;
  status: string;
  currency: string;
  amount_due: string;
  card_applied: string;
  card_payments: number;
  manual_payments: number;
}

export async function runChecks(owner: Pool, temporal: Client, stripe: Stripe): Promise<ChaosChecks> {
  const problems: string[] = [];
  const charges = await stripeCharges(stripe);
  const invoices = (
    await owner.query<InvoiceRow>(
      `select i.id, i.number, i.status, i.currency, i.amount_due::text,
              coalesce(sum(p.amount - p.amount_excess) filter (where p.method = 'card'), 0)::text as card_applied,
              (count(*) filter (where p.method = 'card' and p.amount_excess < p.amount))::int as card_payments,
              (count(*) filter (where p.method = 'manual'))::int as manual_payments
         from invoices i left join payments p on p.invoice_id = i.id
        group by i.id order by i.sequence`,
    )
  ).rows;

  const keptBy = new Map<string, StripeCharge[]>();
  for (const charge of charges) {
    if (!charge.kept.gt(0)) continue;
    const key = charge.invoiceId ?? 'none';
    keptBy.set(key, [...(keptBy.get(key) ?? []), charge]);
  }
  const statusOf = new Map(invoices.map((i) => [i.id, i.status]));
  let doubleCharges = 0;
  let statusDisagreements = 0;
  for (const invoice of invoices) {
    const kept = keptBy.get(invoice.id) ?? [];
    const keptAmount = kept.reduce((sum, c) => sum.plus(c.kept), new Decimal(0));
    if (kept.length >= 2) {
      doubleCharges += 1;
      problems.push(`double charge: invoice ${invoice.number} (${invoice.id}) has ${kept.length} charges kept in Stripe: ${kept.map((c) => c.intentId).join(', ')}`);
    }
    const disagreement =
      invoice.status === 'open' && kept.length > 0
        ? `open, but Stripe kept ${keptAmount.toFixed()} ${invoice.currency}`
        : invoice.status === 'paid' && invoice.manual_payments === 0 && kept.length === 0
          ? 'paid by card, but Stripe kept no charge'
          : invoice.status === 'paid' && invoice.manual_payments > 0 && kept.length > 0
            ? `paid by hand, and Stripe kept a charge too (${kept.map((c) => c.intentId).join(', ')})`
            : !keptAmount.equals(invoice.card_applied)
              ? `card payments applied ${new Decimal(invoice.card_applied).toFixed()} but Stripe kept ${keptAmount.toFixed()}`
              : null;
    if (disagreement) {
      statusDisagreements += 1;
      problems.push(`status disagrees with Stripe: invoice ${invoice.number} (${invoice.id}) ${disagreement}`);
    }
  }
  const strays = keptBy.get('none') ?? [];
  for (const stray of strays) problems.push(`charge kept in Stripe for no invoice: ${stray.intentId}`);
  statusDisagreements += strays.length;

  const live = charges.filter((c) => ['requires_action', 'requires_confirmation', 'requires_capture', 'processing'].includes(c.status) && c.invoiceId && statusOf.get(c.invoiceId) !== 'open');
  for (const intent of live) problems.push(`PaymentIntent ${intent.intentId} is ${intent.status} although invoice ${intent.invoiceId} is ${statusOf.get(intent.invoiceId!)}`);

  // ---- the ledger ----
  const balances = (
    await owner.query<{ currency: string; account: string; debits: string; credits: string }>(
      `select t.currency, e.account_code as account,
              coalesce(sum(e.amount) filter (where e.direction = 'debit'), 0)::text as debits,
              coalesce(sum(e.amount) filter (where e.direction = 'credit'), 0)::text as credits
         from ledger_entries e join ledger_transactions t on t.id = e.transaction_id
        group by 1, 2`,
    )
  ).rows;
  const currencies = [...new Set([...balances.map((b) => b.currency), ...invoices.map((i) => i.currency)])];
  const net = (currency: string, account: string): Decimal => {
    const row = balances.find((b) => b.currency === currency && b.account === account);
    return row ? new Decimal(row.debits).minus(row.credits) : new Decimal(0);
  };
  const pendingExcess = (await owner.query<{ currency: string; amount: string }>(`select currency, sum(amount)::text as amount from refunds where kind = 'excess' and status = 'pending' group by 1`)).rows;
  let ledgerImbalance = new Decimal(0);
  let receivablesDifference = new Decimal(0);
  let cardPaymentsDifference = new Decimal(0);
  let excessDifference = new Decimal(0);
  for (const currency of currencies) {
    const rows = balances.filter((b) => b.currency === currency);
    const imbalance = rows.reduce((sum, b) => sum.plus(b.debits).minus(b.credits), new Decimal(0));
    if (!imbalance.isZero()) problems.push(`ledger ${currency}: debits exceed credits by ${imbalance.toFixed()}`);
    ledgerImbalance = ledgerImbalance.plus(imbalance.abs());

    const due = invoices.filter((i) => i.currency === currency && (i.status === 'open' || i.status === 'uncollectible')).reduce((sum, i) => sum.plus(i.amount_due), new Decimal(0));
    const receivable = net(currency, 'accounts_receivable');
    if (!receivable.equals(due)) problems.push(`ledger ${currency}: accounts receivable ${receivable.toFixed()} but open invoices ask ${due.toFixed()}`);
    receivablesDifference = receivablesDifference.plus(receivable.minus(due).abs());

    // Card money: what sits in Stripe's clearing account (plus the fees taken out of it), less what is
    // owed back as excess; Stripe's side is what its charges kept.
    const excessOwed = net(currency, 'excess_payments').negated();
    const ledgerCard = net(currency, 'stripe_clearing').plus(net(currency, 'stripe_fees')).minus(excessOwed);
    const stripeKept = charges.filter((c) => c.currency === currency).reduce((sum, c) => sum.plus(c.kept), new Decimal(0));
    if (!ledgerCard.equals(stripeKept)) problems.push(`ledger ${currency}: card payments ${ledgerCard.toFixed()} but Stripe kept ${stripeKept.toFixed()}`);
    cardPaymentsDifference = cardPaymentsDifference.plus(ledgerCard.minus(stripeKept).abs());

    const pending = new Decimal(pendingExcess.find((p) => p.currency === currency)?.amount ?? 0);
    if (!excessOwed.equals(pending)) problems.push(`ledger ${currency}: excess_payments ${excessOwed.toFixed()} but excess refunds pending ${pending.toFixed()}`);
    excessDifference = excessDifference.plus(excessOwed.minus(pending).abs());
  }

  // ---- stuck ----
  const running = await runningWorkflows(temporal);
  let activitiesPastAttempts = 0;
  for (const workflow of running) {
    const description = await temporal.workflow.getHandle(workflow.workflowId).describe();
    for (const activity of description.raw.pendingActivities ?? []) {
      if ((activity.attempt ?? 0) > STUCK_AFTER_ATTEMPTS) {
        activitiesPastAttempts += 1;
        const failure = activity.lastFailure?.message ?? 'no failure recorded';
        problems.push(`stuck: ${workflow.workflowId} activity ${activity.activityType?.name} at attempt ${activity.attempt}: ${failure}`);
      }
    }
  }
  const states = await collectionStates(temporal, running);
  let collectionsInError = 0;
  for (const [invoiceId, state] of states) {
    if (state?.status === 'error') {
      collectionsInError += 1;
      problems.push(`stuck: collection of ${invoiceId} in error: ${state.lastOutcome}`);
    }
  }
  const db = (
    await owner.query<{ billing_error: number; attempts: number }>(
      `select (select count(*)::int from subscriptions where status = 'billing_error') as billing_error,
              (select count(*)::int from payment_attempts where status in ('pending', 'processing')) as attempts`,
    )
  ).rows[0];
  const pendingRefunds = (await owner.query<{ id: string; invoice_id: string; kind: string; amount: string; created_at: Date }>(`select id, invoice_id, kind, amount::text, created_at from refunds where status = 'pending'`)).rows;
  for (const r of pendingRefunds) problems.push(`stuck: ${r.kind} refund ${r.id} of ${r.amount} on invoice ${r.invoice_id} still pending (since ${r.created_at.toISOString()})`);
  if (db.billing_error > 0) {
    const rows = (await owner.query<{ id: string }>(`select id from subscriptions where status = 'billing_error'`)).rows;
    problems.push(`stuck: subscriptions in billing_error: ${rows.map((r) => r.id).join(', ')}`);
  }
  if (db.attempts > 0) {
    const rows = (await owner.query<{ invoice_id: string; attempt: number }>(`select invoice_id, attempt from payment_attempts where status in ('pending', 'processing')`)).rows;
    problems.push(`stuck: card attempts still pending: ${rows.map((r) => `${r.invoice_id}#${r.attempt}`).join(', ')}`);
  }
  const openIds = invoices.filter((i) => (i.status === 'open' || i.status === 'uncollectible') && new Decimal(i.amount_due).gt(0)).map((i) => i.id);
  const collecting = new Set(states.keys());
  const orphans = openIds.filter((id) => !collecting.has(id));
  for (const id of orphans) problems.push(`stuck: invoice ${id} is open and no collection runs for it`);
  const paidRunning = [...collecting].filter((id) => statusOf.get(id) !== 'open' && statusOf.get(id) !== 'uncollectible');
  for (const id of paidRunning) problems.push(`stuck: invoice ${id} is ${statusOf.get(id)} but its collection still runs (${states.get(id)?.status})`);
  const stuck = {
    activitiesPastAttempts,
    subscriptionsInBillingError: db.billing_error,
    collectionsInError,
    attemptsPending: db.attempts,
    openInvoicesWithoutCollection: orphans.length,
    paidInvoicesStillCollecting: paidRunning.length,
    refundsPending: pendingRefunds.length,
  };

  const byStatus: Record<string, number> = {};
  for (const invoice of invoices) byStatus[invoice.status] = (byStatus[invoice.status] ?? 0) + 1;
  const excessRows = (await owner.query<{ n: number }>(`select count(*)::int as n from refunds where kind = 'excess' and status = 'succeeded'`)).rows[0];
  const events = (await owner.query<{ n: number }>(`select count(*)::int as n from stripe_events`)).rows[0];
  return {
    doubleCharges,
    statusDisagreements,
    liveIntentsOnSettledInvoices: live.length,
    ledgerImbalance,
    receivablesDifference,
    cardPaymentsDifference,
    excessDifference,
    workflowsStuck: Object.values(stuck).reduce((a, b) => a + b, 0),
    stuck,
    invoices: byStatus,
    invoicesIssued: invoices.length,
    chargesKept: charges.filter((c) => c.kept.gt(0)).length,
    chargesRefundedAsExcess: charges.filter((c) => c.status === 'succeeded' && c.refunded.gt(0)).length,
    excessRefundsInPostgres: excessRows.n,
    intentsCanceled: charges.filter((c) => c.status === 'canceled').length,
    stripeEventsRecorded: events.n,
    problems,
  };
}
