import { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import type { createActivities } from '../../activities';
import { parseApiKeySpec, type ProvisioningSettings } from '../../config/env';
import type { EmailTransport } from '../../mail/smtp';
import type { StripeGateway } from '../../payments/stripe-gateway';
import { createApp } from '../../api/app';
import { syncPreconfiguredEndpoint } from '../../db/webhook-store';
import { EventRelay } from '../../workers/event-relay';
import { usagePool } from '../../api/usage-ingest';
import { createTestDatabase, type TestDatabase } from './database';
import { apiClient, listen, type ApiClient } from './http';
import { billingWorker, terminateWhenIdle, timeSkippingEnvironment, uniqueTaskQueue } from './temporal';
import { REVENUE_RECOGNITION_WORKFLOW, revenueRecognitionWorkflowId, type RevenueRecognitionProgress, type RevenueRecognitionWorkflow } from '../../workflows/messages';

/**
 * A scenario's world on the time-skipping server: its own server and clock, a fresh database, an
 * in-process worker, and the API as an admin calls it. `skipTo` moves the clock to an instant.
 */
export interface TimeSkippingStack {
  env: TestWorkflowEnvironment;
  db: TestDatabase;
  api: ApiClient;
  baseUrl: string;
  /** The worker's task queue, for workflows a scenario starts itself. */
  taskQueue: string;
  skipTo(instant: string): Promise<void>;
  /**
   * Runs the revenue recognition workflow to its end, as the daily Schedule would (the time-skipping
   * server has no schedules): every day ended by `through` (default: the server's now) is recognised.
   * The clock stays where it is meanwhile (the environment's own client would let it skip ahead).
   */
  recogniseRevenue(through?: string): Promise<RevenueRecognitionProgress>;
  /**
   * Ends the workflows a scenario leaves running, each once nothing of it is in flight: terminating
   * one mid-task would leave this server's clock locked for the rest of the suite (see
   * terminateWhenIdle).
   */
  terminateWhenIdle(workflowIds: string[], reason: string): Promise<void>;
  stop(): Promise<void>;
}

const ADMIN_KEY = 'sk_test_time_skipping_admin';

export interface TimeSkippingOptions {
  wrapActivities?: (activities: ReturnType<typeof createActivities>) => object;
  /** Card collection, e-mail and provisioning for the worker; the API gets the same Stripe gateway. */
  stripe?: { gateway: StripeGateway; webhookSecret: string | null } | null;
  mail?: EmailTransport | null;
  provisioning?: ProvisioningSettings | null;
  customerPaymentUrl?: string | null;
}

/**
 * When the server's sleep returns, the timers due by then have fired, but the worker runs the steps
 * they start (a renewal's invoice, its charge) a moment later; a scenario reading the invoices at once
 * could miss them. This waits until the worker has nothing in flight and both its pollers wait on the
 * server, on a few consecutive looks (a step's next task reaches it over loopback in between), and
 * gives up waiting after 10 s rather than hang a scenario whose worker never goes quiet.
 */
async function settled(worker: Worker): Promise<void> {
  let quiet = 0;
  for (let look = 0; quiet < 4 && look < 400; look++) {
    const status = worker.getStatus();
    const idle = status.numInFlightWorkflowActivations === 0 && status.numInFlightActivities === 0 && status.hasOutstandingWorkflowPoll && status.hasOutstandingActivityPoll;
    quiet = idle ? quiet + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export async function timeSkippingStack(label: string, options: TimeSkippingOptions = {}): Promise<TimeSkippingStack> {
  const env = await timeSkippingEnvironment();
  const db = await createTestDatabase();
  const taskQueue = uniqueTaskQueue(label);
  const worker = await billingWorker({
    connection: env.nativeConnection,
    taskQueue,
    orm: db.orm,
    wrapActivities: options.wrapActivities,
    stripe: options.stripe?.gateway ?? null,
    mail: options.mail ?? null,
    customerPaymentUrl: options.customerPaymentUrl ?? null,
  });
  const running = worker.run();
  // As the worker process does: the preconfigured endpoint in step with the settings, and the relay beside the worker.
  await syncPreconfiguredEndpoint(db.orm.em.fork(), options.provisioning ?? null);
  const relay = await EventRelay.start({ orm: db.orm, temporal: env.client, taskQueue });
  const pool = usagePool(db.url);
  const server = await listen(createApp({ orm: db.orm, temporal: env.client, taskQueue, apiKeys: parseApiKeySpec(`admin:${ADMIN_KEY}`), usagePool: pool, stripe: options.stripe ?? null }));
  return {
    env,
    db,
    api: apiClient(server.baseUrl, ADMIN_KEY),
    baseUrl: server.baseUrl,
    taskQueue,
    async skipTo(instant: string) {
      const ms = Date.parse(instant) - (await env.currentTimeMs());
      if (ms > 0) await env.sleep(ms);
      await settled(worker);
    },
    recogniseRevenue(through?: string) {
      return new Client({ connection: env.connection, namespace: env.namespace }).workflow.execute<RevenueRecognitionWorkflow>(REVENUE_RECOGNITION_WORKFLOW, {
        taskQueue,
        workflowId: revenueRecognitionWorkflowId(`${Date.now()}-${Math.random().toString(36).slice(2, 8)}`),
        args: [through ? { through } : {}],
      });
    },
    terminateWhenIdle: (workflowIds, reason) => terminateWhenIdle(env.client, workflowIds, reason),
    async stop() {
      await server.close();
      await relay.stop();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      // A worker past its shutdown force time rejects; everything else is still stopped first.
      const failure = await running.then(
        () => null,
        (error: unknown) => error,
      );
      await pool.end();
      await db.drop();
      await env.teardown();
      if (failure) throw failure;
    },
  };
}
