import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../config/env';
import { openOrm } from '../db/orm';
import { provisioningFromEnv } from '../activities/collection';
import { smtpTransportFromEnv } from '../mail/smtp';
import { StripeGateway, stripeClient, stripeSettingsFromEnv } from '../payments/stripe-gateway';
import { createBillingWorker } from './billing-worker';

/** The worker process: runs subscription workflows and their activities until SIGINT or SIGTERM. */
async function main(): Promise<void> {
  const config = loadConfig();
  const orm = await openOrm(config.databaseUrl);
  const connection = await NativeConnection.connect({ address: config.temporalAddress });
  try {
    const stripe = stripeSettingsFromEnv();
    const worker = await createBillingWorker({
      connection,
      namespace: config.temporalNamespace,
      taskQueue: config.taskQueue,
      orm,
      stripe: stripe ? new StripeGateway(stripeClient(stripe)) : null,
      mail: smtpTransportFromEnv(process.env),
      provisioning: provisioningFromEnv(),
    });
    if (!stripe) console.log('worker: STRIPE_SECRET_KEY is not set; invoices wait for manual payment');
    console.log(`worker: polling task queue "${config.taskQueue}" on ${config.temporalAddress}`);
    await worker.run();
  } finally {
    await connection.close();
    await orm.close();
  }
}

main().catch((error: unknown) => {
  console.error('worker failed:', error);
  process.exit(1);
});
