import { forkEm, type Orm } from '../db/orm';
import { periodsToRecognise, recognisePeriod, type PeriodRecognition } from '../db/revenue-store';
import type { RecognitionMethod } from '../domain/revenue-recognition';

/** A recognition period as a workflow carries it: instants as ISO strings. */
export interface RecognitionPeriodJson {
  /** `YYYY-MM-DD`, or `YYYY-MM` for the monthly method. */
  key: string;
  start: string;
  end: string;
}

export interface RevenueRecognitionDeps {
  orm: Orm;
  /** REVENUE_RECOGNITION_METHOD (config/env.ts). */
  method: RecognitionMethod;
}

/**
 * The revenue recognition workflow's activities. Each period is one short database transaction, so
 * an attempt needs no heartbeat: a lost worker's attempt is retried whole after its timeout, and the
 * claimed period (or its rollback) makes the retry post exactly once.
 */
export function createRevenueRecognitionActivities({ orm, method }: RevenueRecognitionDeps) {
  const em = forkEm(orm);
  return {
    /** The completed periods not posted yet, up to `through`, oldest first, at most `limit`. */
    async revenueRecognitionPeriodsDue(request: { through: string; limit: number }): Promise<RecognitionPeriodJson[]> {
      const periods = await periodsToRecognise(em(), method, new Date(request.through), request.limit);
      return periods.map((p) => ({ key: p.key, start: p.start.toISOString(), end: p.end.toISOString() }));
    },

    /** Posts one period's recognition (nothing if it was posted before); counts for progress. */
    async recogniseRevenueForPeriod(period: RecognitionPeriodJson): Promise<PeriodRecognition> {
      return recognisePeriod(em(), method, { key: period.key, start: new Date(period.start), end: new Date(period.end) });
    },
  };
}

export type RevenueRecognitionActivities = ReturnType<typeof createRevenueRecognitionActivities>;
