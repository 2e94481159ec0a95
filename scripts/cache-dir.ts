import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where fetched or built tools live, keyed by version, so every clone on the machine reuses them. */
export function cacheDir(...parts: string[]): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'perennial', ...parts);
}
