import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ROOT } from '../../scripts/stack';

/** openapi-typescript is an ES module Jest cannot load here, so the check runs as npm run generate:client would. */
describe('the typed client', () => {
  it('is generated from the current OpenAPI document (else: npm run generate:client, and commit client/schema.d.ts)', async () => {
    const run = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/generate-client.ts', '--check'], { cwd: ROOT }).catch(
      (error: { code: number; stderr: string }) => ({ stdout: '', stderr: error.stderr, code: error.code }),
    );
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('client/schema.d.ts matches the OpenAPI document');
  });
});
