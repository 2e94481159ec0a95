import { readFileSync } from 'node:fs';
import { processTree } from '../support/cpu-meter';

/**
 * Resident memory of a process and everything below it (Postgres's postmaster and its backends).
 * RSS summed over processes counts shared pages (Postgres's shared buffers) once per process that
 * touched them; PSS shares each page among the processes that map it, so PSS sums to what the tree
 * really holds. Both are given: RSS is what `ps` and most dashboards show.
 */
export interface TreeMemory {
  processes: number;
  rssBytes: number;
  pssBytes: number;
}

function field(text: string, name: string): number | null {
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return match ? Number(match[1]) * 1024 : null;
}

function processMemory(pid: number): { rssBytes: number; pssBytes: number } | null {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const rss = field(rollup, 'Rss');
    if (rss !== null) return { rssBytes: rss, pssBytes: field(rollup, 'Pss') ?? rss };
  } catch {
    // not ours to read, or gone: VmRSS below
  }
  try {
    const rss = field(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS');
    return rss === null ? null : { rssBytes: rss, pssBytes: rss };
  } catch {
    return null;
  }
}

export function treeMemory(root: number): TreeMemory {
  const total: TreeMemory = { processes: 0, rssBytes: 0, pssBytes: 0 };
  for (const pid of processTree(root)) {
    const memory = processMemory(pid);
    if (!memory) continue;
    total.processes += 1;
    total.rssBytes += memory.rssBytes;
    total.pssBytes += memory.pssBytes;
  }
  return total;
}

export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
