import { chmod, cp, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { isExecutable } from './is-executable';
import { join } from 'node:path';
import { cacheDir } from './cache-dir';
import { withProgress } from './progress';
import { runLogged, whichCommand } from './run-command';

/**
 * Finds the Temporal CLI (dev server + Web UI), in this order: TEMPORAL_CLI_PATH, `temporal` on PATH,
 * a copy cached by an earlier run, the SDK's own download, and finally a build from the Go module
 * proxy, for machines that can reach package registries but not Temporal's download site.
 */
export const TEMPORAL_CLI_VERSION = process.env.TEMPORAL_CLI_VERSION ?? 'v1.5.1';

export async function findTemporalCli(): Promise<string> {
  const explicit = process.env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (await isExecutable(explicit)) return explicit;
    throw new Error(`TEMPORAL_CLI_PATH=${explicit} is not an executable file`);
  }
  const onPath = await whichCommand('temporal');
  if (onPath) return onPath;
  const built = cacheDir('temporal-cli', TEMPORAL_CLI_VERSION, 'temporal');
  if (await isExecutable(built)) return built;
  const downloaded = await downloadWithSdk();
  if (downloaded) return downloaded;
  return buildFromGoModuleProxy(built);
}

/** The SDK downloads the CLI from Temporal's site and caches it; null where that site is unreachable. */
async function downloadWithSdk(): Promise<string | null> {
  const downloadDir = cacheDir('temporal-cli', 'sdk-download');
  const existing = await executableIn(downloadDir);
  if (existing) return existing;
  let testing: typeof import('@temporalio/testing');
  try {
    testing = await import('@temporalio/testing');
  } catch {
    return null; // production installs omit dev dependencies; the Go build still works
  }
  try {
    const env = await withProgress('Downloading the Temporal CLI with the Temporal SDK', () =>
      testing.TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'cached-download', downloadDir } } }),
    );
    await env.teardown();
    return executableIn(downloadDir);
  } catch (error) {
    console.log(`The SDK could not download the Temporal CLI (${firstLine(error)}); building it from the Go module proxy instead.`);
    return null;
  }
}

async function executableIn(dir: string): Promise<string | null> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return null;
  }
  for (const name of names.sort().reverse()) {
    if (await isExecutable(join(dir, name))) return join(dir, name);
  }
  return null;
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0].slice(0, 160);
}

async function buildFromGoModuleProxy(target: string): Promise<string> {
  const go = await whichCommand('go');
  if (!go) {
    throw new Error(
      'The Temporal CLI was not found and cannot be built: install Go (https://go.dev/dl), put `temporal` on PATH, ' +
        'set TEMPORAL_CLI_PATH, or point TEMPORAL_ADDRESS at a running Temporal server.',
    );
  }
  const dir = join(target, '..');
  await mkdir(dir, { recursive: true });
  const logFile = join(dir, 'build.log');
  const staging = join(dir, `staging-${process.pid}`);
  await mkdir(staging, { recursive: true });
  const label = `Building the Temporal CLI ${TEMPORAL_CLI_VERSION} from the Go module proxy (first run only; several minutes; log: ${logFile})`;
  try {
    await withProgress(label, async () => {
      try {
        await runLogged(go, ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
          env: { ...process.env, GOBIN: staging, GOFLAGS: '-buildvcs=false' },
          logFile,
        });
      } catch {
        // Newer CLI versions carry a replace directive, which `go install pkg@version` refuses;
        // build inside a writable copy of the downloaded module instead.
        const info = JSON.parse(
          await runLogged(go, ['mod', 'download', '-json', `github.com/temporalio/cli@${TEMPORAL_CLI_VERSION}`], { logFile }),
        ) as { Dir: string };
        const source = join(staging, 'src');
        await cp(info.Dir, source, { recursive: true });
        await runLogged('chmod', ['-R', 'u+w', source], { logFile });
        await runLogged(go, ['build', '-buildvcs=false', '-o', join(staging, 'temporal'), './cmd/temporal'], { cwd: source, logFile }).catch(
          (error: Error) => {
            // v1.9.1, for one, replaces a nested module (./cliext) that the module zip leaves out.
            if (/replacement directory .* does not exist/.test(error.message)) {
              throw new Error(
                `The Temporal CLI ${TEMPORAL_CLI_VERSION} cannot be built from the Go module proxy: its go.mod replaces a nested ` +
                  `module that the proxy does not serve. Use the default version (unset TEMPORAL_CLI_VERSION) or set TEMPORAL_CLI_PATH.\n${error.message}`,
              );
            }
            throw error;
          },
        );
      }
    });
    await chmod(join(staging, 'temporal'), 0o755);
    // Rename is atomic: a concurrent run sees either no binary or a complete one.
    await rename(join(staging, 'temporal'), target);
    return target;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
