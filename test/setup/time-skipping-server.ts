import { TestWorkflowEnvironment } from '@temporalio/testing';
import { javaTestServerScript } from '../../scripts/temporal-test-server';

/** Which time-skipping test server the suites start: the SDK's download, or an executable of ours. */
export type TimeSkippingServer = { kind: 'sdk' } | { kind: 'executable'; path: string };

/**
 * Decided once per test run: TEMPORAL_TEST_SERVER_PATH if set, else the SDK's own download (tried
 * here, so its cache is warm), else the Java build from Maven Central, fetched here with a progress
 * line so no suite pays for it.
 */
export async function chooseTimeSkippingServer(): Promise<TimeSkippingServer> {
  const explicit = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (explicit) return { kind: 'executable', path: explicit };
  try {
    const env = await TestWorkflowEnvironment.createTimeSkipping();
    await env.teardown();
    return { kind: 'sdk' };
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 120);
    console.log(`The SDK could not download the time-skipping test server (${reason}); using the Java build from Maven Central.`);
  }
  return { kind: 'executable', path: await javaTestServerScript() };
}
