import { loadConfig } from '../config/env';
import { registerSearchAttributesAt } from './search-attributes';

/** Registers the subscription search attributes on TEMPORAL_ADDRESS (a deployment step). */
async function main(): Promise<void> {
  const config = loadConfig(process.env, { database: false });
  const added = await registerSearchAttributesAt(config.temporalAddress, config.temporalNamespace);
  console.log(added.length ? `registered: ${added.join(', ')}` : 'search attributes already registered');
}

main().catch((error: unknown) => {
  console.error('registering search attributes failed:', error);
  process.exit(1);
});
