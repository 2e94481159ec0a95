import { Client } from 'pg';
import { APP_LOGIN } from '../../scripts/stack';
import type { FrontRequest, StripeFrontRule } from '../../scripts/stripe-emulator';
import type { Random } from './random';
import type { ChaosStack } from './stack';
import type { RelayPlan } from './webhook-relay';

/**
 * The faults a chaos run injects, at random with the run's seed. Each kind has a budget: a
 * probability per eligible moment (a Stripe request of the right kind, a webhook event), a minimum
 * (forced at one of its first eligible moments if chance has not produced it, so even a short run
 * sees every kind) and a maximum (the costly ones: a killed worker leaves its activities to time out
 * after their start-to-close timeout, two minutes for collection).
 */
export type FaultKind =
  | 'worker_killed'
  | 'worker_killed_after_charge'
  | 'stripe_500'
  | 'stripe_outage'
  | 'stripe_timeout'
  | 'stripe_connection_dropped'
  | 'webhook_duplicated'
  | 'webhook_delayed'
  | 'webhook_reordered'
  | 'webhook_before_charge_returns'
  | 'postgres_backend_terminated';

export const FAULT_KINDS: readonly FaultKind[] = [
  'worker_killed',
  'worker_killed_after_charge',
  'stripe_500',
  'stripe_outage',
  'stripe_timeout',
  'stripe_connection_dropped',
  'webhook_duplicated',
  'webhook_delayed',
  'webhook_reordered',
  'webhook_before_charge_returns',
  'postgres_backend_terminated',
];

export const FAULT_LABELS: Record<FaultKind, string> = {
  worker_killed: 'worker SIGKILLed at a random moment',
  worker_killed_after_charge: "worker SIGKILLed after Stripe's answer, before the worker read it",
  stripe_500: 'Stripe answered 500',
  stripe_outage: "Stripe's refunds answering 500 for 10-30 s",
  stripe_timeout: 'Stripe answered after the SDK timeout (25 s)',
  stripe_connection_dropped: 'Stripe acted, then the connection dropped',
  webhook_duplicated: 'webhook delivered 2-3 times',
  webhook_delayed: 'webhook delayed 1-8 s',
  webhook_reordered: 'webhook delivered after later ones',
  webhook_before_charge_returns: 'webhook processed before the charge call returned',
  postgres_backend_terminated: 'Postgres backend of the app terminated (pg_terminate_backend)',
};

interface Budget {
  /** Chance per eligible moment. */
  p: number;
  min: number;
  max: number;
}

/** One kind's decisions: its own random stream, so other kinds' draws do not shift them. */
class Dice {
  private eligible = 0;
  fired = 0;
  private readonly forceAt: number;

  constructor(
    private readonly rng: Random,
    readonly budget: Budget,
    forceWithin = 3,
  ) {
    this.forceAt = rng.int(1, forceWithin);
  }

  /** Whether this eligible moment gets the fault; `fired` counts it only once it really happened (record). */
  roll(): boolean {
    this.eligible += 1;
    const draw = this.rng.next();
    if (this.fired >= this.budget.max) return false;
    if (this.fired < this.budget.min && this.eligible >= this.forceAt) return true;
    return draw < this.budget.p;
  }
}

export interface FaultSettings {
  renewals: number;
  /** Pause between random worker kills, from the moment the previous worker was ready. */
  killGapMs: [number, number];
  /** Pause between pg_terminate_backend rounds. */
  terminateGapMs: [number, number];
  /** How long Stripe holds a delayed answer: past the gateway's 20 s timeout. */
  stripeDelayMs: number;
}

export function faultSettings(renewals: number): FaultSettings {
  const small = renewals <= 100;
  return {
    renewals,
    killGapMs: small ? [2_000, 5_000] : [15_000, 45_000],
    terminateGapMs: small ? [1_000, 3_000] : [1_500, 4_000],
    stripeDelayMs: 25_000,
  };
}

type StripeFault = 'worker_killed_after_charge' | 'webhook_before_charge_returns' | 'stripe_timeout' | 'stripe_connection_dropped' | 'stripe_500';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class FaultInjector {
  readonly counts: Record<FaultKind, number> = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  /** Rounds of pg_terminate_backend that found no busy backend of the app's login to terminate. */
  terminateMisses = 0;
  private enabled = false;
  private readonly dice: Record<FaultKind, Dice>;
  private readonly loops: Array<Promise<void>> = [];
  private owner: Client | null = null;

  constructor(
    private readonly stack: ChaosStack,
    private readonly rng: Random,
    private readonly settings: FaultSettings,
    private readonly log: (line: string) => void,
  ) {
    const n = settings.renewals;
    const budgets: Record<FaultKind, Budget> = {
      worker_killed: { p: 0, min: 1, max: Math.max(1, Math.round(n / 250)) },
      worker_killed_after_charge: { p: Math.max(1, Math.round(n / 200)) / n, min: 1, max: Math.max(1, Math.round(n / 200)) },
      stripe_500: { p: 0.03, min: 1, max: Number.MAX_SAFE_INTEGER },
      stripe_outage: { p: 0.3, min: 1, max: Math.max(1, Math.round(n / 100)) },
      stripe_timeout: { p: Math.max(1, Math.round(n / 250)) / n, min: 1, max: Math.max(1, Math.round(n / 250)) },
      stripe_connection_dropped: { p: 0.01, min: 1, max: Math.max(1, Math.round(n / 50)) },
      webhook_duplicated: { p: 0.08, min: 1, max: Number.MAX_SAFE_INTEGER },
      webhook_delayed: { p: 0.08, min: 1, max: Number.MAX_SAFE_INTEGER },
      webhook_reordered: { p: 0.05, min: 1, max: Number.MAX_SAFE_INTEGER },
      webhook_before_charge_returns: { p: 0.02, min: 1, max: Math.max(1, Math.round(n / 40)) },
      postgres_backend_terminated: { p: 1, min: 1, max: Number.MAX_SAFE_INTEGER },
    };
    // Refunds are few (excess payments only), so an outage is forced at the first one.
    this.dice = Object.fromEntries(FAULT_KINDS.map((k) => [k, new Dice(rng.fork(`fault:${k}`), budgets[k], k === 'stripe_outage' ? 1 : 3)])) as Record<FaultKind, Dice>;
    this.installStripeRules();
    this.installWebhookPolicy();
  }

  /** Kinds that have not reached their minimum yet. */
  missing(): FaultKind[] {
    return FAULT_KINDS.filter((k) => this.counts[k] < this.dice[k].budget.min);
  }

  async start(): Promise<void> {
    this.owner = new Client({ connectionString: this.stack.database.ownerUrl });
    await this.owner.connect();
    this.enabled = true;
    this.loops.push(this.killWorkerAtRandom(), this.terminateBackends());
  }

  /** Stops injecting; what is already held (a delayed answer, a held webhook) still runs out. */
  async stop(): Promise<void> {
    this.enabled = false;
    await Promise.all(this.loops.splice(0));
    await this.owner?.end().catch(() => undefined);
    this.owner = null;
  }

  private record(kind: FaultKind): void {
    this.counts[kind] += 1;
    this.dice[kind].fired += 1;
  }

  // ---- Stripe: rules on the front the worker and the API use ------------------------------------

  private installStripeRules(): void {
    const charge = (method: string, path: string) => method === 'POST' && path === '/v1/payment_intents';
    const cancel = (method: string, path: string) => method === 'POST' && /^\/v1\/payment_intents\/[^/]+\/cancel$/.test(path);
    const refund = (method: string, path: string) => method === 'POST' && path === '/v1/refunds';
    const read = (method: string, path: string) => method === 'GET' && (/^\/v1\/payment_intents(\/[^/]+)?$/.test(path) || /^\/v1\/charges\/[^/]+$/.test(path));

    // The front takes the first rule that matches, evaluating them in order within one synchronous
    // find: the first rule decides this request's fault and the others read that decision.
    let decided: StripeFault | null = null;
    // An outage outlasts the SDK's own retries (about 2 s of them), so what the billing code retries,
    // and what it leaves for later, is what gets tested. It hits refunds only: the rest of Stripe
    // answers, so the code that asked for a refund goes on, and the refund of an excess payment is the
    // one Stripe call no customer and no dunning retry will ask for again.
    let outageUntil = 0;
    const outageRng = this.rng.fork('outage-length');
    const decide = (method: string, path: string): StripeFault | null => {
      if (!this.enabled) return null;
      if (refund(method, path) && Date.now() < outageUntil) return 'stripe_500';
      if (refund(method, path) && this.dice.stripe_outage.roll()) {
        outageUntil = Date.now() + outageRng.between(10_000, 30_000);
        this.record('stripe_outage');
        this.log("fault: Stripe's refunds down for a while");
        return 'stripe_500';
      }
      const candidates: StripeFault[] = [];
      if (charge(method, path)) candidates.push('worker_killed_after_charge', 'webhook_before_charge_returns', 'stripe_timeout');
      if (charge(method, path) || cancel(method, path) || refund(method, path)) candidates.push('stripe_connection_dropped');
      if (charge(method, path) || cancel(method, path) || refund(method, path) || read(method, path)) candidates.push('stripe_500');
      // Every candidate rolls, so each kind's stream advances once per eligible request whatever the others decide.
      const rolled = candidates.filter((kind) => this.dice[kind].roll());
      return rolled[0] ?? null;
    };

    const failing: StripeFrontRule = {
      matches: (method, path) => {
        decided = decide(method, path);
        if (decided === 'stripe_500') this.record('stripe_500');
        return decided === 'stripe_500';
      },
      // The front counts this down; the decision is per request, so it never runs out.
      failTimes: Number.MAX_SAFE_INTEGER,
    };
    const slow: StripeFrontRule = {
      matches: () => {
        if (decided !== 'stripe_timeout') return false;
        this.record('stripe_timeout');
        return true;
      },
      delayMs: this.settings.stripeDelayMs,
    };
    const dropped: StripeFrontRule = {
      matches: () => {
        if (decided !== 'stripe_connection_dropped') return false;
        this.record('stripe_connection_dropped');
        return true;
      },
      beforeReply: async () => 'drop',
    };
    const killing: StripeFrontRule = {
      matches: () => decided === 'worker_killed_after_charge',
      // Stripe has charged (or declined) and saved its answer; the worker that asked never reads it.
      beforeReply: async () => {
        if (await this.stack.worker.kill()) {
          this.record('worker_killed_after_charge');
          this.log('fault: worker SIGKILLed after Stripe answered a charge');
        }
      },
    };
    const webhookFirst: StripeFrontRule = {
      matches: () => decided === 'webhook_before_charge_returns',
      beforeReply: (body, request) => this.webhookBeforeReply(body, request),
    };
    this.stack.chaosFront.rules.push(failing, slow, dropped, killing, webhookFirst);
  }

  /**
   * Holds the charge's answer until localstripe has sent payment_intent.succeeded (about a second
   * later), delivers that event to the API and waits for its answer: the webhook has been processed
   * before the worker learns that its charge succeeded.
   */
  private async webhookBeforeReply(body: string, _request: FrontRequest): Promise<void> {
    let intent: { id?: string; status?: string };
    try {
      intent = JSON.parse(body) as { id?: string; status?: string };
    } catch {
      return;
    }
    if (intent.status !== 'succeeded' || !intent.id) return;
    const event = await this.stack.relay.claim((e) => e.type === 'payment_intent.succeeded' && e.objectId === intent.id, 10_000);
    if (!event) return;
    const status = await this.stack.relay.deliverNow(event);
    if (status >= 200 && status < 300) this.record('webhook_before_charge_returns');
    // Not taken (a terminated connection under the API, say): Stripe would send it again.
    else this.stack.relay.enqueue(event);
  }

  // ---- webhooks: the relay between localstripe and the API --------------------------------------

  private installWebhookPolicy(): void {
    const rng = this.rng.fork('webhook-shape');
    this.stack.relay.policy = (): RelayPlan => {
      if (!this.enabled) return { kind: 'now' };
      const reorder = this.dice.webhook_reordered.roll();
      const duplicate = this.dice.webhook_duplicated.roll();
      const delay = this.dice.webhook_delayed.roll();
      if (reorder) return { kind: 'reorder' };
      if (duplicate) return { kind: 'duplicate', copies: rng.int(2, 3), spreadMs: rng.between(0, 4_000) };
      if (delay) return { kind: 'delay', ms: rng.between(1_000, 8_000) };
      return { kind: 'now' };
    };
    // The relay counts what it did; the dice learn it so minimums stop forcing.
    this.stack.relay.onFault = (kind) => this.record(kind);
  }

  // ---- the worker, killed at random moments -----------------------------------------------------

  private async killWorkerAtRandom(): Promise<void> {
    const rng = this.rng.fork('kill-moments');
    const dice = this.dice.worker_killed;
    // Not before there is work to interrupt: a tenth of the renewals issued.
    const threshold = Math.ceil(this.settings.renewals / 10);
    while (this.enabled && this.owner) {
      const { rows } = await this.owner.query<{ n: number }>('select count(*)::int as n from invoices').catch(() => ({ rows: [{ n: 0 }] }));
      if (rows[0].n >= threshold) break;
      await sleep(500);
    }
    while (this.enabled && dice.fired < dice.budget.max) {
      await this.stack.worker.whenReady().catch(() => undefined);
      const until = Date.now() + rng.between(...this.settings.killGapMs);
      while (this.enabled && Date.now() < until) await sleep(100);
      if (!this.enabled) return;
      if (await this.stack.worker.kill()) {
        this.record('worker_killed');
        this.log('fault: worker SIGKILLed');
      }
    }
  }

  // ---- Postgres: the app's connections terminated mid-transaction ------------------------------

  private async terminateBackends(): Promise<void> {
    const rng = this.rng.fork('terminate');
    while (this.enabled) {
      const until = Date.now() + rng.between(...this.settings.terminateGapMs);
      while (this.enabled && Date.now() < until) await sleep(100);
      if (!this.enabled || !this.owner) return;
      let done = false;
      // A busy backend is there only while a statement or a transaction runs: look a few times.
      for (let look = 0; look < 20 && !done && this.enabled; look++) {
        try {
          const { rows } = await this.owner.query<{ pid: number }>(
            `select pid from pg_stat_activity
              where usename = $1 and backend_type = 'client backend' and pid <> pg_backend_pid()
                and state in ('active', 'idle in transaction', 'idle in transaction (aborted)')`,
            [APP_LOGIN],
          );
          if (rows.length === 0) {
            await sleep(50);
            continue;
          }
          const { pid } = rng.pick(rows);
          const result = await this.owner.query<{ terminated: boolean }>('select pg_terminate_backend($1) as terminated', [pid]);
          if (result.rows[0]?.terminated) {
            this.record('postgres_backend_terminated');
            done = true;
          }
        } catch (error) {
          this.log(`fault: pg_terminate_backend failed: ${error instanceof Error ? error.message : String(error)}`);
          return;
        }
      }
      if (!done) this.terminateMisses += 1;
    }
  }
}
