import type { Pool } from 'pg';
import Stripe from 'stripe';
import type { ChaosApi } from './api-client';
import type { Random } from './random';

/**
 * What a chaos run bills: customers on daily plans (USD and EUR), each with a card that pays, one that
 * declines, or one that asks for 3-D Secure, and subscriptions backdated so that each bills several
 * elapsed days at once (each day an invoice collected by its own `invoice-<id>` workflow). Customers
 * with 3-D Secure cards act later, as people do: some finish the authentication, some pay the
 * invoice by hand and then finish it too (the second payment must be cancelled or refunded), some
 * attach another card while the payment waits (the waiting intent must be cancelled), some never act.
 * A few customers with working cards also pay each invoice by bank transfer as soon as it is issued,
 * racing the card charge: one of the two may take the money, never both.
 */
export type CustomerKind = 'card' | 'card_and_transfer' | 'declining' | '3ds_authenticates' | '3ds_manual_payment' | '3ds_new_card' | '3ds_abandoned';

export const CARD_NUMBERS = {
  paying: '4242424242424242',
  /** Attaches, and every charge is declined (localstripe's pm_card_chargeCustomerFail). */
  declining: '4000000000000341',
  /** Every charge asks for 3-D Secure; authenticating it charges the card. */
  threeDSecure: '4000002760003184',
} as const;

const SHARES: Array<[CustomerKind, number]> = [
  ['card_and_transfer', 0.05],
  ['declining', 0.1],
  ['3ds_authenticates', 0.08],
  ['3ds_manual_payment', 0.06],
  ['3ds_new_card', 0.06],
  ['3ds_abandoned', 0.03],
];

export const PERIODS_PER_SUBSCRIPTION = 5;
const DAY = 86_400_000;

export interface PlannedCustomer {
  index: number;
  kind: CustomerKind;
  currency: 'USD' | 'EUR';
}

export interface PlannedSubscription {
  index: number;
  customer: number;
  /** Elapsed daily periods billed at once, the running one included. */
  periods: number;
}

export interface WorkloadPlan {
  renewals: number;
  customers: PlannedCustomer[];
  subscriptions: PlannedSubscription[];
}

/** E.g. 1,000 renewals: 200 subscriptions of 5 periods over 40 customers. Every kind of customer is there. */
export function planWorkload(renewals: number, rng: Random): WorkloadPlan {
  const subscriptionCount = Math.ceil(renewals / PERIODS_PER_SUBSCRIPTION);
  const customerCount = Math.max(SHARES.length + 2, Math.round(subscriptionCount / 5));
  const kinds: CustomerKind[] = [];
  for (const [kind, share] of SHARES) for (let i = 0; i < Math.max(1, Math.round(customerCount * share)); i++) kinds.push(kind);
  while (kinds.length < customerCount) kinds.push('card');
  rng.shuffle(kinds);
  const customers = kinds.map((kind, index): PlannedCustomer => ({ index, kind, currency: index % 3 === 2 ? 'EUR' : 'USD' }));
  const subscriptions: PlannedSubscription[] = [];
  let left = renewals;
  for (let index = 0; index < subscriptionCount; index++) {
    const periods = Math.min(PERIODS_PER_SUBSCRIPTION, left);
    left -= periods;
    subscriptions.push({ index, customer: index % customerCount, periods });
  }
  return { renewals, customers, subscriptions };
}

export interface WorkloadStats {
  customers: Record<CustomerKind, number>;
  /** 3-D Secure payments the customer completed while nothing else had paid the invoice. */
  authenticated: number;
  /** Invoices of 3-D Secure customers paid by hand (POST /v1/invoices/:id/payments) while the intent waited. */
  manualPayments: number;
  /** Of those, invoices whose 3-D Secure the customer had completed just before: paid twice, the card payment is excess. */
  paidTwice: number;
  /** Authentications the customer finished after the invoice was paid another way (by hand, or by a new card). */
  lateAuthentications: number;
  /** Of those, the ones Stripe let through (the intent had not been cancelled yet): the money must be refunded. */
  lateAuthenticationsCharged: number;
  newCards: number;
  /** Manual payments refused with 409 payment_in_progress (a card attempt was in flight), tried again. */
  manualPaymentsDeferred: number;
  /** Bank transfers racing the card charge: recorded, or refused because the card had paid first. */
  transfers: { paid: number; cardFirst: number };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class Workload {
  readonly stats: WorkloadStats;
  /** Our customer id → what it does. */
  private readonly kindOf = new Map<string, CustomerKind>();
  private readonly customerIds: string[] = [];
  private planIds: Record<'USD' | 'EUR', string> = { USD: 'chaos-daily-usd', EUR: 'chaos-daily-eur' };
  private readonly handled = new Set<string>();
  private readonly transferWhenCharging = new Map<string, boolean>();
  private readonly newCardFor = new Set<string>();
  private scheduled = 0;
  private running = false;
  private loop: Promise<void> | null = null;
  subscriptionsCreated = 0;
  errors: string[] = [];

  constructor(
    private readonly plan: WorkloadPlan,
    private readonly api: ChaosApi,
    /** The Stripe SDK on the emulator's plain front: what the customer's browser does. */
    private readonly stripe: Stripe,
    private readonly emulatorBase: string,
    private readonly secretKey: string,
    private readonly owner: Pool,
    private readonly rng: Random,
    private readonly log: (line: string) => void,
  ) {
    const customers = { card: 0, card_and_transfer: 0, declining: 0, '3ds_authenticates': 0, '3ds_manual_payment': 0, '3ds_new_card': 0, '3ds_abandoned': 0 };
    for (const c of plan.customers) customers[c.kind] += 1;
    this.stats = {
      customers,
      authenticated: 0,
      manualPayments: 0,
      paidTwice: 0,
      lateAuthentications: 0,
      lateAuthenticationsCharged: 0,
      newCards: 0,
      manualPaymentsDeferred: 0,
      transfers: { paid: 0, cardFirst: 0 },
    };
  }

  private async created<T>(what: string, answer: { data?: T; error?: unknown; response: Response }): Promise<T> {
    if ((answer.response.status !== 201 && answer.response.status !== 200) || !answer.data) throw new Error(`${what}: HTTP ${answer.response.status} ${JSON.stringify(answer.error)}`);
    return answer.data;
  }

  /** A card as the customer's browser creates it with Stripe.js, attached through the API. */
  private async attachCard(customerId: string, number: string, key: string): Promise<string> {
    const card = await this.stripe.paymentMethods.create({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });
    await this.created(`attach a card to ${customerId}`, await this.api.client.POST('/v1/customers/{id}/payment_methods', { params: { path: { id: customerId }, header: idempotent(key) }, body: { payment_method: card.id } }));
    return card.id;
  }

  /** Plans, customers and their first cards. */
  async setUp(): Promise<void> {
    for (const [currency, amount] of [['USD', '12.00'], ['EUR', '7.50']] as const) {
      const code = this.planIds[currency];
      await this.created(`plan ${code}`, await this.api.client.POST('/v1/plans', { params: { header: idempotent(`chaos-plan-${code}`) }, body: { code, name: `Daily ${currency}`, currency, interval: 'day', amount } }));
    }
    await inParallel(this.plan.customers, 4, async (c) => {
      const body = await this.created(
        `customer ${c.index}`,
        await this.api.client.POST('/v1/customers', {
          params: { header: idempotent(`chaos-customer-${c.index}`) },
          body: { name: `Chaos customer ${c.index}`, email: `c${c.index}@chaos.test`, currency: c.currency },
        }),
      );
      this.customerIds[c.index] = body.id;
      this.kindOf.set(body.id, c.kind);
      const number = c.kind === 'card' || c.kind === 'card_and_transfer' ? CARD_NUMBERS.paying : c.kind === 'declining' ? CARD_NUMBERS.declining : CARD_NUMBERS.threeDSecure;
      await this.attachCard(body.id, number, `chaos-card-${c.index}`);
    });
  }

  /** The subscriptions, each backdated to bill its periods at once; the next period is about a day away. */
  async subscribe(): Promise<void> {
    const now = Date.now();
    await inParallel(this.plan.subscriptions, 4, async (s) => {
      const customer = this.plan.customers[s.customer];
      // Seconds only: the API keeps milliseconds, but whole seconds read better in the logs.
      const startAt = new Date(Math.floor((now - (s.periods - 1) * DAY - 3_600_000 - this.rng.int(0, 600) * 1000) / 1000) * 1000);
      await this.created(
        `subscription ${s.index}`,
        await this.api.client.POST('/v1/subscriptions', {
          params: { header: idempotent(`chaos-subscription-${s.index}`) },
          body: { customer_id: this.customerIds[customer.index], plan_code: this.planIds[customer.currency], start_at: startAt.toISOString() },
        }),
      );
      this.subscriptionsCreated += 1;
    });
  }

  /** Customers start acting on the payments that wait for them. */
  startCustomers(): void {
    this.running = true;
    this.loop = this.watch();
  }

  /** `wait`: until what customers decided to do is done (not when the run is being torn down). */
  async stopCustomers(options: { wait: boolean }): Promise<void> {
    this.running = false;
    await this.loop;
    while (options.wait && this.scheduled > 0) await sleep(100);
  }

  /** Nothing a customer decided to do is still to be done. */
  idle(): boolean {
    return this.scheduled === 0;
  }

  /** 3-D Secure customers who have not attached their new card yet although a payment of theirs waits. */
  newCardsOwed(): number {
    return [...this.kindOf.entries()].filter(([id, kind]) => kind === '3ds_new_card' && this.waitingFor.has(id) && !this.newCardFor.has(id)).length;
  }

  private readonly waitingFor = new Set<string>();

  private async watch(): Promise<void> {
    const transferring = [...this.kindOf.entries()].filter(([, kind]) => kind === 'card_and_transfer').map(([id]) => id);
    while (this.running) {
      try {
        if (transferring.length > 0) {
          const { rows } = await this.owner.query<{ id: string; charging: boolean }>(
            `select i.id, exists (select 1 from payment_attempts a where a.invoice_id = i.id and a.status = 'pending') as charging
               from invoices i where i.customer_id = any($1) and i.status = 'open'`,
            [transferring],
          );
          for (const { id, charging } of rows) {
            if (this.handled.has(id)) continue;
            // Half the transfers are sent as the invoice is issued, half once its card charge is under way.
            if (!this.transferWhenCharging.has(id)) this.transferWhenCharging.set(id, this.rng.chance(0.5));
            if (this.transferWhenCharging.get(id) && !charging) continue;
            this.handled.add(id);
            this.later(charging ? 0 : this.rng.between(0, 2_000), async () => {
              if (await this.payByHand(id)) this.stats.transfers.paid += 1;
              else this.stats.transfers.cardFirst += 1;
            });
          }
        }
        const { rows } = await this.owner.query<{ payment_intent_id: string; invoice_id: string; customer_id: string }>(
          `select a.payment_intent_id, a.invoice_id, i.customer_id
             from payment_attempts a join invoices i on i.id = a.invoice_id
            where a.status = 'requires_action' and a.payment_intent_id is not null and i.status = 'open'`,
        );
        for (const row of rows) {
          if (this.handled.has(row.payment_intent_id)) continue;
          this.handled.add(row.payment_intent_id);
          this.waitingFor.add(row.customer_id);
          this.act(this.kindOf.get(row.customer_id), row);
        }
      } catch (error) {
        this.errors.push(`watching 3-D Secure payments: ${error instanceof Error ? error.message : String(error)}`);
      }
      await sleep(500);
    }
  }

  private later(ms: number, work: () => Promise<void>): void {
    this.scheduled += 1;
    void sleep(ms)
      .then(work)
      .catch((error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        this.errors.push(message);
        this.log(`customer action failed: ${message}`);
      })
      .finally(() => (this.scheduled -= 1));
  }

  private act(kind: CustomerKind | undefined, row: { payment_intent_id: string; invoice_id: string; customer_id: string }): void {
    switch (kind) {
      case '3ds_authenticates':
        this.later(this.rng.between(500, 5_000), async () => {
          if ((await this.authenticate(row.payment_intent_id)) === 200) this.stats.authenticated += 1;
        });
        return;
      case '3ds_manual_payment': {
        const authenticateFirst = this.rng.chance(0.5);
        this.later(this.rng.between(500, 4_000), async () => {
          if (authenticateFirst) {
            // Completed, then paid by hand before Stripe's webhook arrives: paid twice, the card refunded.
            if ((await this.authenticate(row.payment_intent_id)) !== 200) return;
            this.stats.authenticated += 1;
            if (!(await this.payByHand(row.invoice_id))) return;
            this.stats.manualPayments += 1;
            this.stats.paidTwice += 1;
            return;
          }
          if (!(await this.payByHand(row.invoice_id))) return;
          this.stats.manualPayments += 1;
          // The customer finishes the authentication too, racing the collection's cancellation.
          await sleep(this.rng.between(0, 1_500));
          await this.lateAuthentication(row.payment_intent_id);
        });
        return;
      }
      case '3ds_new_card': {
        if (this.newCardFor.has(row.customer_id)) return;
        this.newCardFor.add(row.customer_id);
        const alsoAuthenticate = this.rng.chance(0.5);
        this.later(this.rng.between(1_000, 4_000), async () => {
          await this.attachCard(row.customer_id, CARD_NUMBERS.paying, `chaos-new-card-${row.customer_id}`);
          this.stats.newCards += 1;
          // Some customers finish the old authentication after all, as the new card is being charged.
          if (alsoAuthenticate) await this.lateAuthentication(row.payment_intent_id);
        });
        return;
      }
      default:
        return;
    }
  }

  private async lateAuthentication(intentId: string): Promise<void> {
    this.stats.lateAuthentications += 1;
    if ((await this.authenticate(intentId)) === 200) this.stats.lateAuthenticationsCharged += 1;
  }

  /** The customer completes 3-D Secure on Stripe's page (localstripe's own route); 400 once the intent was cancelled. */
  private async authenticate(intentId: string): Promise<number> {
    const intent = await this.stripe.paymentIntents.retrieve(intentId);
    if (intent.status !== 'requires_action') return 400;
    const response = await fetch(`${this.emulatorBase}/v1/payment_intents/${encodeURIComponent(intentId)}/_authenticate`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${this.secretKey}` },
      body: new URLSearchParams({ client_secret: intent.client_secret ?? '', success: 'true' }).toString(),
    });
    await response.arrayBuffer();
    return response.status;
  }

  /**
   * Pays the whole amount due by hand. A card attempt in flight refuses it for now (409
   * payment_in_progress): tried again with a new key, since that answer is kept under the first.
   * False when the invoice was paid meanwhile.
   */
  private async payByHand(invoiceId: string): Promise<boolean> {
    // A killed worker leaves its attempt pending until the activity times out (two minutes).
    const deadline = Date.now() + 5 * 60_000;
    for (let round = 0; ; round++) {
      const invoice = await this.api.client.GET('/v1/invoices/{id}', { params: { path: { id: invoiceId } } });
      if (!invoice.data) throw new Error(`invoice ${invoiceId}: HTTP ${invoice.response.status}`);
      if (invoice.data.status !== 'open') return false;
      const answer = await this.api.client.POST('/v1/invoices/{id}/payments', {
        params: { path: { id: invoiceId }, header: idempotent(`chaos-manual-${invoiceId}-${round}`) },
        body: { amount: invoice.data.amount_due, reference: 'bank transfer' },
      });
      if (answer.response.status === 201) return true;
      const code = answer.error?.error.code;
      if (code === 'invoice_not_open') return false;
      if (code !== 'payment_in_progress' || Date.now() > deadline) throw new Error(`manual payment of ${invoiceId}: HTTP ${answer.response.status} ${JSON.stringify(answer.error)}`);
      this.stats.manualPaymentsDeferred += 1;
      await sleep(1_000);
    }
  }
}

const idempotent = (key: string) => ({ 'Idempotency-Key': key });

async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await work(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}
