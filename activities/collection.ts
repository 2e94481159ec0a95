import { createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { beginAttempt, finishAttempt, fromMinorUnits, recordCardPayment, toMinorUnits } from '../db/collection-store';
import { queueEmail } from '../db/email-outbox';
import { Customer } from '../db/entities/customer';
import { Invoice } from '../db/entities/invoice';
import { Plan } from '../db/entities/plan';
import { Subscription } from '../db/entities/subscription';
import { newId } from '../db/ids';
import { forkEm, type Orm } from '../db/orm';
import type { EmailData, EmailTemplate } from '../domain/emails';
import { formatAmount } from '../domain/money';
import { deliverEmail, isPermanentSmtpFailure, type EmailTransport } from '../mail/smtp';
import type { StripeGateway } from '../payments/stripe-gateway';

export interface ProvisioningSettings {
  url: string;
  secret: string;
}

export function provisioningFromEnv(env: NodeJS.ProcessEnv = process.env): ProvisioningSettings | null {
  if (!env.PROVISIONING_WEBHOOK_URL) return null;
  if (!env.PROVISIONING_WEBHOOK_SECRET) throw new Error('PROVISIONING_WEBHOOK_SECRET must be set with PROVISIONING_WEBHOOK_URL: receivers verify the signature with it');
  return { url: env.PROVISIONING_WEBHOOK_URL, secret: env.PROVISIONING_WEBHOOK_SECRET };
}

/** `Perennial-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, as Stripe signs its webhooks. */
export function signPayload(secret: string, body: string, at: Date): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

export interface CollectionDeps {
  orm: Orm;
  stripe: StripeGateway | null;
  mail: EmailTransport | null;
  provisioning: ProvisioningSettings | null;
}

export type ChargeOutcome =
  | { status: 'succeeded' }
  | { status: 'settled' }
  | { status: 'requires_action' }
  | { status: 'no_payment_method' }
  | { status: 'failed'; code: string | null; declineCode: string | null; message: string; hard: boolean };

const day = (d: Date | string): string => new Date(d).toISOString().slice(0, 10);

/** Side effects of collecting invoices: charging cards, e-mailing customers, telling the customer's service. */
export function createCollectionActivities({ orm, stripe, mail, provisioning }: CollectionDeps) {
  const em = forkEm(orm);

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

  return {
    async collectionContext(request: { invoiceId: string }): Promise<{ stripeConfigured: boolean; dunningSchedule: number[] }> {
      const invoice = await em().findOneOrFail(Invoice, { id: request.invoiceId });
      const subscription = await em().findOneOrFail(Subscription, { id: invoice.subscriptionId });
      const plan = await em().findOneOrFail(Plan, { id: subscription.planId });
      return { stripeConfigured: stripe !== null, dunningSchedule: plan.dunningSchedule };
    },

    /**
     * One charge attempt, confirmed off-session with the idempotency key of (invoice, attempt): a
     * retry after a crash, a timeout or a Stripe 5xx gets the same PaymentIntent back, never a second
     * charge. A success is recorded once even if the webhook recorded it first.
     */
    async chargeInvoice(request: { invoiceId: string; attempt: number }): Promise<ChargeOutcome> {
      if (!stripe) return { status: 'no_payment_method' };
      const plan = await beginAttempt(em(), request.invoiceId, request.attempt);
      if (plan.kind !== 'charge') return { status: plan.kind === 'settled' ? 'settled' : 'no_payment_method' };
      const result = await stripe.charge({
        key: plan.key,
        amountMinor: toMinorUnits(plan.amount, plan.currency),
        currency: plan.currency,
        stripeCustomerId: plan.stripeCustomerId,
        paymentMethod: plan.paymentMethod,
        invoiceId: request.invoiceId,
        invoiceNumber: plan.invoiceNumber,
      });
      if (result.status === 'succeeded') {
        await recordCardPayment(em(), {
          invoiceId: request.invoiceId,
          paymentIntentId: result.paymentIntentId,
          amount: fromMinorUnits(result.amountMinor, plan.currency),
          fee: result.feeMinor === null ? null : fromMinorUnits(result.feeMinor, plan.currency),
          receivedAt: new Date(),
        });
        await finishAttempt(em(), request.invoiceId, request.attempt, { status: 'succeeded', paymentIntentId: result.paymentIntentId });
        return { status: 'succeeded' };
      }
      if (result.status === 'requires_action') {
        await finishAttempt(em(), request.invoiceId, request.attempt, { status: 'requires_action', paymentIntentId: result.paymentIntentId });
        return { status: 'requires_action' };
      }
      await finishAttempt(em(), request.invoiceId, request.attempt, {
        status: 'failed',
        paymentIntentId: result.paymentIntentId,
        failureCode: result.code,
        declineCode: result.declineCode,
        message: result.message,
        hardDecline: result.hard,
      });
      return { status: 'failed', code: result.code, declineCode: result.declineCode, message: result.message, hard: result.hard };
    },

    /** Queues (once per key) and sends a collection e-mail about an invoice. */
    async notifyCustomer(request: { invoiceId: string; template: EmailTemplate; key: string; declineReason?: string; nextRetryAt?: string | null; finalRetryAt?: string }): Promise<void> {
      const invoice = await em().findOneOrFail(Invoice, { id: request.invoiceId });
      const customer = await em().findOneOrFail(Customer, { id: invoice.customerId });
      const base = { customerName: customer.name, invoiceNumber: invoice.number, currency: invoice.currency };
      const due = formatAmount(invoice.amountDue, invoice.currency);
      const key = `${request.template}:${request.key}`;
      switch (request.template) {
        case 'payment_receipt':
          return send(key, customer, 'payment_receipt', { ...base, amount: formatAmount(invoice.amountPaid, invoice.currency), paidOn: day(invoice.paidAt ?? new Date()) });
        case 'payment_failed':
          if (!request.nextRetryAt) throw ApplicationFailure.nonRetryable('payment_failed needs the next retry date', 'email_data_invalid');
          return send(key, customer, 'payment_failed', { ...base, amountDue: due, failedOn: day(new Date()), declineReason: request.declineReason ?? 'the card was declined', nextRetryOn: day(request.nextRetryAt) });
        case 'payment_reminder':
          return send(key, customer, 'payment_reminder', { ...base, amountDue: due, finalRetryOn: day(request.finalRetryAt ?? new Date()) });
        case 'payment_action_required':
          return send(key, customer, 'payment_action_required', { ...base, amountDue: due, actionUrl: null });
        case 'payment_method_required':
          return send(key, customer, 'payment_method_required', { ...base, amountDue: due, declineReason: request.declineReason ?? 'the card cannot be charged', updateUrl: null });
        default:
          throw ApplicationFailure.nonRetryable(`notifyCustomer does not send ${request.template}`, 'unknown_template');
      }
    },

    /**
     * Tells the customer's service to suspend or resume a subscription: a signed webhook (recorded
     * once per key, delivered until it is acknowledged) and an e-mail to the customer.
     */
    async notifyProvisioning(request: { key: string; subscriptionId: string; invoiceId: string; type: 'subscription.suspended' | 'subscription.resumed'; at: string }): Promise<void> {
      const subscription = await em().findOneOrFail(Subscription, { id: request.subscriptionId });
      const customer = await em().findOneOrFail(Customer, { id: subscription.customerId });
      const plan = await em().findOneOrFail(Plan, { id: subscription.planId });
      const invoice = await em().findOneOrFail(Invoice, { id: request.invoiceId });
      const payload = { id: request.key, type: request.type, created: request.at, data: { subscription_id: subscription.id, customer_id: customer.id, invoice_id: invoice.id } };
      await em().execute(
        `insert into provisioning_events (id, idempotency_key, subscription_id, type, payload, status) values (?, ?, ?, ?, ?, 'pending') on conflict (idempotency_key) do nothing`,
        [newId('pe'), request.key, subscription.id, request.type, JSON.stringify(payload)],
      );
      const [row] = await em().execute<Array<{ status: string; payload: unknown }>>('select status, payload from provisioning_events where idempotency_key = ?', [request.key]);
      if (row.status !== 'delivered' && provisioning) {
        const body = JSON.stringify(row.payload);
        const response = await fetch(provisioning.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'perennial-signature': signPayload(provisioning.secret, body, new Date()) },
          body,
          signal: AbortSignal.timeout(15_000),
        }).catch((error: unknown) => ({ ok: false, status: 0, statusText: String(error) }) as Response);
        await em().execute('update provisioning_events set attempts = attempts + 1, last_error = ? where idempotency_key = ?', [response.ok ? null : `${response.status} ${response.statusText}`, request.key]);
        // Not acknowledged: the activity is retried, and the receiver dedupes on the event id.
        if (!response.ok) throw new Error(`provisioning webhook ${request.key} got ${response.status} ${response.statusText}`);
        await em().execute(`update provisioning_events set status = 'delivered', delivered_at = now() where idempotency_key = ?`, [request.key]);
      }
      const on = day(request.at);
      if (request.type === 'subscription.suspended') {
        await send(`service_suspended:${request.key}`, customer, 'service_suspended', {
          customerName: customer.name,
          planName: plan.name,
          suspendedOn: on,
          invoiceNumber: invoice.number,
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
