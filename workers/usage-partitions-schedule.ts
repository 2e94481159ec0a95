import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { USAGE_PARTITIONS_SCHEDULE_ID, USAGE_PARTITIONS_WORKFLOW, type UsagePartitionsWorkflow } from '../workflows/messages';

/**
 * Makes sure the Temporal Schedule of the daily usage partition run exists: at 12:00 UTC, away from
 * the midnight renewals and the daily runs after them, since making a month briefly holds ingestion.
 * Months are made several ahead, so a missed day or two changes nothing; a run still going makes the
 * next skip. Every worker calls this at start (and makes the partitions itself at start too).
 */
export async function ensureUsagePartitionsSchedule(client: Client, taskQueue: string): Promise<'created' | 'existed'> {
  try {
    await client.schedule.create<UsagePartitionsWorkflow>({
      scheduleId: USAGE_PARTITIONS_SCHEDULE_ID,
      spec: { calendars: [{ hour: 12, minute: 0 }] },
      action: { type: 'startWorkflow', workflowType: USAGE_PARTITIONS_WORKFLOW, workflowId: USAGE_PARTITIONS_SCHEDULE_ID, taskQueue, args: [{}] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
    });
    return 'created';
  } catch (error) {
    if (error instanceof ScheduleAlreadyRunning) return 'existed';
    throw error;
  }
}
