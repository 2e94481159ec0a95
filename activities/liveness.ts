import { asyncLocalStorage } from '@temporalio/activity';

/**
 * How often a charge that is still running tells the server it is alive. The workflow's heartbeat
 * timeout for charges (workflows/invoice-collection.ts) is a few of these.
 */
export const CHARGE_HEARTBEAT_EVERY_MS = 5_000;

/**
 * Runs `work`, heartbeating every `everyMs` while it runs. A task the server handed out can be lost
 * on its way to the worker (it shows as started and nothing runs it); only a heartbeat timeout
 * notices that before the start-to-close timeout, which a charge must keep long enough for Stripe's
 * own timeouts and retries. The first heartbeat waits `everyMs`, so a charge that answers in
 * milliseconds, nearly all of them, costs the server no extra call. Outside an activity (a direct
 * call from a benchmark) it only runs `work`.
 */
export async function heartbeating<T>(work: () => Promise<T>, everyMs = CHARGE_HEARTBEAT_EVERY_MS): Promise<T> {
  const context = asyncLocalStorage.getStore();
  if (!context) return work();
  const timer = setInterval(() => context.heartbeat(), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
