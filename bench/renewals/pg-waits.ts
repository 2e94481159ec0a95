import type { Pool } from 'pg';

/**
 * A sampling profile of Postgres: every few milliseconds, what each active backend of the
 * application is doing (on the CPU, or waiting for a lock, I/O or the client) and which statement.
 * Where the application's time goes inside the database, without an extension.
 */
export interface WaitSample {
  /** "CPU" when the backend waits for nothing, else wait_event_type:wait_event. */
  state: string;
  statement: string;
  /** Share of the samples in which an active backend was in this state on this statement. */
  share: number;
  /** Backends in this state on average. */
  backends: number;
}

export class PgWaitSampler {
  private readonly counts = new Map<string, number>();
  private samples = 0;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly owner: Pool,
    private readonly everyMs = 50,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.everyMs);
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const { rows } = await this.owner.query<{ state: string; statement: string }>(
        `select coalesce(wait_event_type || ':' || wait_event, 'CPU') as state, regexp_replace(left(query, 90), '\\s+', ' ', 'g') as statement
           from pg_stat_activity where state = 'active' and backend_type = 'client backend' and pid <> pg_backend_pid() and usename <> current_user`,
      );
      this.samples += 1;
      for (const row of rows) {
        const key = `${row.state}\t${row.statement}`;
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      }
    } catch {
      // A sample lost while the database is busy changes nothing.
    } finally {
      this.busy = false;
    }
  }

  stop(top = 12): WaitSample[] {
    if (this.timer) clearInterval(this.timer);
    const total = [...this.counts.values()].reduce((a, b) => a + b, 0);
    return [...this.counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, n]) => {
        const [state, statement] = key.split('\t');
        return { state, statement, share: n / Math.max(1, total), backends: n / Math.max(1, this.samples) };
      });
  }
}
