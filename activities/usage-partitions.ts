import { forkEm, type Orm } from '../db/orm';
import { createUsagePartitions, USAGE_PARTITION_MONTHS_AHEAD } from '../db/usage-partitions';

export function createUsagePartitionActivities({ orm }: { orm: Orm }) {
  const em = forkEm(orm);
  return {
    /**
     * Makes the usage partitions of the current month and the next months that are missing (and of
     * earlier months with events in the default partition). Idempotent: a retry or a second worker
     * creates nothing twice.
     */
    async createUsagePartitions(request: { monthsAhead?: number } = {}): Promise<string[]> {
      return createUsagePartitions(em(), request.monthsAhead ?? USAGE_PARTITION_MONTHS_AHEAD);
    },
  };
}

export type UsagePartitionActivities = ReturnType<typeof createUsagePartitionActivities>;
