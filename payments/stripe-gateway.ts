import Stripe from 'stripe';
import { isHardDecline } from '../domain/dunning';

/**
 * Everything the system asks of Stripe, in one place. Every charge and refund carries an idempotency
 * key derived from our own facts, so a retried activity gets Stripe's first answer back instead of
 * a second charge. STRIPE_API_BASE points the SDK at an emulator (tests use localstripe).
 */
export interface StripeSettings {
  secretKey: string;
  webhookSecret: string | null;
  apiBase: string | null;
}

export function stripeSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): StripeSettings | null {
  if (!env.STRIPE_SECRET_KEY) return null;
  return { secretKey: env.STRIPE_SECRET_KEY, webhookSecret: env.STRIPE_WEBHOOK_SECRET ?? null, apiBase: env.STRIPE_API_BASE ?? null };
}

export function stripeClient(settings: StripeSettings): Stripe {
  const base = settings.apiBase ? new URL(settings.apiBase) : null;
  return new Stripe(settings.secretKey, {
    ...(base ? { host: base.hostname, port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)), protocol: base.protocol.replace(':', '') as 'http' | 'https' } : {}),
    // Network errors and 5xx are retried by the SDK with the same idempotency key; the activity retries after that.
    maxNetworkRetries: 2,
    timeout: 20_000,
  });
}

export type ChargeResult =
  | { status: 'succeeded'; paymentIntentId: string; amountMinor: number; feeMinor: number | null }
  | { status: 'requires_action'; paymentIntentId: string }
  | { status: 'failed'; paymentIntentId: string | null; code: string | null; declineCode: string | null; message: string; hard: boolean };

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

  async setupIntent(stripeCustomerId: string): Promise<{ id: string; clientSecret: string }> {
    const intent = await this.stripe.setupIntents.create({ customer: stripeCustomerId, usage: 'off_session' });
    return { id: intent.id, clientSecret: intent.client_secret ?? '' };
  }

  /**
   * Confirms an off-session PaymentIntent. Declines come back as results (the dunning schedule acts
   * on them); anything else (a network error, a 5xx, a rate limit) is thrown, for a retry with the
   * same idempotency key.
   */
  async charge(request: { key: string; amountMinor: number; currency: string; stripeCustomerId: string; paymentMethod: string; invoiceId: string; invoiceNumber: string }): Promise<ChargeResult> {
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
      return this.resultOf(intent);
    } catch (error) {
      if (error instanceof Stripe.errors.StripeCardError) {
        const intent = (error.payment_intent ?? null) as Stripe.PaymentIntent | null;
        const intentId = intent?.id ?? (await this.intentOfCharge(error.charge));
        if (error.code === 'authentication_required' || intent?.status === 'requires_action') {
          return { status: 'requires_action', paymentIntentId: intent?.id ?? '' };
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
      throw error;
    }
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

  private async resultOf(intent: Stripe.PaymentIntent): Promise<ChargeResult> {
    if (intent.status === 'succeeded') return { status: 'succeeded', paymentIntentId: intent.id, amountMinor: intent.amount_received || intent.amount, feeMinor: await this.feeOf(intent) };
    if (intent.status === 'requires_action') return { status: 'requires_action', paymentIntentId: intent.id };
    const error = intent.last_payment_error;
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

  async refund(request: { key: string; paymentIntentId: string; amountMinor: number; reason?: string }): Promise<string> {
    const refund = await this.stripe.refunds.create(
      { payment_intent: request.paymentIntentId, amount: request.amountMinor, metadata: request.reason ? { reason: request.reason } : {} },
      { idempotencyKey: request.key },
    );
    return refund.id;
  }
}
