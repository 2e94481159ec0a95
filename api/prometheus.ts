import { timingSafeEqual } from 'node:crypto';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Request, Response } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import { operationalCounts, type OperationalCounts } from '../db/operational-counts';
import { BillingError } from '../domain/errors';
import type { Logger } from '../observability/logger';

/** Outcomes and statuses the schema allows: each is exported, at zero until it happens, so an alert on it has a series to read. */
const CHARGE_OUTCOMES = ['succeeded', 'failed', 'canceled'];
const CHARGE_IN_FLIGHT = ['pending', 'processing', 'requires_action'];
const WEBHOOK_OUTCOMES = ['succeeded', 'failed'];
const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'];
const SUBSCRIPTION_STATUSES = ['scheduled', 'trialing', 'active', 'past_due', 'suspended', 'paused', 'canceled', 'billing_error'];
export const USAGE_OUTCOMES = ['accepted', 'duplicate', 'rejected'] as const;

/** The process's own metrics (CPU, memory, event loop, GC), collected once per process however many apps it builds. */
let processRegistry: Registry | null = null;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/** A counter whose total lives in Postgres: set to the count read at this scrape. */
function setTotal(counter: Counter<'outcome'>, known: string[], counts: Record<string, number>): void {
  counter.reset();
  for (const outcome of new Set([...known, ...Object.keys(counts)])) counter.inc({ outcome }, counts[outcome] ?? 0);
}

function setGauge(gauge: Gauge<'status'>, known: string[], counts: Record<string, number>): void {
  gauge.reset();
  for (const status of new Set([...known, ...Object.keys(counts)])) gauge.set({ status }, counts[status] ?? 0);
}

/**
 * What GET /metrics reports for one API instance. Request latency and usage outcomes are this
 * process's own (Prometheus sums replicas); the business counts are read from Postgres at each
 * scrape, so every replica reports the same cluster-wide truth and a restart resets nothing.
 */
export class ApiMetrics {
  private readonly registry = new Registry();
  /** Read from Postgres: left out of a scrape that could not read them, rather than shown as zeros (a counter at zero reads as a reset). */
  private readonly business = new Registry();
  readonly requestDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'API requests by method, route pattern and status, and how long each took to answer',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly usageEvents = new Counter({
    name: 'perennial_usage_events_total',
    help: 'Usage events received by this process, by outcome: accepted (stored), duplicate (a transaction_id already stored), rejected',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  private readonly invoicesIssued = new Counter({
    name: 'perennial_invoices_issued_total',
    help: 'Invoices finalised (numbered) since the database was created',
    registers: [this.business],
  });
  private readonly charges = new Counter({
    name: 'perennial_charges_total',
    help: 'Card charge attempts that ended, by outcome (succeeded, failed, canceled)',
    labelNames: ['outcome'] as const,
    registers: [this.business],
  });
  private readonly chargesInFlight = new Gauge({
    name: 'perennial_charges_in_flight',
    help: 'Card charge attempts not yet ended, by status (pending, processing, requires_action: waiting for the customer)',
    labelNames: ['status'] as const,
    registers: [this.business],
  });
  private readonly webhookAttempts = new Counter({
    name: 'perennial_webhook_delivery_attempts_total',
    help: 'Webhook delivery attempts, by outcome (succeeded: a 2xx answer; failed: anything else)',
    labelNames: ['outcome'] as const,
    registers: [this.business],
  });
  private readonly webhookDeliveries = new Gauge({
    name: 'perennial_webhook_deliveries',
    help: 'Webhook deliveries (an event to an endpoint), by status: pending (being retried), succeeded, failed (the schedule ran out, or the endpoint answered 410)',
    labelNames: ['status'] as const,
    registers: [this.business],
  });
  private readonly subscriptions = new Gauge({
    name: 'perennial_subscriptions',
    help: 'Subscriptions by status; billing_error means billing stopped on an error that retrying cannot fix',
    labelNames: ['status'] as const,
    registers: [this.business],
  });
  private readonly eventsUndispatched = new Gauge({
    name: 'perennial_events_undispatched',
    help: 'Outbox events not yet turned into webhook deliveries',
    registers: [this.business],
  });
  private readonly oldestUndispatched = new Gauge({
    name: 'perennial_events_oldest_undispatched_age_seconds',
    help: 'How long the oldest outbox event not yet turned into webhook deliveries has waited (0: none waiting)',
    registers: [this.business],
  });
  private readonly databaseUp = new Gauge({
    name: 'perennial_database_up',
    help: '1 when this scrape read the business counts from Postgres, 0 when it could not (they are then left out)',
    registers: [this.registry],
  });

  constructor(
    private readonly em: () => EntityManager,
    private readonly log: Logger,
  ) {
    for (const outcome of USAGE_OUTCOMES) this.usageEvents.inc({ outcome }, 0);
  }

  countUsage(counts: Record<(typeof USAGE_OUTCOMES)[number], number>): void {
    for (const outcome of USAGE_OUTCOMES) if (counts[outcome] > 0) this.usageEvents.inc({ outcome }, counts[outcome]);
  }

  private async readCounts(): Promise<OperationalCounts | null> {
    try {
      return await operationalCounts(this.em());
    } catch (error) {
      this.log.error({ err: error }, 'metrics: reading the business counts from Postgres failed');
      return null;
    }
  }

  private show(counts: OperationalCounts): void {
    this.invoicesIssued.reset();
    this.invoicesIssued.inc(counts.invoicesIssued);
    setTotal(this.charges, CHARGE_OUTCOMES, Object.fromEntries(Object.entries(counts.charges).filter(([status]) => !CHARGE_IN_FLIGHT.includes(status))));
    setGauge(this.chargesInFlight, CHARGE_IN_FLIGHT, Object.fromEntries(Object.entries(counts.charges).filter(([status]) => CHARGE_IN_FLIGHT.includes(status))));
    setTotal(this.webhookAttempts, WEBHOOK_OUTCOMES, counts.webhookAttempts);
    setGauge(this.webhookDeliveries, DELIVERY_STATUSES, counts.webhookDeliveries);
    setGauge(this.subscriptions, SUBSCRIPTION_STATUSES, counts.subscriptions);
    this.eventsUndispatched.set(counts.eventsUndispatched);
    this.oldestUndispatched.set(counts.oldestUndispatchedSeconds);
  }

  /** The Prometheus text of this scrape: this instance's metrics, the business counts, the process's. */
  async render(): Promise<{ contentType: string; text: string }> {
    const counts = await this.readCounts();
    this.databaseUp.set(counts ? 1 : 0);
    if (counts) this.show(counts);
    const registries = [this.registry, ...(counts ? [this.business] : []), processMetrics()];
    const texts = await Promise.all(registries.map((r) => r.metrics()));
    return { contentType: this.registry.contentType, text: texts.join('\n') };
  }
}

/**
 * GET /metrics: open like /health unless METRICS_TOKEN is set, when the scraper sends it as a bearer
 * token (Prometheus: `authorization: { credentials: ... }`). Not an API key: a scraper needs no role.
 */
export function metricsEndpoint(metrics: ApiMetrics, token: string | null | undefined) {
  const expected = token ? Buffer.from(token) : null;
  return async (req: Request, res: Response): Promise<void> => {
    if (expected) {
      const match = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
      if (!match) throw new BillingError('authentication_error', 'metrics_token_missing', 'This API serves metrics to a scraper presenting METRICS_TOKEN: send "Authorization: Bearer <token>"');
      const presented = Buffer.from(match[1]);
      if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
        throw new BillingError('authentication_error', 'metrics_token_invalid', 'Invalid metrics token provided');
      }
    }
    const { contentType, text } = await metrics.render();
    res.type(contentType).send(text);
  };
}
