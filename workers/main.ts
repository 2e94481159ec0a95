import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, loadConfig } from '../config/env';
import { openOrm } from '../db/orm';
import { roleWarning } from '../db/roles';
import { smtpTransport } from '../mail/smtp';
import { StripeGateway, stripeClient } from '../payments/stripe-gateway';
import { createBillingWorker } from './billing-worker';
import { ensureRevenueRecognitionSchedule } from './revenue-recognition-schedule';
import { ensureWalletSchedule } from './wallet-schedule';

/**
 * The worker process: runs subscription and collection workflows and their activities until SIGINT
 * or SIGTERM. Its dependencies are built from config/env.ts, as the API's are.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const orm = await openOrm(config.databaseUrl);
  const roleProblem = await roleWarning(config.databaseUrl);
  if (roleProblem) console.warn(`worker: ${roleProblem}`);
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  try {
    const worker = await createBillingWorker({
      connection,
      namespace: config.temporalNamespace,
      taskQueue: config.taskQueue,
      orm,
      stripe: config.stripe ? new StripeGateway(stripeClient(config.stripe)) : null,
      mail: smtpTransport(config.smtp),
      provisioning: config.provisioning,
      customerPaymentUrl: config.customerPaymentUrl,
      publicUrl: config.publicUrl,
      revenueRecognitionMethod: config.revenueRecognitionMethod,
    });
    const scheduling = await Connection.connect({ address: config.temporalAddress });
    try {
      const schedule = await ensureRevenueRecognitionSchedule(new Client({ connection: scheduling, namespace: config.temporalNamespace }), config.taskQueue);
      console.log(`worker: revenue recognition schedule ${schedule} (daily at 00:10 UTC, method ${config.revenueRecognitionMethod})`);
      const wallets = await ensureWalletSchedule(new Client({ connection: scheduling, namespace: config.temporalNamespace }), config.taskQueue);
      console.log(`worker: wallet schedule ${wallets} (daily at 00:20 UTC: expiry, purchase invoices)`);
    } finally {
      await scheduling.close();
    }
    if (!config.stripe) console.log('worker: STRIPE_SECRET_KEY is not set; invoices wait for manual payment');
    if (!config.smtp) console.log('worker: SMTP_URL is not set; e-mails are kept in the outbox (GET /v1/emails)');
    console.log(`worker: polling task queue "${config.taskQueue}" on ${config.temporalAddress}`);
    await worker.run();
  } finally {
    await connection.close();
    await orm.close();
  }
}

main().catch((error: unknown) => {
  console.error('worker failed:', error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
