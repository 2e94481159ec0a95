import Stripe from 'stripe';
import type { StripeSettings } from '../config/env';
import { isHardDecline } from '../domain/dunning';

/**
 * Everything the system asks of Stripe, in one place. Every charge and refund carries an idempotency
 * key derived from our own facts, so a retried activity gets Stripe's first answer back instead of
 * a second charge. STRIPE_API_BASE points the SDK at an emulator (scripts/stripe-emulator.ts).
 */
export function stripeClient(settings: StripeSettings): Stripe {
  const base = settings.apiBase ? new URL(settings.apiBase) : null;
  return new Stripe(settings.secretKey, {
    ...(base ? { host: base.hostname, port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)), protocol: base.protocol.replace(':', '') as 'http' | 'https' } : {}),
    // Network errors and 5xx are retried by the SDK with the same idempotency key; the activity retries after that.
    maxNetworkRetries: 2,
    timeout: 20_000,
  });
}

/**
 * Where a PaymentIntent stands, as collection acts on it:
 * - succeeded: the money is taken;
 * - requires_action: only the customer can finish it (3-D Secure, or an off-session payment Stripe
 *   declined with authentication_required: the same intent can still be confirmed on-session);
 * - processing: the result is not known yet (some payment methods settle later); wait, never retry;
 * - failed: declined, the intent can no longer succeed without a new confirmation;
 * - canceled: it will never take money.
 */
export type IntentState =
  | { status: 'succeeded'; paymentIntentId: string; amountMinor: number; currency: string; feeMinor: number | null }
  | { status: 'requires_action'; paymentIntentId: string; actionUrl: string | null }
  | { status: 'processing'; paymentIntentId: string }
  | { status: 'failed'; paymentIntentId: string | null; code: string | null; declineCode: string | null; message: string; hard: boolean }
  | { status: 'canceled'; paymentIntentId: string };

export interface ChargeRequest {
  /** The attempt's idempotency key, also stored in the intent's metadata to find it again. */
  key: string;
  amountMinor: number;
  currency: string;
  stripeCustomerId: string;
  paymentMethod: string;
  invoiceId: string;
  invoiceNumber: string;
}

/** Stripe refused a request for a reason that retrying it cannot change (a reused idempotency key, an invalid request). */
export class StripeRequestRefused extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'StripeRequestRefused';
  }
}

/** Errors Stripe answers with that the same request will get again: retrying them only repeats them. */
function refusal(error: unknown): never {
  // 409: another request with the same key is still running (a retry after a timeout); it will finish.
  if (error instanceof Stripe.errors.StripeError && error.statusCode === 409) throw error;
  if (error instanceof Stripe.errors.StripeIdempotencyError) {
    throw new StripeRequestRefused(`Stripe refused the idempotency key: ${error.message}`, 'stripe_idempotency_error');
  }
  if (error instanceof Stripe.errors.StripeInvalidRequestError || error instanceof Stripe.errors.StripeAuthenticationError || error instanceof Stripe.errors.StripePermissionError) {
    throw new StripeRequestRefused(`Stripe refused the request (${error.type}${error.code ? `, ${error.code}` : ''}): ${error.message}`, error.code ?? error.type);
  }
  throw error;
}

export interface CardDetails {
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

export class StripeGateway {
  constructor(readonly stripe: Stripe) {}

  async ensureCustomer(customer: { id: string; name: string; email: string; stripeCustomerId?: string | null }): Promise<string> {
    if (customer.stripeCustomerId) return customer.stripeCustomerId;
    const created = await this.stripe.customers.create(
      { name: customer.name, email: customer.email, metadata: { perennial_customer_id: customer.id } },
      { idempotencyKey: `customer-${customer.id}` },
    );
    return created.id;
  }

  /** Attaches a payment method and makes it the one charged off-session. */
  async attachPaymentMethod(stripeCustomerId: string, paymentMethod: string): Promise<string> {
    const attached = await this.stripe.paymentMethods.attach(paymentMethod, { customer: stripeCustomerId });
    await this.stripe.customers.update(stripeCustomerId, { invoice_settings: { default_payment_method: attached.id } });
    return attached.id;
  }

  /** What a person recognises a card by (brand, last four digits, expiry); null when the payment method is not a card. */
  async card(paymentMethod: string): Promise<CardDetails | null> {
    const method = await this.stripe.paymentMethods.retrieve(paymentMethod);
    return method.card ? { brand: method.card.brand, last4: method.card.last4, expMonth: method.card.exp_month, expYear: method.card.exp_year } : null;
  }

  async setupIntent(stripeCustomerId: string): Promise<{ id: string; clientSecret: string }> {
    const intent = await this.stripe.setupIntents.create({ customer: stripeCustomerId, usage: 'off_session' });
    return { id: intent.id, clientSecret: intent.client_secret ?? '' };
  }

  /**
   * The card a SetupIntent collected, once the customer's browser confirmed it: null when it has not
   * succeeded or was made for another Stripe customer (an id from someone else's page).
   */
  async setupIntentCard(setupIntentId: string, stripeCustomerId: string): Promise<string | null> {
    const intent = await this.stripe.setupIntents.retrieve(setupIntentId).catch(refusal);
    const customer = typeof intent.customer === 'string' ? intent.customer : (intent.customer?.id ?? null);
    if (intent.status !== 'succeeded' || customer !== stripeCustomerId || !intent.payment_method) return null;
    return typeof intent.payment_method === 'string' ? intent.payment_method : intent.payment_method.id;
  }

  /** A card as its owner knows it ("visa", "4242", 12/2034); null for another kind of payment method. */
  async cardOf(paymentMethod: string): Promise<{ brand: string; last4: string; expMonth: number; expYear: number } | null> {
    const method = await this.stripe.paymentMethods.retrieve(paymentMethod).catch(refusal);
    return method.card ? { brand: method.card.brand, last4: method.card.last4, expMonth: method.card.exp_month, expYear: method.card.exp_year } : null;
  }

  /**
   * Confirms an off-session PaymentIntent for an attempt, under the attempt's idempotency key. The
   * caller passes the same request on every retry (it is stored when the attempt begins), so Stripe
   * answers a retry with the first intent. Declines come back as states; network errors, 5xx and rate
   * limits are thrown for a retry; a request Stripe refuses as such is thrown as StripeRequestRefused.
   */
  async charge(request: ChargeRequest): Promise<IntentState> {
    try {
      const intent = await this.stripe.paymentIntents.create(
        {
          amount: request.amountMinor,
          currency: request.currency.toLowerCase(),
          customer: request.stripeCustomerId,
          payment_method: request.paymentMethod,
          off_session: true,
          confirm: true,
          metadata: { invoice_id: request.invoiceId, invoice_number: request.invoiceNumber, attempt_key: request.key },
        },
        { idempotencyKey: request.key },
      );
      return this.stateOf(intent);
    } catch (error) {
      if (error instanceof Stripe.errors.StripeCardError) {
        const intent = (error.payment_intent ?? null) as Stripe.PaymentIntent | null;
        const intentId = intent?.id ?? (await this.intentOfCharge(error.charge));
        if (error.code === 'authentication_required' || intent?.status === 'requires_action') {
          return { status: 'requires_action', paymentIntentId: intentId ?? '', actionUrl: intent ? actionUrlOf(intent) : null };
        }
        return {
          status: 'failed',
          paymentIntentId: intentId,
          code: error.code ?? null,
          declineCode: error.decline_code || null,
          message: error.message,
          hard: isHardDecline(error.decline_code, error.code),
        };
      }
      // Stripe keeps a 500 under its key and replays it for a day: this attempt cannot succeed. The
      // caller has already looked for an intent it may have made; the next attempt gets a new key.
      if (error instanceof Stripe.errors.StripeAPIError && (error.statusCode ?? 0) >= 500 && error.headers?.['idempotent-replayed'] === 'true') {
        return { status: 'failed', paymentIntentId: null, code: 'stripe_api_error', declineCode: null, message: `Stripe failed this attempt: ${error.message}`, hard: false };
      }
      return refusal(error);
    }
  }

  /**
   * The intent an attempt created, if any: by its id when the attempt recorded one, otherwise by the
   * attempt key in its metadata (a crash can fall between Stripe creating it and our recording it,
   * and Stripe forgets idempotency keys after about a day, so the key alone cannot be relied on).
   */
  async findIntent(key: string, stripeCustomerId: string, paymentIntentId: string | null): Promise<Stripe.PaymentIntent | null> {
    if (paymentIntentId) return this.stripe.paymentIntents.retrieve(paymentIntentId).catch(refusal);
    for await (const intent of this.stripe.paymentIntents.list({ customer: stripeCustomerId, limit: 100 })) {
      if (intent.metadata?.attempt_key === key) return intent;
    }
    return null;
  }

  async state(intent: Stripe.PaymentIntent): Promise<IntentState> {
    return this.stateOf(intent);
  }

  /**
   * Makes sure an earlier intent can no longer take money: cancels it if it still could succeed
   * (waiting for the customer or for confirmation), captures it if it is authorised (an authorised
   * intent is the payment), and reports what it ended as. A processing intent cannot be cancelled:
   * it is reported as processing and the caller waits.
   */
  async settle(intent: Stripe.PaymentIntent, key: string): Promise<IntentState> {
    let current = intent;
    try {
      if (current.status === 'requires_capture') {
        current = await this.stripe.paymentIntents.capture(current.id, {}, { idempotencyKey: `${key}-capture` });
      } else if (current.status === 'requires_action' || current.status === 'requires_payment_method' || current.status === 'requires_confirmation') {
        current = await this.stripe.paymentIntents.cancel(current.id, {}, { idempotencyKey: `${key}-cancel` });
      }
    } catch (error) {
      // The customer finished it between our read and the cancel: read what it became.
      if (!(error instanceof Stripe.errors.StripeInvalidRequestError)) throw error;
      current = await this.stripe.paymentIntents.retrieve(current.id);
      if (current.status !== 'succeeded' && current.status !== 'canceled' && current.status !== 'processing') return refusal(error);
    }
    if (current.status === 'requires_payment_method') return { status: 'canceled', paymentIntentId: current.id };
    return this.stateOf(current);
  }

  async retrieve(paymentIntentId: string): Promise<Stripe.PaymentIntent> {
    return this.stripe.paymentIntents.retrieve(paymentIntentId).catch(refusal);
  }

  /** Some declines name the charge rather than the PaymentIntent; the charge knows its intent. */
  private async intentOfCharge(chargeId: string | undefined): Promise<string | null> {
    if (!chargeId) return null;
    try {
      const charge = await this.stripe.charges.retrieve(chargeId);
      return typeof charge.payment_intent === 'string' ? charge.payment_intent : (charge.payment_intent?.id ?? null);
    } catch {
      return null;
    }
  }

  private async stateOf(intent: Stripe.PaymentIntent): Promise<IntentState> {
    switch (intent.status) {
      case 'succeeded':
        return { status: 'succeeded', paymentIntentId: intent.id, amountMinor: intent.amount_received || intent.amount, currency: intent.currency, feeMinor: await this.feeOf(intent) };
      case 'requires_action':
      case 'requires_confirmation':
        return { status: 'requires_action', paymentIntentId: intent.id, actionUrl: actionUrlOf(intent) };
      case 'processing':
        return { status: 'processing', paymentIntentId: intent.id };
      case 'canceled':
        return { status: 'canceled', paymentIntentId: intent.id };
      case 'requires_capture':
        // Collection confirms with automatic capture; an authorised intent is settled by capturing it.
        return this.settle(intent, `intent-${intent.id}`);
      default:
        break;
    }
    const error = intent.last_payment_error;
    if (error?.code === 'authentication_required') return { status: 'requires_action', paymentIntentId: intent.id, actionUrl: actionUrlOf(intent) };
    return {
      status: 'failed',
      paymentIntentId: intent.id,
      code: error?.code ?? null,
      declineCode: error?.decline_code ?? null,
      message: error?.message ?? `payment ${intent.status}`,
      hard: isHardDecline(error?.decline_code, error?.code),
    };
  }

  /** Stripe's fee, where the charge's balance transaction says it (not every emulator does). */
  async feeOf(intent: Stripe.PaymentIntent): Promise<number | null> {
    try {
      const chargeId = typeof intent.latest_charge === 'string' ? intent.latest_charge : intent.latest_charge?.id;
      if (!chargeId) return null;
      const charge = await this.stripe.charges.retrieve(chargeId, { expand: ['balance_transaction'] });
      const tx = charge.balance_transaction;
      return tx && typeof tx === 'object' && typeof tx.fee === 'number' ? tx.fee : null;
    } catch {
      return null;
    }
  }

  /** A refund under our key: a retry gets Stripe's same refund back. A refusal (already refunded, say) is thrown as StripeRequestRefused. */
  async refund(request: { key: string; paymentIntentId: string; amountMinor: number; reason?: string }): Promise<string> {
    try {
      const refund = await this.stripe.refunds.create(
        { payment_intent: request.paymentIntentId, amount: request.amountMinor, metadata: request.reason ? { reason: request.reason } : {} },
        { idempotencyKey: request.key },
      );
      return refund.id;
    } catch (error) {
      return refusal(error);
    }
  }
}

/** Stripe's page for the customer to authenticate, when it gives one (a redirect-based next action). */
function actionUrlOf(intent: Stripe.PaymentIntent): string | null {
  return intent.next_action?.redirect_to_url?.url ?? null;
}
