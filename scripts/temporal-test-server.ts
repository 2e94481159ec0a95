import { access, chmod, constants, mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir } from './cache-dir';
import { withProgress } from './progress';
import { runLogged, whichCommand } from './run-command';

/**
 * The Java build of Temporal's time-skipping test server, resolved from Maven Central with its
 * dependencies, behind a small executable script (`<script> <port>`) that the SDK or our own test
 * setup can run. Used where the SDK cannot download its native build of the same server.
 */
export const TEST_SERVER_VERSION = process.env.TEMPORAL_TEST_SERVER_VERSION ?? '1.38.0';

export async function javaTestServerScript(): Promise<string> {
  const dir = cacheDir('temporal-test-server', TEST_SERVER_VERSION);
  const script = join(dir, 'temporal-test-server');
  try {
    await access(script, constants.X_OK);
    return script;
  } catch {
    // not built yet
  }
  for (const tool of ['java', 'mvn']) {
    if (!(await whichCommand(tool))) {
      throw new Error(`The time-skipping test server needs ${tool} (Java 17+ and Maven) when the SDK cannot download its own build`);
    }
  }
  await mkdir(dir, { recursive: true });
  const staging = join(dir, `lib-${process.pid}`);
  const logFile = join(dir, 'maven.log');
  await withProgress(`Fetching the Temporal test server ${TEST_SERVER_VERSION} from Maven Central (first run only)`, () =>
    runLogged(
      'mvn',
      [
        '-B',
        '-q',
        '-f',
        join(__dirname, 'temporal-test-server', 'pom.xml'),
        `-Dtemporal.test.server.version=${TEST_SERVER_VERSION}`,
        'dependency:copy-dependencies',
        `-DoutputDirectory=${staging}`,
      ],
      { logFile },
    ),
  );
  if ((await readdir(staging)).length === 0) throw new Error(`Maven resolved no jars for the test server; see ${logFile}`);
  await rm(join(dir, 'lib'), { recursive: true, force: true });
  await rename(staging, join(dir, 'lib'));
  const body = `#!/bin/sh\n# Temporal time-skipping test server ${TEST_SERVER_VERSION} (Java), usage: temporal-test-server <port>\nexec java -cp '${join(dir, 'lib')}/*' io.temporal.testserver.TestServer "$@"\n`;
  await writeFile(`${script}.tmp`, body);
  await chmod(`${script}.tmp`, 0o755);
  await rename(`${script}.tmp`, script);
  return script;
}
