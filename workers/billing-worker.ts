import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { WORKER_TUNING_DEFAULTS, type WorkerTuning } from '../config/env';
import type { RecognitionMethod } from '../domain/revenue-recognition';
import type { Orm } from '../db/orm';
import type { EmailTransport } from '../mail/smtp';
import type { StripeGateway } from '../payments/stripe-gateway';

export interface BillingWorkerDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  orm: Orm;
  stripe?: StripeGateway | null;
  mail?: EmailTransport | null;
  /** CUSTOMER_PAYMENT_URL: the link in e-mails that ask a customer to complete a payment. */
  customerPaymentUrl?: string | null;
  /** PUBLIC_URL: collection e-mails carry portal links starting with it; none when absent. */
  publicUrl?: string | null;
  /** REVENUE_RECOGNITION_METHOD; by day when not given. */
  revenueRecognitionMethod?: RecognitionMethod;
  /** Cache size and concurrency (WORKER_* settings); WORKER_TUNING_DEFAULTS when not given. */
  tuning?: WorkerTuning;
  /** Tests pass a prebuilt bundle so each suite does not bundle the workflows again. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Tests wrap activities to inject faults (a crash after commit); production never sets this. */
  wrapActivities?: (activities: ReturnType<typeof createActivities>) => object;
  /**
   * How long a shutdown waits for running activities before cancelling them, and how long in all
   * before it gives up (the worker's run() then rejects). Tests bound their teardown with these so
   * that an activity stuck on a service being stopped cannot hold the suite forever.
   */
  shutdownGraceTime?: WorkerOptions['shutdownGraceTime'];
  shutdownForceTime?: WorkerOptions['shutdownForceTime'];
}

export async function createBillingWorker(deps: BillingWorkerDeps): Promise<Worker> {
  const tuning = deps.tuning ?? WORKER_TUNING_DEFAULTS;
  const activities = createActivities({ orm: deps.orm, stripe: deps.stripe, mail: deps.mail, customerPaymentUrl: deps.customerPaymentUrl, publicUrl: deps.publicUrl, revenueRecognitionMethod: deps.revenueRecognitionMethod });
  return Worker.create({
    connection: deps.connection,
    namespace: deps.namespace,
    taskQueue: deps.taskQueue,
    ...(deps.workflowBundle ? { workflowBundle: deps.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
    activities: deps.wrapActivities ? deps.wrapActivities(activities) : activities,
    // After a restart the server first offers a subscription's next task or query to the old worker's
    // sticky queue, for this long. Histories are small (continue-as-new per period), so replaying on
    // another worker is cheap, while a long wait delays support staff's reads after every deploy.
    stickyQueueScheduleToStartTimeout: '2 seconds',
    maxCachedWorkflows: tuning.maxCachedWorkflows,
    maxConcurrentWorkflowTaskExecutions: tuning.maxConcurrentWorkflowTasks,
    maxConcurrentActivityTaskExecutions: tuning.maxConcurrentActivities,
    maxConcurrentLocalActivityExecutions: tuning.maxConcurrentLocalActivities,
    ...(deps.shutdownGraceTime !== undefined ? { shutdownGraceTime: deps.shutdownGraceTime } : {}),
    ...(deps.shutdownForceTime !== undefined ? { shutdownForceTime: deps.shutdownForceTime } : {}),
  });
}
