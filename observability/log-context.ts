import { AsyncLocalStorage } from 'node:async_hooks';
import { asyncLocalStorage as activityContext } from '@temporalio/activity';

const requests = new AsyncLocalStorage<{ requestId: string }>();

/** Runs `work` (an API request's handling) so that every log line written meanwhile carries `requestId`. */
export function withRequestId<T>(requestId: string, work: () => T): T {
  return requests.run({ requestId }, work);
}

/**
 * What identifies the work in progress, for every log line: the API request's id, or the running
 * activity's workflow, run and activity. Stores and services log through the process's logger
 * without being handed either; this finds them where Node keeps them (AsyncLocalStorage, which the
 * Temporal SDK also uses for an activity's context).
 */
export function logContext(): Record<string, string> {
  const request = requests.getStore();
  if (request) return { requestId: request.requestId };
  const activity = activityContext.getStore()?.info;
  if (!activity) return {};
  return {
    ...(activity.workflowExecution ? { workflowId: activity.workflowExecution.workflowId, runId: activity.workflowExecution.runId } : {}),
    activityId: activity.activityId,
    activityType: activity.activityType,
  };
}
