/**
 * Steps of a long run that a signal (Ctrl-C) interrupts: `step(work)` settles with `work`, or rejects
 * with `message` as soon as the signal aborts, so the run goes straight to its clean-up. The work
 * left behind is not awaited; its own rejection is swallowed, the clean-up stops what it was doing.
 */
export function abortableSteps(signal: AbortSignal | undefined, message: string): <T>(work: Promise<T>) => Promise<T> {
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = () => reject(new Error(message));
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  return <T>(work: Promise<T>): Promise<T> => {
    work.catch(() => undefined);
    return Promise.race([work, aborted]);
  };
}
