import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { REVENUE_RECOGNITION_SCHEDULE_ID, REVENUE_RECOGNITION_WORKFLOW, type RevenueRecognitionWorkflow } from '../workflows/messages';

/**
 * Makes sure the Temporal Schedule that recognises revenue exists: daily at 00:10 UTC, once the day
 * has ended and its late invoices are in. A run still going when the next is due makes the next one
 * skip (the following day's run picks up whatever is left); after an outage only the last day's missed
 * run is taken (catch-up window: one day), and it recognises every day since the last one posted.
 * Every worker calls this at start; whoever comes second finds it there.
 */
export async function ensureRevenueRecognitionSchedule(client: Client, taskQueue: string): Promise<'created' | 'existed'> {
  try {
    await client.schedule.create<RevenueRecognitionWorkflow>({
      scheduleId: REVENUE_RECOGNITION_SCHEDULE_ID,
      spec: { calendars: [{ hour: 0, minute: 10 }] },
      action: { type: 'startWorkflow', workflowType: REVENUE_RECOGNITION_WORKFLOW, workflowId: REVENUE_RECOGNITION_SCHEDULE_ID, taskQueue, args: [{}] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
    });
    return 'created';
  } catch (error) {
    if (error instanceof ScheduleAlreadyRunning) return 'existed';
    throw error;
  }
}
