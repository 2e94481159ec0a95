import express, { type Express } from 'express';
import helmet from 'helmet';
import { DEFAULT_RATE_LIMITS } from '../config/env';
import { BillingError } from '../domain/errors';
import { allow, authenticate, keyRing } from './auth';
import { forkEm } from '../db/orm';
import type { ApiDeps } from './deps';
import { errorHandler } from './errors';
import { idempotency } from './idempotency';
import { requestId } from './request-id';
import { requestLog } from './request-log';
import { ApiMetrics, metricsEndpoint } from './prometheus';
import { logger } from '../observability/logger';
import { accountingPeriodsRouter } from './routes/accounting-periods';
import { customersRouter } from './routes/customers';
import { portalSessionsRouter } from './routes/portal-sessions';
import { emailsRouter } from './routes/emails';
import { eventsRouter } from './routes/events';
import { invoiceAdjustmentsRouter } from './routes/invoice-adjustments';
import { invoiceCollectionRouter } from './routes/invoice-collection';
import { invoiceLifecycleRouter } from './routes/invoice-lifecycle';
import { invoicesRouter } from './routes/invoices';
import { invoicePdfRouter } from './routes/invoice-pdf';
import { journalEntriesRouter } from './routes/journal-entries';
import { ledgerRouter } from './routes/ledger';
import { ledgerReportsRouter } from './routes/ledger-reports';
import { reportsRouter } from './routes/reports';
import { plansRouter } from './routes/plans';
import { couponsRouter } from './routes/coupons';
import { taxRatesRouter } from './routes/tax-rates';
import { subscriptionChangesRouter } from './routes/subscription-changes';
import { planMigrationsRouter } from './routes/plan-migrations';
import { paymentMethodsRouter } from './routes/payment-methods';
import { stripeWebhooksRouter } from './routes/stripe-webhooks';
import { metricsRouter } from './routes/metrics';
import { openApiRouter } from './openapi/router';
import { refuseUnstorableText } from './storable-text';
import { subscriptionsRouter } from './routes/subscriptions';
import { inSequence, usageEventsHandler } from './routes/usage-events';
import { walletsRouter } from './routes/wallets';
import { webhookDeliveriesRouter, webhookEndpointsRouter } from './routes/webhook-endpoints';
import { addOnsRouter } from './routes/add-ons';
import { subscriptionAddOnsRouter } from './routes/subscription-add-ons';
import { UsageIngest, usagePool } from './usage-ingest';
import { auditTrail } from './audit-trail';
import { resourceReaders } from './audit-readers';
import { rateLimit } from './rate-limit';
import { apiKeysRouter } from './routes/api-keys';
import { auditEventsRouter } from './routes/audit-events';
import { consoleRouter } from '../web/console/router';
import { portalRouter } from '../web/portal/router';

export function createApp(deps: ApiDeps): Express {
  const keys = keyRing(deps.apiKeys, forkEm(deps.orm));
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(requestId);
  const metrics = new ApiMetrics(forkEm(deps.orm), deps.logger ?? logger);
  app.use(requestLog(deps.logger ?? logger, metrics));
  // The API answers JSON only: nothing in it may run, load or be framed. The console and the portal
  // are pages with their own policies (web/), so these headers are the API's alone.
  const apiHeaders = helmet({ contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } }, xFrameOptions: { action: 'deny' } });
  // The key first, from the headers alone: a request without a valid one (or over its key's rate)
  // is answered before a byte of its body is read, so only a known key can make the API parse 5 MB.
  const authenticated = authenticate(keys);
  const limited = rateLimit(deps.rateLimits ?? DEFAULT_RATE_LIMITS);
  const readJson = express.json({ limit: '5mb', strict: false });
  const writer = allow('admin', 'support');

  // Usage producers send more requests than every other route together: theirs is mounted first and
  // takes the same steps as any /v1 write below, in the same order, without the other routes' layers.
  // Usage producers retry by transaction_id, which dedupes forever; an Idempotency-Key adds nothing there.
  const ingest = new UsageIngest(forkEm(deps.orm), deps.usagePool ?? usagePool(deps.orm.config.get('clientUrl')!));
  app.post('/v1/usage_events', inSequence(apiHeaders, authenticated, limited, readJson, writer, usageEventsHandler(ingest, metrics)));

  app.use(['/health', '/metrics', '/v1', '/webhooks'], apiHeaders);

  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/metrics', metricsEndpoint(metrics, deps.metricsToken));
  app.use(openApiRouter());
  // The console and the portal are pages of this process; the console calls the API below over loopback.
  app.use('/console', consoleRouter(deps, keys));
  app.use('/portal', portalRouter(deps));

  // Stripe signs the raw body, so its webhook is mounted before any JSON parsing.
  app.use('/webhooks/stripe', stripeWebhooksRouter(deps));
  app.use('/v1', authenticated, limited, readJson);
  // Every key may read; writes are allowed per route.
  app.use('/v1', (req, _res, next) => (req.method === 'GET' ? next() : writer(req, _res, next)));
  app.use('/v1', refuseUnstorableText);
  app.use('/v1', idempotency(forkEm(deps.orm)));
  // After idempotency: a replayed answer is not a second change, and never reaches the audit trail.
  app.use('/v1', auditTrail(forkEm(deps.orm), resourceReaders(deps.temporal)));
  app.use('/v1/api_keys', apiKeysRouter(deps));
  app.use('/v1/audit_events', auditEventsRouter(deps));
  app.use('/v1/metrics', metricsRouter(deps));
  app.use('/v1/coupons', couponsRouter(deps));
  app.use('/v1/tax_rates', taxRatesRouter(deps));
  app.use('/v1/customers', paymentMethodsRouter(deps));
  app.use('/v1/customers', customersRouter(deps));
  app.use('/v1/customers', portalSessionsRouter(deps));
  app.use('/v1/plans', plansRouter(deps));
  app.use('/v1/plans', planMigrationsRouter(deps));
  app.use('/v1/subscriptions', subscriptionsRouter(deps));
  app.use('/v1/subscriptions', subscriptionChangesRouter(deps));
  app.use('/v1/subscriptions', subscriptionAddOnsRouter(deps));
  app.use('/v1/add_ons', addOnsRouter(deps));
  app.use('/v1/invoices', invoiceAdjustmentsRouter(deps));
  app.use('/v1/invoices', invoiceCollectionRouter(deps));
  app.use('/v1/invoices', invoiceLifecycleRouter(deps));
  app.use('/v1/invoices', invoicePdfRouter(deps));
  app.use('/v1/invoices', invoicesRouter(deps));
  app.use('/v1/ledger', ledgerRouter(deps));
  app.use('/v1/reports', ledgerReportsRouter(deps));
  app.use('/v1/reports', reportsRouter(deps));
  app.use('/v1/accounting_periods', accountingPeriodsRouter(deps));
  app.use('/v1/journal_entries', journalEntriesRouter(deps));
  app.use('/v1/emails', emailsRouter(deps));
  app.use('/v1/events', eventsRouter(deps));
  app.use('/v1/wallets', walletsRouter(deps));
  app.use('/v1/webhook_endpoints', webhookEndpointsRouter(deps));
  app.use('/v1/webhook_deliveries', webhookDeliveriesRouter(deps));
  app.use((req, _res) => {
    throw new BillingError('not_found_error', 'route_missing', `Unrecognized request URL (${req.method}: ${req.path})`);
  });
  app.use(errorHandler);
  return app;
}
