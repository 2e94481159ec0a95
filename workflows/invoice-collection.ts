import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  getExternalWorkflowHandle,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
} from '@temporalio/workflow';
import type { ChargeOutcome, CollectionActivities } from '../activities/collection';
import { reminderInstant, retryInstants } from '../domain/dunning';
import type { CollectionState } from '../domain/collection';
import {
  collectionStateQuery,
  invoiceCollectionFailedSignal,
  invoiceFinalizedSignal,
  invoiceOverdueSignal,
  invoicePaidSignal,
  invoiceSettledSignal,
  invoiceVoidedSignal,
  paymentMethodUpdatedSignal,
  subscriptionWorkflowId,
  type InvoiceCollectionInput,
} from './messages';

const collectionOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes' },
} as const;
const collection = proxyActivities<CollectionActivities>(collectionOptions);

/**
 * Charges and the reads of their intents heartbeat while they run (activities/liveness.ts). A task
 * lost between the server and the worker is retried after this timeout, not after the two minutes a
 * charge may take while Stripe's client times out and retries; the retry sends the same request
 * under the same idempotency key, so it cannot charge twice.
 */
const charges = proxyActivities<CollectionActivities>({ ...collectionOptions, heartbeatTimeout: '30 seconds' });

/** Reading the context is three primary-key reads: a local activity, with no round trip through the server. */
const local = proxyLocalActivities<CollectionActivities>({ ...collectionOptions, startToCloseTimeout: '30 seconds' });

/** Patch: the collection context is read by a local activity (before it: an activity). */
const LOCAL_CONTEXT = 'local-collection-context';

// E-mails are retried for about a day, then given up (they stay in the outbox, listed by the API).
const mailer = proxyActivities<CollectionActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 hour', maximumAttempts: 30 },
});

/** Patch: a payment made another way cancels the invoice's intents still in flight, so a late 3-D Secure cannot charge again. */
const CANCEL_IN_FLIGHT = 'cancel-in-flight-intents';

/** How often an intent whose result is not known yet (processing) is read again, besides its webhook. */
const PROCESSING_CHECK_MS = 60 * 60 * 1000;

/** A message that cannot be sent must not hold up collecting the money; it stays in the outbox. */
async function notify(request: Parameters<CollectionActivities['notifyCustomer']>[0]): Promise<void> {
  try {
    await mailer.notifyCustomer(request);
  } catch (error) {
    log.warn('customer e-mail not sent', { invoiceId: request.invoiceId, template: request.template, error: String(error) });
  }
}

/**
 * Charges the invoice's payment method; on failure follows the plan's dunning schedule (soft
 * declines retried on it, hard declines and 3-D Secure waiting for the customer), with an e-mail at
 * each failure and a reminder before the final retry. The subscription learns, by signal, when the
 * invoice is overdue (first failure), when collection has failed (after the final retry: suspend),
 * and when it is paid (resume). A payment arriving later, by any route, still settles it. An
 * invoice without a subscription (a one-off invoice) is collected the same way, telling nobody.
 */
export async function invoiceCollectionWorkflow(input: InvoiceCollectionInput): Promise<CollectionState> {
  const state: CollectionState = { invoiceId: input.invoiceId, status: 'collecting', attempts: 0, lastOutcome: null, firstFailureAt: null, nextRetryAt: null };
  let paidElsewhere = false;
  let newPaymentMethod = false;
  let finalizeNow = false;
  let voided = false;
  setHandler(invoicePaidSignal, () => void (paidElsewhere = true));
  // A void ends collection as a payment would: intents in flight are cancelled, the subscription is told it is settled.
  setHandler(invoiceVoidedSignal, () => void (paidElsewhere = voided = true));
  setHandler(invoiceFinalizedSignal, () => void (finalizeNow = true));
  setHandler(paymentMethodUpdatedSignal, () => void (newPaymentMethod = true));
  setHandler(collectionStateQuery, () => state);

  // Getting a handle records nothing in the history; only signalling does.
  const subscription = input.subscriptionId === null ? null : getExternalWorkflowHandle(subscriptionWorkflowId(input.subscriptionId));
  const tell = async (signal: typeof invoiceOverdueSignal): Promise<void> => {
    if (!subscription) return;
    try {
      await subscription.signal(signal, { invoiceId: input.invoiceId });
    } catch (error) {
      // The subscription has ended; the invoice is still collected.
      log.info('subscription did not take the signal', { error: String(error) });
    }
  };

  const context = await (patched(LOCAL_CONTEXT) ? local : collection).collectionContext({ invoiceId: input.invoiceId });
  // Only a draft's context names a grace end; results recorded before drafts existed never do.
  if (context.draftUntil) {
    state.status = 'draft';
    const wait = new Date(context.draftUntil).getTime() - Date.now();
    if (wait > 0) await condition(() => finalizeNow, wait);
    const finalised = await collection.finalizeDraft({ invoiceId: input.invoiceId, at: new Date(Date.now()).toISOString() });
    if (!finalised.collect) {
      state.status = finalised.status === 'void' ? 'void' : 'paid';
      return state;
    }
    state.status = 'collecting';
  }
  if (!context.stripeConfigured) {
    // Without Stripe, invoices wait for a manual payment; nothing is charged and nobody is chased.
    state.status = 'manual';
    await condition(() => paidElsewhere);
    state.status = voided ? 'void' : 'paid';
    return state;
  }

  const charge = async (): Promise<ChargeOutcome> => {
    state.attempts += 1;
    let outcome: ChargeOutcome;
    try {
      outcome = await charges.chargeInvoice({ invoiceId: input.invoiceId, attempt: state.attempts });
    } catch (error) {
      // Stripe refused the request as such (a reused key, a request it cannot take): retrying the
      // same request would be refused again. Say why and wait for a new card or another payment.
      if (!(error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && error.cause.nonRetryable)) throw error;
      state.status = 'error';
      state.lastOutcome = `error: ${error.cause.type ?? 'refused'}: ${error.cause.message}`;
      log.error('invoice collection stopped', { invoiceId: input.invoiceId, reason: state.lastOutcome });
      await condition(() => paidElsewhere || newPaymentMethod);
      newPaymentMethod = false;
      return paidElsewhere ? { status: 'settled' } : charge();
    }
    // The result is not known yet: wait for its webhook (a payment signal) or read it again later.
    while (outcome.status === 'processing' && !paidElsewhere) {
      state.status = 'processing';
      state.lastOutcome = 'processing';
      await condition(() => paidElsewhere, PROCESSING_CHECK_MS);
      if (paidElsewhere) break;
      const read = await charges.settleAttempts({ invoiceId: input.invoiceId, cancel: false });
      outcome = read.succeeded ? { status: 'succeeded' } : read.processing ? outcome : { status: 'failed', code: 'processing_failed', declineCode: null, message: 'the payment did not go through', hard: false };
    }
    state.lastOutcome = outcome.status === 'failed' ? `failed: ${outcome.declineCode ?? outcome.code ?? 'declined'}` : outcome.status;
    return outcome;
  };

  let outcome = await charge();
  let retries: Date[] = [];
  let reminded = false;
  let failed = false;
  for (;;) {
    if (paidElsewhere || outcome.status === 'succeeded' || outcome.status === 'settled') {
      if (paidElsewhere && outcome.status !== 'succeeded' && patched(CANCEL_IN_FLIGHT)) {
        // An intent left waiting for the customer must not take the money a second time.
        await charges.settleAttempts({ invoiceId: input.invoiceId, cancel: true });
      }
      if (outcome.status === 'succeeded') await notify({ invoiceId: input.invoiceId, template: 'payment_receipt', key: `receipt:${input.invoiceId}` });
      state.status = voided && outcome.status !== 'succeeded' ? 'void' : 'paid';
      state.nextRetryAt = null;
      if (state.firstFailureAt) await tell(invoiceSettledSignal);
      return state;
    }
    const now = new Date(Date.now());
    if (!state.firstFailureAt) {
      state.firstFailureAt = now.toISOString();
      retries = retryInstants(now, context.dunningSchedule);
      await tell(invoiceOverdueSignal);
    }
    // Soft declines are retried on the schedule; a hard decline, an authentication request or a
    // missing card waits for the customer (a new card retries at once) until the schedule runs out.
    const automatic = outcome.status === 'failed' && !outcome.hard;
    const nextRetry = automatic ? (retries.find((r) => r > now) ?? null) : null;
    const finalAt = retries.at(-1)!;
    state.nextRetryAt = nextRetry?.toISOString() ?? null;
    state.status = failed ? 'failed' : automatic ? 'retrying' : 'awaiting_customer';
    const attemptKey = `${input.invoiceId}:${state.attempts}`;
    if (outcome.status === 'failed') {
      await notify({
        invoiceId: input.invoiceId,
        // With no retry left (a hard decline, or the final retry), the customer is asked for another card.
        template: outcome.hard || !nextRetry ? 'payment_method_required' : 'payment_failed',
        key: `failed:${attemptKey}`,
        declineReason: outcome.message,
        nextRetryAt: nextRetry?.toISOString() ?? null,
      });
    } else if (outcome.status === 'requires_action') {
      await notify({
        invoiceId: input.invoiceId,
        template: 'payment_action_required',
        key: `action:${attemptKey}`,
        paymentIntentId: outcome.paymentIntentId,
        actionUrl: outcome.actionUrl ?? null,
      });
    } else if (outcome.status === 'no_payment_method') {
      await notify({ invoiceId: input.invoiceId, template: 'payment_method_required', key: `no-method:${attemptKey}`, declineReason: 'no card is on file' });
    }

    // Wait for the customer, the next retry, the reminder before the final retry, or the end of the schedule.
    const reminder = automatic && !reminded ? reminderInstant(retries) : null;
    for (;;) {
      const wakeAt = [nextRetry, reminder && reminder > new Date(Date.now()) ? reminder : null, failed ? null : finalAt]
        .filter((d): d is Date => d !== null)
        .reduce<Date | null>((a, b) => (a === null || b < a ? b : a), null);
      const woke = () => paidElsewhere || newPaymentMethod;
      if (wakeAt === null) await condition(woke);
      else if (wakeAt.getTime() > Date.now()) await condition(woke, wakeAt.getTime() - Date.now());
      if (paidElsewhere) break;
      if (newPaymentMethod) {
        newPaymentMethod = false;
        outcome = await charge();
        break;
      }
      const at = Date.now();
      if (reminder && !reminded && at >= reminder.getTime() && (!nextRetry || at < nextRetry.getTime())) {
        reminded = true;
        await notify({ invoiceId: input.invoiceId, template: 'payment_reminder', key: `reminder:${input.invoiceId}`, finalRetryAt: finalAt.toISOString() });
        continue;
      }
      if (nextRetry && at >= nextRetry.getTime()) {
        outcome = await charge();
        if (outcome.status !== 'succeeded' && outcome.status !== 'settled' && nextRetry.getTime() >= finalAt.getTime() && !failed) {
          failed = true;
          await tell(invoiceCollectionFailedSignal);
        }
        break;
      }
      if (!failed && at >= finalAt.getTime()) {
        // The schedule ran out without a successful charge: the subscription is suspended.
        failed = true;
        state.status = 'failed';
        state.nextRetryAt = null;
        await tell(invoiceCollectionFailedSignal);
      }
    }
  }
}
