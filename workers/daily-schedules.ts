import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import {
  REVENUE_RECOGNITION_SCHEDULE_ID,
  REVENUE_RECOGNITION_WORKFLOW,
  USAGE_PARTITIONS_SCHEDULE_ID,
  USAGE_PARTITIONS_WORKFLOW,
  WALLET_MAINTENANCE_SCHEDULE_ID,
  WALLET_MAINTENANCE_WORKFLOW,
} from '../workflows/messages';

/**
 * A Temporal Schedule that starts one workflow daily at a UTC time. Each is created by whichever
 * worker starts first (the others find it there). A run still going when the next is due makes the
 * next one skip; after an outage only the last missed run is taken (catch-up window: one day), and
 * each of these workflows does everything due since its last run.
 */
export interface DailySchedule {
  scheduleId: string;
  workflowType: string;
  hour: number;
  minute: number;
  /** For the worker's start-up line. */
  describe: string;
}

export const DAILY_SCHEDULES: readonly DailySchedule[] = [
  // Once the day has ended and its late invoices are in.
  { scheduleId: REVENUE_RECOGNITION_SCHEDULE_ID, workflowType: REVENUE_RECOGNITION_WORKFLOW, hour: 0, minute: 10, describe: 'revenue recognition' },
  // After revenue recognition: expired credit is forfeited, wallet purchases invoiced and collected.
  { scheduleId: WALLET_MAINTENANCE_SCHEDULE_ID, workflowType: WALLET_MAINTENANCE_WORKFLOW, hour: 0, minute: 20, describe: 'wallets: expiry, purchase invoices' },
  // Away from the midnight renewals and the runs after them, since making a month briefly holds
  // ingestion; months are made several ahead (and at worker start), so a missed day changes nothing.
  { scheduleId: USAGE_PARTITIONS_SCHEDULE_ID, workflowType: USAGE_PARTITIONS_WORKFLOW, hour: 12, minute: 0, describe: 'usage partitions: months ahead' },
];

/** Makes sure `schedule` exists; every worker calls this at start. */
export async function ensureDailySchedule(client: Client, taskQueue: string, schedule: DailySchedule): Promise<'created' | 'existed'> {
  try {
    await client.schedule.create({
      scheduleId: schedule.scheduleId,
      spec: { calendars: [{ hour: schedule.hour, minute: schedule.minute }] },
      action: { type: 'startWorkflow', workflowType: schedule.workflowType, workflowId: schedule.scheduleId, taskQueue, args: [{}] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
    });
    return 'created';
  } catch (error) {
    if (error instanceof ScheduleAlreadyRunning) return 'existed';
    throw error;
  }
}
