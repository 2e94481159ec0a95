import { stopEverything } from './teardown-registry';

export default async function globalTeardown(): Promise<void> {
  await stopEverything();
}
