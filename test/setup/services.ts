import type { TimeSkippingServer } from './time-skipping-server';

/**
 * Addresses of the services the global setup started, handed to test files through the environment
 * (jest runs the setup before any test file and the files inherit its environment).
 */
export interface TestServices {
  postgresAdminUrl: string;
  templateDatabase: string;
  temporalAddress: string;
  timeSkippingServer: TimeSkippingServer;
  workflowBundlePath: string;
}

const VAR = 'PERENNIAL_TEST_SERVICES';

export function publishServices(services: TestServices): void {
  process.env[VAR] = JSON.stringify(services);
}

export function testServices(): TestServices {
  const raw = process.env[VAR];
  if (!raw) throw new Error(`${VAR} is not set: run the tests with "npm test" (jest's global setup starts the services)`);
  return JSON.parse(raw) as TestServices;
}
