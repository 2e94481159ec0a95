/**
 * A progress line for slow work (fetching or building tools): redrawn in place on a terminal,
 * one line every 20 seconds otherwise (CI logs), always with the elapsed time.
 */
export async function withProgress<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const elapsed = (): string => {
    const s = Math.round((Date.now() - started) / 1000);
    return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
  };
  const tty = Boolean(process.stdout.isTTY);
  const draw = (): void => {
    if (tty) process.stdout.write(`\r\x1b[2K${label} ... ${elapsed()}`);
    else console.log(`${label} ... ${elapsed()}`);
  };
  draw();
  const timer = setInterval(draw, tty ? 1000 : 20_000);
  try {
    const result = await work();
    if (tty) process.stdout.write(`\r\x1b[2K`);
    console.log(`${label} ... done in ${elapsed()}`);
    return result;
  } catch (error) {
    if (tty) process.stdout.write('\n');
    throw error;
  } finally {
    clearInterval(timer);
  }
}
