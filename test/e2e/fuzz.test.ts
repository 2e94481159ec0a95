import { spawn } from 'node:child_process';
import { ROOT } from '../../scripts/stack';

/**
 * `npm run fuzz` in small: Schemathesis sends a few generated requests per operation (the document's
 * examples, its boundary values and random ones) with each role's key to a stack started as npm start
 * starts it: no 5xx, every answer as the document says, and nothing written by a rejected request.
 * Each of its five runs is held to 20 s (about 3,000 requests in all).
 */
describe('fuzz: the API against its OpenAPI document', () => {
  it('answers every generated request without a 5xx, as the document says, and writes nothing for a rejected one', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/fuzz.ts', '--max-examples', '2', '--max-time', '20', '--seed', '20261130'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    // Ctrl-C past the limit: the script stops its stack, and the test fails with what it printed.
    const limit = setTimeout(() => child.kill('SIGINT'), 540_000);
    const code = await new Promise<number | null>((done) => child.once('exit', done));
    clearTimeout(limit);
    const total = /fuzz: (\d+) generated requests, (.*)/.exec(output);
    expect({ code, result: total?.[2], output: code === 0 ? '' : output }).toEqual({ code: 0, result: 'no failure', output: '' });
    expect(Number(total![1])).toBeGreaterThan(100);
    expect(output).toContain('rejected requests wrote nothing: yes');
    // A first run installs Schemathesis (a minute); then five runs of at most 20 s and the stack's start and stop.
  }, 600_000);
});
