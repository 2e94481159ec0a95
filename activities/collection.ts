import { ApplicationFailure } from '@temporalio/activity';
import { completePendingRefunds } from '../db/adjustment-store';
import {
  attemptsInFlight,
  beginAttempt,
  finishAttempt,
  fromMinorUnits,
  recordAttemptIntent,
  recordCardPayment,
  toMinorUnits,
  type StoredAttempt,
} from '../db/collection-store';
import { finaliseDraft } from '../db/draft-invoice-store';
import { queueEmail } from '../db/email-outbox';
import { Customer } from '../db/entities/customer';
import { Invoice, invoiceName } from '../db/entities/invoice';
import { Plan } from '../db/entities/plan';
import { Subscription } from '../db/entities/subscription';
import { createPortalSession, portalLink, portalSessionIdFor } from '../db/portal-sessions';
import { subscriptionEvent } from '../db/resource-events';
import { cachedSigningSecret } from '../db/signing-secrets';
import { forkEm, type Orm } from '../db/orm';
import { PORTAL_LINK_HOURS, type EmailData, type EmailTemplate } from '../domain/emails';
import { DEFAULT_DUNNING_SCHEDULE } from '../domain/dunning';
import { formatAmount } from '../domain/money';
import { deliverEmail, isPermanentSmtpFailure, type EmailTransport } from '../mail/smtp';
import { StripeRequestRefused, type IntentState, type StripeGateway } from '../payments/stripe-gateway';
import { heartbeating } from './liveness';

export interface CollectionDeps {
  orm: Orm;
  stripe: StripeGateway | null;
  mail: EmailTransport | null;
  /** CUSTOMER_PAYMENT_URL: the page where a customer completes a payment ({invoice_id}, {payment_intent}). */
  customerPaymentUrl?: string | null;
  /** PUBLIC_URL: the base of the portal links in collection e-mails; no link when absent. */
  publicUrl?: string | null;
}

export type ChargeOutcome =
  | { status: 'succeeded' }
  | { status: 'settled' }
  | { status: 'requires_action'; paymentIntentId?: string; actionUrl?: string | null }
  | { status: 'processing' }
  | { status: 'no_payment_method' }
  | { status: 'failed'; code: string | null; declineCode: string | null; message: string; hard: boolean };

const day = (d: Date | string): string => new Date(d).toISOString().slice(0, 10);

/** Side effects of collecting invoices: charging cards, e-mailing customers, telling the customer's service. */
export function createCollectionActivities({ orm, stripe, mail, customerPaymentUrl = null, publicUrl = null }: CollectionDeps) {
  const em = forkEm(orm);
  const portalSecret = cachedSigningSecret(em, 'portal_sessions');

  /**
   * A portal link of the customer's own, made for the e-mail `key` names: its session id is derived
   * from the key, so a retry of the activity finds the session it made and writes the same link.
   */
  async function portalUrlFor(key: string, customerId: string): Promise<string | null> {
    if (!publicUrl) return null;
    const { token } = await createPortalSession(em(), await portalSecret(), { customerId, id: portalSessionIdFor(key), seconds: PORTAL_LINK_HOURS * 3600 });
    return portalLink(publicUrl, token);
  }

  async function send<T extends EmailTemplate>(key: string, customer: Customer, template: T, data: EmailData[T]): Promise<void> {
    const message = await queueEmail(em(), { idempotencyKey: key, customerId: customer.id, to: customer.email, template, data });
    try {
      await deliverEmail(em(), mail, message.id);
    } catch (error) {
      // A refused address will be refused again; the message stays listed as failed in the outbox.
      if (isPermanentSmtpFailure(error)) throw ApplicationFailure.nonRetryable(`e-mail ${message.id} to ${customer.email} refused: ${String(error)}`, 'email_refused');
      throw error;
    }
  }

  /**
   * Records where an attempt's PaymentIntent stands. A success is recorded as the invoice's payment
   * (once, whoever records it first: this or the webhook), and any part of it the invoice no longer
   * needed is refunded at once.
   */
  async function apply(gateway: StripeGateway, attempt: StoredAttempt, state: IntentState): Promise<ChargeOutcome> {
    const { invoiceId } = attempt;
    switch (state.status) {
      case 'succeeded': {
        await recordCardPayment(em(), {
          invoiceId,
          paymentIntentId: state.paymentIntentId,
          amount: fromMinorUnits(state.amountMinor, attempt.currency),
          currency: state.currency,
          fee: state.feeMinor === null ? null : fromMinorUnits(state.feeMinor, attempt.currency),
          receivedAt: new Date(),
        });
        await finishAttempt(em(), invoiceId, attempt.attempt, { status: 'succeeded', paymentIntentId: state.paymentIntentId });
        await refundPending(gateway, invoiceId);
        return { status: 'succeeded' };
      }
      case 'requires_action':
        await finishAttempt(em(), invoiceId, attempt.attempt, { status: 'requires_action', paymentIntentId: state.paymentIntentId });
        return { status: 'requires_action', paymentIntentId: state.paymentIntentId, actionUrl: state.actionUrl };
      case 'processing':
        await finishAttempt(em(), invoiceId, attempt.attempt, { status: 'processing', paymentIntentId: state.paymentIntentId });
        return { status: 'processing' };
      case 'canceled':
        await finishAttempt(em(), invoiceId, attempt.attempt, { status: 'canceled', paymentIntentId: state.paymentIntentId, message: 'the PaymentIntent was canceled' });
        return { status: 'failed', code: 'payment_intent_canceled', declineCode: null, message: 'the payment was canceled', hard: false };
      case 'failed':
        await finishAttempt(em(), invoiceId, attempt.attempt, {
          status: 'failed',
          paymentIntentId: state.paymentIntentId,
          failureCode: state.code,
          declineCode: state.declineCode,
          message: state.message,
          hardDecline: state.hard,
        });
        return { status: 'failed', code: state.code, declineCode: state.declineCode, message: state.message, hard: state.hard };
    }
  }

  /**
   * Asks Stripe for the invoice's pending refunds (an excess payment's). One Stripe did not take
   * fails the activity, so that Temporal retries it: once the invoice is paid, nothing else would
   * ask again, and the customer would never get the money back.
   */
  async function refundPending(gateway: StripeGateway, invoiceId: string): Promise<void> {
    const left = await completePendingRefunds(em(), gateway, invoiceId);
    if (left > 0) throw new Error(`${left} refund(s) of invoice ${invoiceId} still pending: Stripe did not take them yet`);
  }

  /** What an attempt that has already finished answered, for a retry of its activity. */
  function recorded(attempt: StoredAttempt): ChargeOutcome | null {
    switch (attempt.status) {
      case 'succeeded':
        return { status: 'succeeded' };
      case 'failed':
        return { status: 'failed', code: attempt.failureCode, declineCode: attempt.declineCode, message: attempt.failureMessage ?? 'declined', hard: attempt.hardDecline };
      case 'canceled':
        return { status: 'failed', code: 'payment_intent_canceled', declineCode: null, message: attempt.failureMessage ?? 'the payment was canceled', hard: false };
      default:
        return null;
    }
  }

  /**
   * Makes sure an attempt in flight can take no money we do not know of: its intent (found by id or
   * by the attempt key in its metadata) is cancelled when `cancel` and it can still succeed, or read
   * as it stands; an attempt Stripe never saw is closed.
   */
  async function settleAttempt(gateway: StripeGateway, attempt: StoredAttempt, cancel: boolean): Promise<ChargeOutcome> {
    const intent = await gateway.findIntent(attempt.key, attempt.stripeCustomerId, attempt.paymentIntentId);
    if (!intent) {
      await finishAttempt(em(), attempt.invoiceId, attempt.attempt, { status: 'canceled', paymentIntentId: null, message: 'no PaymentIntent was created' });
      return { status: 'failed', code: 'payment_intent_canceled', declineCode: null, message: 'no payment was made', hard: false };
    }
    return apply(gateway, attempt, cancel ? await gateway.settle(intent, attempt.key) : await gateway.state(intent));
  }

  /**
   * Work that talks to Stripe: it heartbeats while it runs (a lost task is retried after the
   * heartbeat timeout), and a request Stripe refused as such, which its retries would meet again,
   * stops and says why.
   */
  async function withStripe<T>(work: () => Promise<T>): Promise<T> {
    return heartbeating(async () => {
      try {
        return await work();
      } catch (error) {
        if (error instanceof StripeRequestRefused) throw ApplicationFailure.nonRetryable(error.message, error.code);
        throw error;
      }
    });
  }

  /**
   * The link a customer follows to pay: the application's page (CUSTOMER_PAYMENT_URL) when there is
   * one, otherwise the authentication page Stripe gave for this intent, if any.
   */
  function paymentPage(invoiceId: string, paymentIntentId: string | null | undefined, stripeUrl: string | null | undefined): string | null {
    if (customerPaymentUrl) return customerPaymentUrl.replaceAll('{invoice_id}', encodeURIComponent(invoiceId)).replaceAll('{payment_intent}', encodeURIComponent(paymentIntentId ?? ''));
    return stripeUrl ?? null;
  }

  return {
    /** `draftUntil`: the invoice is a draft, finalised at that instant (its grace end) unless it is before. */
    async collectionContext(request: { invoiceId: string }): Promise<{ stripeConfigured: boolean; dunningSchedule: number[]; draftUntil?: string }> {
      const invoice = await em().findOneOrFail(Invoice, { id: request.invoiceId });
      const draft = invoice.status === 'draft' ? { draftUntil: (invoice.autoFinalizesAt ?? invoice.issuedAt).toISOString() } : {};
      // An invoice of the customer alone follows the default schedule; a subscription's, its plan's.
      if (invoice.subscriptionId === null) return { stripeConfigured: stripe !== null, dunningSchedule: [...DEFAULT_DUNNING_SCHEDULE], ...draft };
      const subscription = await em().findOneOrFail(Subscription, { id: invoice.subscriptionId });
      const plan = await em().findOneOrFail(Plan, { id: subscription.planId });
      return { stripeConfigured: stripe !== null, dunningSchedule: plan.dunningSchedule, ...draft };
    },

    /**
     * Finalises a draft whose grace has ended (or that was finalised meanwhile: then nothing is done)
     * at the workflow's `at`, and says whether anything is left to collect.
     */
    async finalizeDraft(request: { invoiceId: string; at: string }): Promise<{ status: string; collect: boolean }> {
      const { invoice } = await finaliseDraft(em(), request.invoiceId, new Date(request.at));
      return { status: invoice.status, collect: invoice.status === 'open' && invoice.amountDue.gt(0) };
    },

    /**
     * One charge attempt. Its request is stored when it begins and sent unchanged, under the key of
     * (invoice, attempt), on every retry; a retry first looks for the intent the attempt may have
     * created (a crash can fall between Stripe's answer and our recording it). Before a new attempt
     * begins, earlier intents that could still succeed are cancelled (or found succeeded and
     * recorded), so one invoice never has two intents that can both take money.
     */
    async chargeInvoice(request: { invoiceId: string; attempt: number }): Promise<ChargeOutcome> {
      const gateway = stripe;
      if (!gateway) return { status: 'no_payment_method' };
      return withStripe(async () => {
        for (;;) {
          const plan = await beginAttempt(em(), request.invoiceId, request.attempt);
          if (plan.kind === 'settled') {
            // A retry of this activity after Stripe did not take a refund: the invoice is paid by now.
            await refundPending(gateway, request.invoiceId);
            return { status: 'settled' };
          }
          if (plan.kind === 'no_payment_method') return { status: 'no_payment_method' };
          if (plan.kind === 'supersede') {
            for (const earlier of plan.earlier) {
              const outcome = await settleAttempt(gateway, earlier, true);
              // Its result is not known yet and it cannot be cancelled: wait for it, start nothing.
              if (outcome.status === 'processing') return outcome;
            }
            continue;
          }
          const { attempt, fresh } = plan;
          const done = recorded(attempt);
          if (done) {
            await refundPending(gateway, request.invoiceId);
            return done;
          }
          const found = fresh ? null : await gateway.findIntent(attempt.key, attempt.stripeCustomerId, attempt.paymentIntentId);
          const state = found
            ? await gateway.state(found)
            : await gateway.charge({
                key: attempt.key,
                amountMinor: toMinorUnits(attempt.amount, attempt.currency),
                currency: attempt.currency,
                stripeCustomerId: attempt.stripeCustomerId,
                paymentMethod: attempt.paymentMethod,
                invoiceId: attempt.invoiceId,
                invoiceNumber: attempt.invoiceNumber,
              });
          if (state.paymentIntentId) await recordAttemptIntent(em(), attempt.invoiceId, attempt.attempt, state.paymentIntentId);
          return apply(gateway, attempt, state);
        }
      });
    },

    /**
     * Settles the attempts of an invoice still in flight: `cancel` when the invoice was paid another
     * way (an old intent must not take money too), otherwise only reads them (an intent that was
     * processing). Says whether the invoice's money came in, or is still on its way.
     */
    async settleAttempts(request: { invoiceId: string; cancel: boolean }): Promise<{ succeeded: boolean; processing: boolean }> {
      const gateway = stripe;
      if (!gateway) return { succeeded: false, processing: false };
      return withStripe(async () => {
        let succeeded = false;
        let processing = false;
        for (const attempt of await attemptsInFlight(em(), request.invoiceId)) {
          const outcome = await settleAttempt(gateway, attempt, request.cancel);
          succeeded ||= outcome.status === 'succeeded';
          processing ||= outcome.status === 'processing';
        }
        await refundPending(gateway, request.invoiceId);
        return { succeeded, processing };
      });
    },

    /** Queues (once per key) and sends a collection e-mail about an invoice. */
    async notifyCustomer(request: {
      invoiceId: string;
      template: EmailTemplate;
      key: string;
      declineReason?: string;
      nextRetryAt?: string | null;
      finalRetryAt?: string;
      paymentIntentId?: string;
      actionUrl?: string | null;
    }): Promise<void> {
      const invoice = await em().findOneOrFail(Invoice, { id: request.invoiceId });
      const customer = await em().findOneOrFail(Customer, { id: invoice.customerId });
      const base = { customerName: customer.name, invoiceNumber: invoiceName(invoice), currency: invoice.currency };
      const due = formatAmount(invoice.amountDue, invoice.currency);
      const key = `${request.template}:${request.key}`;
      switch (request.template) {
        case 'payment_receipt':
          return send(key, customer, 'payment_receipt', { ...base, amount: formatAmount(invoice.amountPaid, invoice.currency), paidOn: day(invoice.paidAt ?? new Date()) });
        case 'payment_failed':
          if (!request.nextRetryAt) throw ApplicationFailure.nonRetryable('payment_failed needs the next retry date', 'email_data_invalid');
          return send(key, customer, 'payment_failed', {
            ...base,
            amountDue: due,
            failedOn: day(new Date()),
            declineReason: request.declineReason ?? 'the card was declined',
            nextRetryOn: day(request.nextRetryAt),
            portalUrl: await portalUrlFor(key, customer.id),
          });
        case 'payment_reminder':
          return send(key, customer, 'payment_reminder', { ...base, amountDue: due, finalRetryOn: day(request.finalRetryAt ?? new Date()), portalUrl: await portalUrlFor(key, customer.id) });
        case 'payment_action_required':
          return send(key, customer, 'payment_action_required', {
            ...base,
            amountDue: due,
            actionUrl: paymentPage(invoice.id, request.paymentIntentId, request.actionUrl),
            portalUrl: await portalUrlFor(key, customer.id),
          });
        case 'payment_method_required':
          return send(key, customer, 'payment_method_required', {
            ...base,
            amountDue: due,
            declineReason: request.declineReason ?? 'the card cannot be charged',
            updateUrl: paymentPage(invoice.id, null, null),
            portalUrl: await portalUrlFor(key, customer.id),
          });
        default:
          throw ApplicationFailure.nonRetryable(`notifyCustomer does not send ${request.template}`, 'unknown_template');
      }
    },

    /**
     * Tells the customer's service to suspend or resume a subscription: the subscription.suspended or
     * subscription.resumed event (once per key, with the subscription as it stands after the move),
     * which webhook endpoints receive (PROVISIONING_WEBHOOK_URL is one), and an e-mail to the
     * customer. Name and arguments stay as running workflows call them.
     */
    async notifyProvisioning(request: { key: string; subscriptionId: string; invoiceId: string; type: 'subscription.suspended' | 'subscription.resumed'; at: string }): Promise<void> {
      const subscription = await em().findOneOrFail(Subscription, { id: request.subscriptionId });
      const customer = await em().findOneOrFail(Customer, { id: subscription.customerId });
      const plan = await em().findOneOrFail(Plan, { id: subscription.planId });
      const invoice = await em().findOneOrFail(Invoice, { id: request.invoiceId });
      // The workflow publishes its new status after this; the event says it already.
      const status = request.type === 'subscription.suspended' ? 'suspended' : 'active';
      await em().transactional((tx) => subscriptionEvent(tx, request.type, `${request.type}:${request.key}`, subscription.id, { status }));
      const on = day(request.at);
      if (request.type === 'subscription.suspended') {
        await send(`service_suspended:${request.key}`, customer, 'service_suspended', {
          customerName: customer.name,
          planName: plan.name,
          suspendedOn: on,
          invoiceNumber: invoiceName(invoice),
          amountDue: formatAmount(invoice.amountDue, invoice.currency),
          currency: invoice.currency,
        });
      } else {
        await send(`service_resumed:${request.key}`, customer, 'service_resumed', { customerName: customer.name, planName: plan.name, resumedOn: on });
      }
    },
  };
}

export type CollectionActivities = ReturnType<typeof createCollectionActivities>;
