import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { WALLET_MAINTENANCE_SCHEDULE_ID, WALLET_MAINTENANCE_WORKFLOW, type WalletMaintenanceWorkflow } from '../workflows/messages';

/**
 * Makes sure the Temporal Schedule of the daily wallet run exists: at 00:20 UTC, after revenue
 * recognition, expired credit is forfeited and wallet purchases are invoiced and collected. A run
 * still going makes the next one skip; after an outage the last missed run is taken (catch-up window:
 * one day), and it expires everything due since. Every worker calls this at start.
 */
export async function ensureWalletSchedule(client: Client, taskQueue: string): Promise<'created' | 'existed'> {
  try {
    await client.schedule.create<WalletMaintenanceWorkflow>({
      scheduleId: WALLET_MAINTENANCE_SCHEDULE_ID,
      spec: { calendars: [{ hour: 0, minute: 20 }] },
      action: { type: 'startWorkflow', workflowType: WALLET_MAINTENANCE_WORKFLOW, workflowId: WALLET_MAINTENANCE_SCHEDULE_ID, taskQueue, args: [{}] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
    });
    return 'created';
  } catch (error) {
    if (error instanceof ScheduleAlreadyRunning) return 'existed';
    throw error;
  }
}
