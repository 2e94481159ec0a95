/** Stop functions of what the global setup started; global setup and teardown share one process. */
const KEY = Symbol.for('perennial.test.teardown');
type Stop = () => Promise<void>;

function registry(): Stop[] {
  const holder = globalThis as unknown as Record<symbol, Stop[] | undefined>;
  holder[KEY] ??= [];
  return holder[KEY];
}

export function rememberForTeardown(stop: Stop): void {
  registry().push(stop);
}

export async function stopEverything(): Promise<void> {
  for (const stop of registry().reverse()) await stop().catch((error: unknown) => console.error('teardown:', error));
  registry().length = 0;
}
