const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `probe` until `done` accepts its value. The bound only stops a broken system from hanging
 * the caller; nothing here asserts how fast anything happens.
 */
export async function eventually<T>(what: string, probe: () => Promise<T>, done: (value: T) => boolean, boundMs = 60_000): Promise<T> {
  const giveUpAt = Date.now() + boundMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > giveUpAt) throw new Error(`${what}: still not the case after ${boundMs} ms; last seen: ${JSON.stringify(value)}`);
    await sleep(200);
  }
}
