import { proxyActivities } from '@temporalio/workflow';
import type { UsagePartitionActivities } from '../activities/usage-partitions';
import type { UsagePartitionsInput, UsagePartitionsResult } from './messages';

const partitions = proxyActivities<UsagePartitionActivities>({
  // Moving a month's events out of the default partition is one statement; it is small unless
  // partitions were missing for a long time.
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

/**
 * The daily partition run (the Schedule `usage-partitions` starts it): usage_events gets the monthly
 * partitions it is missing, months before their events arrive. Idempotent, like the activity.
 */
export async function usagePartitionsWorkflow(input: UsagePartitionsInput = {}): Promise<UsagePartitionsResult> {
  const created = await partitions.createUsagePartitions(input.monthsAhead === undefined ? {} : { monthsAhead: input.monthsAhead });
  return { created };
}
