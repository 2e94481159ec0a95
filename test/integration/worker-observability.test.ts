import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SETTINGS } from '../../config/env';
import { startNodeProcess, WORKER_READY } from '../../scripts/stack';
import type { ServiceProcess } from '../../scripts/service-process';
import { freePort } from '../../scripts/wait-for-port';
import { REVENUE_RECOGNITION_SCHEDULE_ID, REVENUE_RECOGNITION_WORKFLOW, WALLET_MAINTENANCE_SCHEDULE_ID } from '../../workflows/messages';
import { testServices } from '../setup/services';
import { createTestDatabase, type TestDatabase } from '../support/database';
import { scrape } from '../support/prometheus';
import { devServer, uniqueTaskQueue, type DevServer } from '../support/temporal';
import { eventually } from '../support/eventually';

/**
 * The worker as `npm run worker` runs it, in a process of its own (the Temporal Runtime, and with it
 * the log and metrics exporters, is installed once per process): every line it writes is JSON, the
 * lines of a workflow and of its activities carry that run's workflowId and runId, and its Temporal
 * SDK metrics are served for Prometheus at WORKER_METRICS_ADDRESS.
 */
describe('the worker process', () => {
  let db: TestDatabase;
  let temporal: DevServer;
  let worker: ServiceProcess;
  let dir: string;
  let metricsAddress: string;
  const taskQueue = uniqueTaskQueue('worker-observability');

  beforeAll(async () => {
    db = await createTestDatabase();
    temporal = await devServer();
    dir = await mkdtemp(join(tmpdir(), 'perennial-worker-log-'));
    metricsAddress = `127.0.0.1:${await freePort()}`;
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of SETTINGS) delete env[name];
    Object.assign(env, {
      DATABASE_URL: db.url,
      TEMPORAL_ADDRESS: testServices().temporalAddress,
      TEMPORAL_TASK_QUEUE: taskQueue,
      WORKER_METRICS_ADDRESS: metricsAddress,
      LOG_LEVEL: 'debug',
    });
    worker = startNodeProcess('worker', 'workers/main.ts', env, { logFile: join(dir, 'worker.log') });
    await worker.printed(WORKER_READY);
  });

  afterAll(async () => {
    await worker?.stop();
    // The worker made the daily schedules on the run's shared server, aimed at this suite's queue.
    for (const id of [REVENUE_RECOGNITION_SCHEDULE_ID, WALLET_MAINTENANCE_SCHEDULE_ID]) {
      await temporal?.client.schedule.getHandle(id).delete().catch(() => undefined);
    }
    await temporal?.close();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const logLines = async (): Promise<Array<Record<string, any>>> =>
    (await readFile(join(dir, 'worker.log'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        try {
          return JSON.parse(line);
        } catch {
          throw new Error(`the worker wrote a line that is not JSON: ${line}`);
        }
      });

  it('runs a workflow whose lines carry its workflowId and runId, and serves the SDK metrics', async () => {
    const workflowId = `revenue-recognition-observed-${taskQueue}`;
    const handle = await temporal.client.workflow.start(REVENUE_RECOGNITION_WORKFLOW, { taskQueue, workflowId, args: [{}] });
    await handle.result();
    const runId = handle.firstExecutionRunId;

    // The SDK hands workflow lines over after their activation, a moment after the result.
    const lines = await eventually('the worker logged the end of the workflow', logLines, (all) => all.some((l) => l.workflowId === workflowId && l.msg === 'Workflow completed'));
    expect(lines.every((l) => typeof l.level === 'string' && typeof l.time === 'string' && typeof l.msg === 'string' && l.name === 'worker')).toBe(true);
    const ofRun = lines.filter((l) => l.workflowId === workflowId && l.runId === runId);
    expect(ofRun.map((l) => l.msg)).toEqual(expect.arrayContaining(['Workflow started', 'Workflow completed', 'Activity started', 'Activity completed']));
    expect(ofRun.find((l) => l.msg === 'Activity completed')).toMatchObject({ activityType: 'revenueRecognitionPeriodsDue', activityId: expect.any(String), taskQueue });

    const metrics = await scrape(`http://${metricsAddress}/metrics`);
    expect(metrics.families.find((f) => f.name === 'temporal_workflow_task_schedule_to_start_latency_seconds')?.type).toBe('HISTOGRAM');
    expect({
      workflowsCompleted: metrics.value('temporal_workflow_completed_total', { task_queue: taskQueue, workflow_type: REVENUE_RECOGNITION_WORKFLOW }),
      activitiesRun: metrics.value('temporal_activity_execution_latency_seconds_count', { task_queue: taskQueue, activity_type: 'revenueRecognitionPeriodsDue' }),
    }).toEqual({ workflowsCompleted: 1, activitiesRun: 1 });
    expect(metrics.series('temporal_num_pollers').filter((s) => s.labels.task_queue === taskQueue).length).toBeGreaterThan(0);
  });
});
