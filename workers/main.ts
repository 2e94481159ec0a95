import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { ConfigError, loadConfig, type Config } from '../config/env';
import { openOrm } from '../db/orm';
import { roleWarning } from '../db/roles';
import { smtpTransport } from '../mail/smtp';
import { configureProcessLogger, lifecycleLogger, logger, type Logger } from '../observability/logger';
import { coreLogFilter, PinoTemporalLogger } from '../observability/temporal-logger';
import { StripeGateway, stripeClient } from '../payments/stripe-gateway';
import { syncPreconfiguredEndpoint } from '../db/webhook-store';
import { createUsagePartitions } from '../db/usage-partitions';
import { createBillingWorker } from './billing-worker';
import { EventRelay } from './event-relay';
import { DAILY_SCHEDULES, ensureDailySchedule } from './daily-schedules';

/**
 * The Temporal Runtime, once per process and before any connection: its log lines (the SDK's, and
 * workflows' and activities' own, each with workflowId and runId) go out as this process's JSON
 * lines, and its metrics (task latencies, pollers, failures) are served for Prometheus at
 * WORKER_METRICS_ADDRESS.
 */
function installRuntime(config: Config, log: Logger): void {
  try {
    installRuntimeWith(config, log);
  } catch (error) {
    // Typically a second worker on the same host: the port is taken.
    if (config.workerMetricsAddress) throw new Error(`WORKER_METRICS_ADDRESS ${config.workerMetricsAddress}: ${error instanceof Error ? error.message : String(error)}; give another host:port, or "off"`);
    throw error;
  }
}

function installRuntimeWith(config: Config, log: Logger): void {
  Runtime.install({
    logger: new PinoTemporalLogger(log),
    telemetryOptions: {
      logging: { filter: coreLogFilter(config.logLevel), forward: {} },
      ...(config.workerMetricsAddress
        ? // Prometheus's conventions: durations in seconds, the unit in the name, counters ending in _total.
          { metrics: { prometheus: { bindAddress: config.workerMetricsAddress, useSecondsForDurations: true, unitSuffix: true, countersTotalSuffix: true } } }
        : {}),
    },
  });
}

/**
 * The worker process: runs subscription and collection workflows and their activities until SIGINT
 * or SIGTERM. Its dependencies are built from config/env.ts, as the API's are.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const log = configureProcessLogger('worker', config.logLevel);
  installRuntime(config, log);
  const orm = await openOrm(config.databaseUrl);
  const roleProblem = await roleWarning(config.databaseUrl);
  if (roleProblem) log.warn(roleProblem);
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  try {
    const worker = await createBillingWorker({
      connection,
      namespace: config.temporalNamespace,
      taskQueue: config.taskQueue,
      orm,
      stripe: config.stripe ? new StripeGateway(stripeClient(config.stripe)) : null,
      mail: smtpTransport(config.smtp),
      customerPaymentUrl: config.customerPaymentUrl,
      publicUrl: config.publicUrl,
      revenueRecognitionMethod: config.revenueRecognitionMethod,
      tuning: config.workerTuning,
    });
    const scheduling = await Connection.connect({ address: config.temporalAddress });
    try {
      const client = new Client({ connection: scheduling, namespace: config.temporalNamespace });
      for (const daily of DAILY_SCHEDULES) {
        const schedule = await ensureDailySchedule(client, config.taskQueue, daily);
        const at = `${String(daily.hour).padStart(2, '0')}:${String(daily.minute).padStart(2, '0')}`;
        log.info({ schedule, scheduleId: daily.scheduleId }, `${daily.describe} schedule ${schedule} (daily at ${at} UTC)`);
      }
      log.info({ method: config.revenueRecognitionMethod }, `revenue recognition method ${config.revenueRecognitionMethod}`);
    } finally {
      await scheduling.close();
    }
    // At start too: a database migrated long ago, or a worker down for months, has its months before ingestion needs them.
    const createdPartitions = await createUsagePartitions(orm.em.fork());
    if (createdPartitions.length > 0) log.info({ partitions: createdPartitions }, `usage partitions created: ${createdPartitions.join(', ')}`);
    // PROVISIONING_WEBHOOK_URL is an endpoint like any other, kept in step with the setting at each start.
    const provisioning = await syncPreconfiguredEndpoint(orm.em.fork(), config.provisioning);
    if (provisioning) log.info({ endpointId: provisioning.id }, `PROVISIONING_WEBHOOK_URL is webhook endpoint ${provisioning.id} (subscription.suspended, subscription.resumed)`);
    if (!config.stripe) log.info('STRIPE_SECRET_KEY is not set; invoices wait for manual payment');
    if (!config.smtp) log.info('SMTP_URL is not set; e-mails are kept in the outbox (GET /v1/emails)');
    const relayConnection = await Connection.connect({ address: config.temporalAddress });
    const relay = await EventRelay.start({
      orm,
      temporal: new Client({ connection: relayConnection, namespace: config.temporalNamespace }),
      taskQueue: config.taskQueue,
      onError: (error) => log.error({ err: error }, 'event relay: a pass failed; the next notification or poll tries again'),
    });
    // "worker: polling task queue" is what npm start waits for (scripts/stack.ts WORKER_READY).
    lifecycleLogger(log).info(
      { taskQueue: config.taskQueue, temporalAddress: config.temporalAddress, metrics: config.workerMetricsAddress ? `http://${config.workerMetricsAddress}/metrics` : null },
      `worker: polling task queue "${config.taskQueue}" on ${config.temporalAddress}`,
    );
    try {
      await worker.run();
    } finally {
      await relay.stop();
      await relayConnection.close();
    }
  } finally {
    await connection.close();
    await orm.close();
  }
}

main().catch((error: unknown) => {
  // A refused configuration is a list for a person to read, before any logger is configured.
  if (error instanceof ConfigError) console.error(`worker failed: ${error.message}`);
  else logger.fatal({ err: error }, 'worker failed');
  process.exit(1);
});
