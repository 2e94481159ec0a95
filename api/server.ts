import { Client, Connection } from '@temporalio/client';
import { ConfigError, loadConfig } from '../config/env';
import { openOrm } from '../db/orm';
import { roleWarning } from '../db/roles';
import { StripeGateway, stripeClient } from '../payments/stripe-gateway';
import { configureProcessLogger, lifecycleLogger, logger } from '../observability/logger';
import { createApp } from './app';
import { usagePool } from './usage-ingest';

/**
 * The API process: Express on PORT, Postgres through MikroORM, Temporal through its client, and
 * Stripe when STRIPE_SECRET_KEY is set. Everything is built from config/env.ts, as the worker is.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env, { database: true, apiKeys: true });
  const log = configureProcessLogger('api', config.logLevel);
  const orm = await openOrm(config.databaseUrl);
  const roleProblem = await roleWarning(config.databaseUrl);
  if (roleProblem) log.warn(roleProblem);
  const connection = await Connection.connect({ address: config.temporalAddress });
  const temporal = new Client({ connection, namespace: config.temporalNamespace });
  const pool = usagePool(config.databaseUrl);
  const stripe = config.stripe && { gateway: new StripeGateway(stripeClient(config.stripe)), webhookSecret: config.stripe.webhookSecret };
  const app = createApp({
    orm,
    temporal,
    taskQueue: config.taskQueue,
    apiKeys: config.apiKeys,
    usagePool: pool,
    stripe,
    publicUrl: config.publicUrl,
    temporalUi: config.temporalUiUrl ? { url: config.temporalUiUrl, namespace: config.temporalNamespace } : null,
    seller: config.seller,
    portalPlanCodes: config.portalPlanCodes,
    stripeJs: stripe && config.stripePublishableKey ? { url: config.stripeJsUrl, publishableKey: config.stripePublishableKey } : null,
    logger: log,
    metricsToken: config.metricsToken,
    rateLimits: config.rateLimits,
  });
  const server = app.listen(config.port, () => {
    // "api: listening" is what npm start and the benchmarks wait for (scripts/stack.ts API_READY).
    lifecycleLogger(log).info({ port: config.port, metrics: `http://localhost:${config.port}/metrics` }, `api: listening on http://localhost:${config.port}`);
    if (!stripe) log.info('STRIPE_SECRET_KEY is not set; cards cannot be attached and invoices are paid by recording payments');
    else if (!stripe.webhookSecret) log.info('STRIPE_WEBHOOK_SECRET is not set; POST /webhooks/stripe takes no events');
  });
  // Ctrl-C in a terminal reaches this process twice (SIGINT from the terminal, SIGTERM from npm
  // start stopping its children); the second signal must not close the pools again.
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.closeIdleConnections();
    server.close(() => {
      void Promise.all([connection.close(), orm.close(), pool.end()]).then(
        () => process.exit(0),
        (error: unknown) => {
          log.error({ err: error }, 'error while closing connections');
          process.exit(1);
        },
      );
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: unknown) => {
  // A refused configuration is a list for a person to read, before any logger is configured.
  if (error instanceof ConfigError) console.error(`api failed to start: ${error.message}`);
  else logger.fatal({ err: error }, 'api failed to start');
  process.exit(1);
});
