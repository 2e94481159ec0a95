import { join } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { javaTestServerScript } from '../../scripts/temporal-test-server';
import { startService } from '../../scripts/service-process';
import { freePort, waitForPort } from '../../scripts/wait-for-port';

export interface RunningServer {
  address: string;
  stop: () => Promise<void>;
}

/**
 * The time-skipping test server, started once per test run: TEMPORAL_TEST_SERVER_PATH if set, else
 * the SDK's own download, else the Java build from Maven Central. The SDK gives a server it starts
 * only 5 s to answer and a cold JVM can take longer on a busy 2-core machine, so the Java server is
 * started here, waited for without that limit, and shared by every time-skipping suite.
 */
export async function startTimeSkippingServer(scratch: string): Promise<RunningServer> {
  const explicit = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (!explicit) {
    try {
      const env = await TestWorkflowEnvironment.createTimeSkipping();
      return { address: env.address, stop: () => env.teardown() };
    } catch (error) {
      const reason = (error instanceof Error ? error.message : String(error)).split('\n')[0].slice(0, 120);
      console.log(`The SDK could not download the time-skipping test server (${reason}); using the Java build from Maven Central.`);
    }
  }
  const executable = explicit ?? (await javaTestServerScript());
  const port = await freePort();
  const server = startService('test-server', executable, [String(port)], { logFile: join(scratch, 'test-server.log') });
  await Promise.race([
    waitForPort(port, { what: 'the time-skipping test server', timeoutMs: 120_000 }),
    server.exited.then((code) => {
      throw new Error(`the time-skipping test server exited with code ${code}; see ${join(scratch, 'test-server.log')}`);
    }),
  ]);
  return { address: `127.0.0.1:${port}`, stop: () => server.stop() };
}
