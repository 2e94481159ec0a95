import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Sits between localstripe and the API's POST /webhooks/stripe: localstripe's endpoint is this relay,
 * which answers it at once and delivers each event to the API byte for byte with its original
 * Stripe-Signature, the way Stripe would, but with the faults Stripe's delivery really has: the same
 * event more than once, late, out of order. Like Stripe (and unlike localstripe, which never retries)
 * it retries a delivery the API did not acknowledge with a 2xx, until the signature would be too old
 * for the API's 5-minute tolerance.
 */

export interface RelayedEvent {
  id: string;
  type: string;
  /** data.object.id: the PaymentIntent, for payment_intent.* events. */
  objectId: string | null;
  body: Buffer;
  signature: string;
  /** The event's own `created` (seconds), which its signature's timestamp is. */
  created: number;
}

/** What to do with an event: deliver it now, several times, later, or held back and sent after later ones. */
export type RelayPlan = { kind: 'now' } | { kind: 'duplicate'; copies: number; spreadMs: number } | { kind: 'delay'; ms: number } | { kind: 'reorder' };

export interface RelayStats {
  received: number;
  deliveries: number;
  /** Deliveries the API did not acknowledge (a 5xx, a connection refused while it restarted), retried. */
  unacknowledged: number;
  /** Events given up on: the API never acknowledged them within the signature's tolerance. */
  gaveUp: number;
  duplicated: number;
  delayed: number;
  /** Events held back and delivered after events that reached the relay later than they did. */
  reordered: number;
  /** Events handed to a waiter (delivered ahead of the charge call's answer) instead of the plan. */
  claimed: number;
}

export interface WebhookRelay {
  url: string;
  /** Decides each event's delivery; the fault injector sets it. */
  policy: (event: RelayedEvent) => RelayPlan;
  stats: RelayStats;
  /**
   * The next event matching `predicate`, received within `timeoutMs`, taken out of the normal
   * delivery: the caller delivers it (deliverNow). Null if none came.
   */
  claim(predicate: (event: RelayedEvent) => boolean, timeoutMs: number): Promise<RelayedEvent | null>;
  /** Delivers once, now, and returns the API's status (0: no answer). */
  deliverNow(event: RelayedEvent): Promise<number>;
  /** Delivers until acknowledged, in the background (a claimed event the API did not take). */
  enqueue(event: RelayedEvent): void;
  /** Told each time a fault really happened (a reorder needs a later event to overtake the held one). */
  onFault: (kind: 'webhook_duplicated' | 'webhook_delayed' | 'webhook_reordered') => void;
  /** Events received and not yet acknowledged by the API (queued, held, being retried). */
  pending(): number;
  /** The statuses the API answered, by event id, last delivery first. */
  answers: Map<string, number[]>;
  close(): Promise<void>;
}

/** How long the API's signature check accepts an event after its timestamp, less a margin. */
const RETRY_WINDOW_MS = 4 * 60_000;
const REORDER_BATCH = 3;
const REORDER_HOLD_MS = 3_000;

export async function startWebhookRelay(options: { target: string; log: (line: string) => void }): Promise<WebhookRelay> {
  const stats: RelayStats = { received: 0, deliveries: 0, unacknowledged: 0, gaveUp: 0, duplicated: 0, delayed: 0, reordered: 0, claimed: 0 };
  const answers = new Map<string, number[]>();
  const waiters: Array<{ predicate: (event: RelayedEvent) => boolean; resolve: (event: RelayedEvent | null) => void }> = [];
  const timers = new Set<NodeJS.Timeout>();
  let inFlight = 0;
  let held: RelayedEvent[] = [];
  let holdTimer: NodeJS.Timeout | null = null;
  let closed = false;

  const later = (ms: number, work: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      work();
    }, ms);
    timers.add(timer);
  };

  async function post(event: RelayedEvent): Promise<number> {
    stats.deliveries += 1;
    try {
      const response = await fetch(options.target, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': event.signature },
        body: event.body,
        signal: AbortSignal.timeout(60_000),
      });
      await response.arrayBuffer();
      answers.set(event.id, [response.status, ...(answers.get(event.id) ?? [])]);
      return response.status;
    } catch {
      answers.set(event.id, [0, ...(answers.get(event.id) ?? [])]);
      return 0;
    }
  }

  /** Delivers until acknowledged, as Stripe retries, within the signature's tolerance. */
  async function deliver(event: RelayedEvent): Promise<void> {
    inFlight += 1;
    try {
      for (let attempt = 0; !closed; attempt++) {
        const status = await post(event);
        if (status >= 200 && status < 300) return;
        stats.unacknowledged += 1;
        if (Date.now() - event.created * 1000 > RETRY_WINDOW_MS) {
          stats.gaveUp += 1;
          options.log(`webhook relay: gave up on ${event.type} ${event.id} after ${attempt + 1} deliveries (last status ${status})`);
          return;
        }
        await new Promise((resolve) => later(Math.min(8_000, 500 * 2 ** attempt), () => resolve(undefined)));
      }
    } finally {
      inFlight -= 1;
    }
  }

  const schedule = (ms: number, event: RelayedEvent): void => {
    inFlight += 1;
    later(ms, () => {
      inFlight -= 1;
      void deliver(event);
    });
  };

  async function releaseHeld(): Promise<void> {
    if (holdTimer) clearTimeout(holdTimer);
    holdTimer = null;
    const batch = held.reverse();
    held = [];
    if (batch.length > 1) {
      // The first event held is delivered after the ones that came later.
      stats.reordered += 1;
      relay.onFault('webhook_reordered');
    }
    inFlight += batch.length;
    try {
      // One after the other, newest first: the API sees them in the reverse of the order they happened.
      for (const event of batch) {
        inFlight -= 1;
        await deliver(event);
      }
    } catch {
      // deliver does not throw
    }
  }

  const relay: WebhookRelay = {
    url: '',
    policy: () => ({ kind: 'now' }),
    stats,
    answers,
    claim(predicate, timeoutMs) {
      return new Promise((resolve) => {
        const waiter = { predicate, resolve };
        waiters.push(waiter);
        later(timeoutMs, () => {
          const index = waiters.indexOf(waiter);
          if (index >= 0) {
            waiters.splice(index, 1);
            resolve(null);
          }
        });
      });
    },
    deliverNow: post,
    enqueue: (event) => void deliver(event),
    onFault: () => undefined,
    pending: () => inFlight + held.length,
    close: async () => {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      if (holdTimer) clearTimeout(holdTimer);
      for (const waiter of waiters.splice(0)) waiter.resolve(null);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  function received(event: RelayedEvent): void {
    stats.received += 1;
    const waiter = waiters.find((w) => w.predicate(event));
    if (waiter) {
      waiters.splice(waiters.indexOf(waiter), 1);
      stats.claimed += 1;
      waiter.resolve(event);
      return;
    }
    // While an event is held back, the next ones join it and overtake it.
    if (held.length > 0) {
      held.push(event);
      if (held.length >= REORDER_BATCH) void releaseHeld();
      return;
    }
    const plan = relay.policy(event);
    switch (plan.kind) {
      case 'now':
        void deliver(event);
        return;
      case 'duplicate':
        stats.duplicated += 1;
        relay.onFault('webhook_duplicated');
        void deliver(event);
        for (let copy = 1; copy < plan.copies; copy++) schedule(Math.round((plan.spreadMs * copy) / plan.copies), event);
        return;
      case 'delay':
        stats.delayed += 1;
        relay.onFault('webhook_delayed');
        schedule(plan.ms, event);
        return;
      case 'reorder':
        held.push(event);
        holdTimer = setTimeout(() => void releaseHeld(), REORDER_HOLD_MS);
        return;
    }
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
      try {
        const parsed = JSON.parse(body.toString('utf8')) as { id: string; type: string; created: number; data?: { object?: { id?: string } } };
        received({ id: parsed.id, type: parsed.type, objectId: parsed.data?.object?.id ?? null, body, signature: String(req.headers['stripe-signature'] ?? ''), created: parsed.created });
      } catch (error) {
        options.log(`webhook relay: could not read an event from localstripe: ${error instanceof Error ? error.message : String(error)}`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/stripe-events`;
  return relay;
}
