import { continueAsNew, proxyActivities, setHandler } from '@temporalio/workflow';
import type { RevenueRecognitionActivities } from '../activities/revenue-recognition';
import { revenueRecognitionProgressQuery, type RevenueRecognitionInput, type RevenueRecognitionProgress } from './messages';

/** Periods per run: a run's history stays small (about 6 events a period) however long the backlog. */
export const RECOGNITION_PERIODS_PER_RUN = 500;

const recognition = proxyActivities<RevenueRecognitionActivities>({
  // One database transaction per period; a day of many obligations still takes seconds, not minutes.
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes' },
});

/**
 * Recognises the revenue of every completed day (or month, by the monthly method) up to `through`,
 * oldest first, one activity per period: each posts one balanced ledger transaction per currency
 * and moves the obligations on, in one database transaction. A period posted before is skipped, so
 * a re-run, a run the schedule starts while another is late, or a retry posts nothing twice. The
 * Schedule `revenue-recognition` starts it daily; it can also be executed directly.
 */
export async function revenueRecognitionWorkflow(input: RevenueRecognitionInput = {}): Promise<RevenueRecognitionProgress> {
  // Workflow time: deterministic on replay. Only days that have ended can be recognised.
  const now = Date.now();
  const through = input.through && Date.parse(input.through) < now ? input.through : new Date(now).toISOString();
  const progress: RevenueRecognitionProgress = input.progress ?? { through, periods: 0, skipped: 0, transactions: 0, lastPeriod: null };
  setHandler(revenueRecognitionProgressQuery, () => progress);
  const periods = await recognition.revenueRecognitionPeriodsDue({ through, limit: RECOGNITION_PERIODS_PER_RUN });
  for (const period of periods) {
    const result = await recognition.recogniseRevenueForPeriod(period);
    progress.periods += 1;
    if (result.skipped) progress.skipped += 1;
    progress.transactions += result.transactions;
    progress.lastPeriod = period.key;
  }
  if (periods.length === RECOGNITION_PERIODS_PER_RUN) {
    await continueAsNew<typeof revenueRecognitionWorkflow>({ through, progress });
  }
  return progress;
}
