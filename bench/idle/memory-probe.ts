import { writeFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

/**
 * Loaded into the worker process the idle benchmark starts (probed-worker.ts): every second it
 * writes the process's memory as JSON to MEMORY_PROBE_FILE. (Not on a signal: the SDK's Runtime
 * shuts the worker down on SIGUSR2, and SIGUSR1 opens the inspector.) The heap is the main thread's (activities,
 * the SDK's bridge); the workflows run in a thread of their own, whose heap counts in the RSS only.
 */
export interface MemoryProbeReport {
  at: string;
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  heapLimitBytes: number;
  externalBytes: number;
}

export const PROBE_EVERY_MS = 1_000;

const file = process.env.MEMORY_PROBE_FILE;
if (file) {
  const write = (): void => {
    const usage = process.memoryUsage();
    const report: MemoryProbeReport = {
      at: new Date().toISOString(),
      rssBytes: usage.rss,
      heapUsedBytes: usage.heapUsed,
      heapTotalBytes: usage.heapTotal,
      heapLimitBytes: getHeapStatistics().heap_size_limit,
      externalBytes: usage.external,
    };
    writeFileSync(file, JSON.stringify(report));
  };
  // Never what keeps the worker alive: its shutdown stays as it is.
  setInterval(write, PROBE_EVERY_MS).unref();
}
