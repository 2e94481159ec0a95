import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { forkEm, type Orm } from '../db/orm';
import { dispatchEvents, startDeliveryRuns, type DeliveryRun } from '../db/webhook-store';
import { WEBHOOK_DELIVERY_WORKFLOW, webhookDeliveryWorkflowId, type WebhookDeliveryWorkflow } from '../workflows/messages';
import { logger } from '../observability/logger';

export interface EventRelayOptions {
  orm: Orm;
  temporal: Client;
  taskQueue: string;
  /** The backstop: a pass this often even without a notification (a dropped LISTEN connection, a missed wake). */
  pollMs?: number;
  /** Rows per transaction. */
  batch?: number;
  /** Where a failed pass is reported; the next wake or poll tries again. */
  onError?: (error: unknown) => void;
}

const CHANNEL = 'perennial_events';

/**
 * Moves events from the outbox to their webhook deliveries and starts a delivery workflow for each:
 * the events table's trigger NOTIFYs on commit, which wakes a pass at once; a slow poll catches what
 * a notification could not (the LISTEN connection was down, or the process started after the commit).
 *
 * Every worker runs one. Passes in different processes share the work through `for update skip
 * locked`; within a process passes never overlap. A pass that dies halfway loses nothing: undispatched
 * events stay undispatched, and deliveries whose workflow is not marked started are started again
 * (the workflow id makes a second start of the same run a no-op).
 */
export class EventRelay {
  private stopped = false;
  private wanted = true;
  private wake: (() => void) | null = null;
  private listener: PgClient | null = null;
  private reconnect: NodeJS.Timeout | null = null;
  private readonly loop: Promise<void>;
  private readonly em: ReturnType<typeof forkEm>;
  private readonly pollMs: number;
  private readonly batch: number;
  private readonly onError: (error: unknown) => void;

  private constructor(private readonly options: EventRelayOptions) {
    this.em = forkEm(options.orm);
    this.pollMs = options.pollMs ?? 30_000;
    this.batch = options.batch ?? 100;
    this.onError = options.onError ?? ((error) => logger.error({ err: error }, 'event relay: a pass failed; the next notification or poll tries again'));
    this.loop = this.run();
  }

  /** Starts relaying: a first pass at once (events committed while no worker ran), then on every notification. */
  static async start(options: EventRelayOptions): Promise<EventRelay> {
    const relay = new EventRelay(options);
    await relay.listen();
    return relay;
  }

  /** Asks for a pass now (also done by every notification). */
  poke(): void {
    this.wanted = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnect) clearTimeout(this.reconnect);
    this.wake?.();
    await this.loop;
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    const client = new PgClient({ connectionString: this.options.orm.config.get('clientUrl') });
    client.on('notification', () => this.poke());
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, null));
    try {
      await client.connect();
      await client.query(`listen ${CHANNEL}`);
    } catch (error) {
      this.lost(client, error);
      return;
    }
    if (this.stopped) {
      await client.end();
      return;
    }
    this.listener = client;
    // Events committed while the connection was down raised notifications nobody heard.
    this.poke();
  }

  /** The LISTEN connection broke: the poll carries on, and a new connection is tried shortly. */
  private lost(client: PgClient, error: unknown): void {
    if (this.listener !== client && this.listener !== null) return;
    this.listener = null;
    if (this.stopped || this.reconnect) return;
    if (error) this.onError(error);
    client.removeAllListeners('end');
    client.end().catch(() => undefined);
    this.reconnect = setTimeout(() => {
      this.reconnect = null;
      void this.listen();
    }, 1000);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.wanted) {
        this.wanted = false;
        try {
          await this.pass();
        } catch (error) {
          this.onError(error);
        }
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.wanted = true;
          resolve();
        }, this.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** Dispatches and starts until a batch comes back short: nothing is left that this pass can see. */
  private async pass(): Promise<void> {
    for (;;) {
      const dispatched = await dispatchEvents(this.em(), this.batch);
      const started = await startDeliveryRuns(this.em(), this.batch, (run) => this.startRun(run));
      if ((dispatched < this.batch && started < this.batch) || this.stopped) return;
    }
  }

  private async startRun(run: DeliveryRun): Promise<void> {
    try {
      await this.options.temporal.workflow.start<WebhookDeliveryWorkflow>(WEBHOOK_DELIVERY_WORKFLOW, {
        taskQueue: this.options.taskQueue,
        workflowId: webhookDeliveryWorkflowId(run.deliveryId, run.resend),
        args: [run],
        // A run that already ran (the relay died before marking it started) is not run again.
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }
}
