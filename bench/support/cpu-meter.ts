import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/**
 * CPU used by named process trees (Postgres with its backends, the Temporal server, the worker) and
 * by everything else on the machine, from /proc. Benchmarks print the "other" figure beside theirs:
 * on a shared machine another run competing for the same cores explains a slow figure.
 */
const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

export interface CpuSample {
  at: number;
  machine: { busy: number; idle: number; iowait: number };
  groups: Map<string, number>;
}

export interface CpuUse {
  /** Cores used by each named tree between the two samples. */
  groups: Map<string, number>;
  /** The named trees together. */
  ours: number;
  other: number;
  idle: number;
  iowait: number;
}

interface ProcStat {
  ppid: number;
  own: number;
  children: number;
}

/** Every process's parent and CPU ticks (its own, and its reaped children's). */
export function processTable(): Map<number, ProcStat> {
  const stats = new Map<number, ProcStat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command name, which is in parentheses and may contain spaces.
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      stats.set(Number(entry), { ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) });
    } catch {
      // exited between readdir and read
    }
  }
  return stats;
}

/** `root` and every process below it. */
export function processTree(root: number, table: Map<number, { ppid: number }> = processTable()): number[] {
  const tree: number[] = [];
  for (const pid of table.keys()) {
    for (let p = pid, hops = 0; p > 1 && hops < 64; p = table.get(p)?.ppid ?? 0, hops++) {
      if (p === root) {
        tree.push(pid);
        break;
      }
    }
  }
  return tree;
}

export class CpuMeter {
  constructor(private readonly roots: Array<{ name: string; pid: number }>) {}

  sample(): CpuSample {
    const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields.map(Number);
    const stats = processTable();
    const rootOf = new Map(this.roots.map((r) => [r.pid, r.name]));
    const groups = new Map<string, number>(this.roots.map((r) => [r.name, 0]));
    for (const [pid, stat] of stats) {
      let name: string | undefined;
      for (let p = pid, hops = 0; p > 1 && hops < 64 && name === undefined; p = stats.get(p)?.ppid ?? 0, hops++) name = rootOf.get(p);
      if (name === undefined) continue;
      // A root's reaped children (Postgres's autovacuum workers, say) count for its group.
      groups.set(name, groups.get(name)! + stat.own + (rootOf.has(pid) ? stat.children : 0));
    }
    return { at: performance.now(), machine: { busy: user + nice + system + irq + softirq + steal, idle, iowait }, groups };
  }

  /** Cores used by each group between two samples, and by everything else on the machine. */
  static between(a: CpuSample, b: CpuSample): CpuUse {
    const seconds = (b.at - a.at) / 1000;
    const cores = (ticks: number) => ticks / CLK_TCK / seconds;
    const groups = new Map([...b.groups].map(([name, ticks]) => [name, cores(ticks - (a.groups.get(name) ?? 0))]));
    const ours = [...groups.values()].reduce((x, y) => x + y, 0);
    return {
      groups,
      ours,
      // Whatever else runs on the machine (another test run, say) competes for the same cores.
      other: Math.max(0, cores(b.machine.busy - a.machine.busy) - ours),
      idle: cores(b.machine.idle - a.machine.idle),
      iowait: cores(b.machine.iowait - a.machine.iowait),
    };
  }
}

export const describeCpu = (use: CpuUse): string =>
  `cores used: ${[...use.groups].map(([name, cores]) => `${name} ${cores.toFixed(2)}`).join(', ')}; other processes ${use.other.toFixed(2)}, idle ${use.idle.toFixed(2)}, iowait ${use.iowait.toFixed(2)}`;
