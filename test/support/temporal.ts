import { readFileSync } from 'node:fs';
import { InterceptingCall, type ChannelOptions, type Interceptor } from '@grpc/grpc-js';
import { NativeConnection, Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Client, Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor, WorkflowNotFoundError, type ConnectionOptions } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { randomBytes } from 'node:crypto';
import { createBillingWorker, type BillingWorkerDeps } from '../../workers/billing-worker';
import type { Orm } from '../../db/orm';
import { testServices } from '../setup/services';
import { ensureSearchAttributes } from '../../scripts/search-attributes';
import { startService, type ServiceProcess } from '../../scripts/service-process';
import { freePort, waitForPort } from '../../scripts/wait-for-port';

let runtimeInstalled = false;
/** Worker logs only errors in tests (injected faults log warnings by design), so a failing test's output is readable. */
export function quietRuntime(): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

const TEST_SERVICE = '/temporal.api.testservice.v1.TestService/';
const retryCalls = makeGrpcRetryInterceptor(defaultGrpcRetryOptions());

/**
 * Connection options for the time-skipping test server (grpc-java with its defaults).
 *
 * No keepalive pings: that server allows one ping per 5 minutes (none without a call in flight)
 * and, at the third early ping with no data sent by it in between, answers GOAWAY (too_many_pings)
 * and closes the connection with every call on it. The client pings every 30 s by default, so a
 * call the server answers after 60 to 90 s (one long `env.sleep`) was cut. The server is on loopback
 * and lives as long as the suite: there is no NAT or dead peer for a ping to detect. The worker's
 * NativeConnection pings every 30 s too (SDK 1.24 has no option for it), but its long polls are
 * answered within 60 s, and each answer clears the server's count.
 *
 * No retry of the test service's calls (the SDK retries UNAVAILABLE): a cut
 * `unlockTimeSkippingWithSleep` still runs to its end on the server, so a retry is a second sleep
 * beside the first. The clock is then unlocked once more than anything knows, runs on while an
 * activity or a workflow task holds it, and stops later than asked. A cut call must fail the test
 * instead of bending the clock. Other calls keep the SDK's retries.
 */
const testServerConnection: Pick<ConnectionOptions, 'channelArgs' | 'interceptors'> = {
  channelArgs: {
    'grpc.keepalive_time_ms': undefined,
    'grpc.keepalive_timeout_ms': undefined,
    'grpc.keepalive_permit_without_calls': undefined,
  } satisfies ChannelOptions,
  interceptors: [
    ((options, nextCall) =>
      options.method_definition.path.startsWith(TEST_SERVICE) ? new InterceptingCall(nextCall(options)) : retryCalls(options, nextCall)) satisfies Interceptor,
  ],
};

/**
 * A time-skipping environment with a server of its own, so its clock starts at today and no other
 * suite moves it. Where the SDK cannot download its server, the executable chosen by the global
 * setup (the Java test server) is started here and waited for without the SDK's 5 s start limit
 * (a cold JVM on a busy 2-core machine can take longer), then reached through the SDK's internal
 * factory for an existing server.
 */
export async function timeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const choice = testServices().timeSkippingServer;
  let env: TestWorkflowEnvironment;
  let server: ServiceProcess | null = null;
  // The SDK's own factory, which both public constructors call, is the only one that takes
  // connection options.
  const factory = TestWorkflowEnvironment as unknown as { create(options: object): Promise<TestWorkflowEnvironment> };
  const common = { supportsTimeSkipping: true, namespace: 'default', connectionOptions: testServerConnection };
  if (choice.kind === 'sdk') {
    env = await factory.create({ ...common, server: { type: 'time-skipping' } });
  } else {
    const port = await freePort();
    server = startService('test-server', choice.path, [String(port)], { quiet: true });
    await waitForPort(port, { what: 'the time-skipping test server', timeoutMs: 120_000 });
    env = await factory.create({ ...common, server: { type: 'existing' }, address: `127.0.0.1:${port}` });
  }
  // The dev server registers them from its command line; the test server only through the API.
  await ensureSearchAttributes(env.connection, 'default');
  const teardown = env.teardown.bind(env);
  env.teardown = async () => {
    await teardown();
    await server?.stop();
  };
  return env;
}

export interface DevServer {
  client: Client;
  connection: NativeConnection;
  close(): Promise<void>;
}

/** Clients of the run's Temporal dev server (the real server with visibility and search attributes). */
export async function devServer(): Promise<DevServer> {
  quietRuntime();
  const address = testServices().temporalAddress;
  const clientConnection = await Connection.connect({ address });
  const connection = await NativeConnection.connect({ address });
  return {
    client: new Client({ connection: clientConnection, namespace: 'default' }),
    connection,
    async close() {
      await connection.close();
      await clientConnection.close();
    },
  };
}

/** A unique task queue per suite, so suites sharing a server never steal each other's tasks. */
export const uniqueTaskQueue = (label: string): string => `${label}-${randomBytes(4).toString('hex')}`;

/**
 * A worker for a suite. Its shutdown gives running activities a moment, then cancels them, and gives
 * up after a bound (run() rejects), so a teardown never waits forever on a stuck activity.
 */
export async function billingWorker(
  options: { connection: NativeConnection; taskQueue: string; orm: Orm } & Pick<BillingWorkerDeps, 'wrapActivities' | 'stripe' | 'mail' | 'customerPaymentUrl' | 'publicUrl'>,
): Promise<Worker> {
  return createBillingWorker({
    shutdownGraceTime: '2 seconds',
    shutdownForceTime: '20 seconds',
    ...options,
    namespace: 'default',
    workflowBundle: { code: readFileSync(testServices().workflowBundlePath, 'utf8') },
  });
}

const EventType = temporal.api.enums.v1.EventType;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/**
 * What a run has started and not yet seen end, read from its history: workflow tasks, activities
 * (also while they wait for a retry), child workflow starts and signals to other workflows. Each of
 * these holds a time lock on the time-skipping server until it ends.
 */
function inFlight(events: HistoryEvent[]): string[] {
  const open = new Map<string, string>();
  const end = (startedBy: unknown): void => {
    if (startedBy !== null && startedBy !== undefined) open.delete(String(startedBy));
  };
  for (const event of events) {
    const id = String(event.eventId);
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
        open.set(id, 'a workflow task');
        break;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
        end(event.workflowTaskCompletedEventAttributes?.scheduledEventId);
        break;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
        end(event.workflowTaskFailedEventAttributes?.scheduledEventId);
        break;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
        end(event.workflowTaskTimedOutEventAttributes?.scheduledEventId);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        open.set(id, `activity ${event.activityTaskScheduledEventAttributes?.activityType?.name ?? '?'}`);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        end(event.activityTaskCompletedEventAttributes?.scheduledEventId);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
        end(event.activityTaskFailedEventAttributes?.scheduledEventId);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
        end(event.activityTaskTimedOutEventAttributes?.scheduledEventId);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
        end(event.activityTaskCanceledEventAttributes?.scheduledEventId);
        break;
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
        open.set(id, `the start of child ${event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId ?? '?'}`);
        break;
      case EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
        end(event.childWorkflowExecutionStartedEventAttributes?.initiatedEventId);
        break;
      case EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED:
        end(event.startChildWorkflowExecutionFailedEventAttributes?.initiatedEventId);
        break;
      case EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
        open.set(id, `a signal to ${event.signalExternalWorkflowExecutionInitiatedEventAttributes?.workflowExecution?.workflowId ?? '?'}`);
        break;
      case EventType.EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED:
        end(event.externalWorkflowExecutionSignaledEventAttributes?.initiatedEventId);
        break;
      case EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED:
        end(event.signalExternalWorkflowExecutionFailedEventAttributes?.initiatedEventId);
        break;
      default:
        break;
    }
  }
  return [...open.values()];
}

/** Why the run's activities failed last, if they did: what keeps a retrying activity busy. */
async function lastFailures(client: Client, run: { workflowId: string; runId: string }): Promise<string> {
  const pending = (await client.workflow.getHandle(run.workflowId, run.runId).describe()).raw.pendingActivities ?? [];
  const failures = pending.filter((a) => a.lastFailure?.message).map((a) => `${a.activityType?.name} attempt ${a.attempt} failed: ${a.lastFailure?.message}`);
  return failures.length ? ` (${failures.join('; ')})` : '';
}

async function openRun(client: Client, workflowId: string): Promise<{ workflowId: string; runId: string } | null> {
  try {
    const description = await client.workflow.getHandle(workflowId).describe();
    return description.status.name === 'RUNNING' ? { workflowId, runId: description.runId } : null;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return null;
    throw error;
  }
}

/**
 * Terminates the workflows still running among `workflowIds`, each once nothing of it is in flight.
 *
 * The time-skipping server locks its clock while a workflow task, an activity, a child's start or an
 * external signal is outstanding, and unlocks it when that ends; a workflow terminated first never
 * releases that lock (temporalio/sdk-java#1138, open), and from then on every skip of the clock runs
 * at wall-clock speed, so a week of dunning takes a week. Between skips the clock is locked too, so
 * once idle a workflow stays idle until it is terminated: its next timer is far ahead, and a retry
 * waiting on its backoff counts as in flight. The histories are checked afterwards, so that a lock
 * taken in spite of this fails loudly here instead of slowing every later test down.
 */
export async function terminateWhenIdle(client: Client, workflowIds: string[], reason: string, { timeoutMs = 60_000 } = {}): Promise<void> {
  const history = async (run: { workflowId: string; runId: string }): Promise<HistoryEvent[]> =>
    (await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory()).events ?? [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const runs = (await Promise.all([...new Set(workflowIds)].map((id) => openRun(client, id)))).filter((run) => run !== null);
    if (runs.length === 0) return;
    const busy = (await Promise.all(runs.map(async (run) => ({ run, open: inFlight(await history(run)) })))).filter((r) => r.open.length > 0);
    if (busy.length > 0) {
      if (Date.now() > deadline) {
        const what = await Promise.all(busy.map(async (b) => `${b.run.workflowId}: ${b.open.join(', ')}${await lastFailures(client, b.run)}`));
        throw new Error(`workflows still busy after ${timeoutMs} ms, not terminated (that would leave the test server's clock locked): ${what.join('; ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      continue;
    }
    const ended = await Promise.all(
      runs.map((run) =>
        client.workflow
          .getHandle(run.workflowId, run.runId)
          .terminate(reason)
          .then(
            () => run,
            (error: unknown) => {
              // The run closed on its own (completed, or continued as new) since it was looked at.
              if (error instanceof WorkflowNotFoundError) return null;
              throw error;
            },
          ),
      ),
    );
    for (const run of ended.filter((r) => r !== null)) {
      const events = await history(run);
      const terminated = events.findIndex((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED);
      const open = inFlight(terminated < 0 ? events : events.slice(0, terminated));
      if (open.length > 0) {
        throw new Error(`${run.workflowId} was terminated while ${open.join(', ')} was in flight: the test server now keeps its clock locked and every later skip runs at wall-clock speed`);
      }
    }
  }
}
