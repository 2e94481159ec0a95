import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { testServices } from '../setup/services';
import { quietRuntime } from '../support/temporal';

/**
 * Histories recorded from the Temporal dev server by real subscriptions, replayed against today's
 * workflow code. A change that would break a running subscription (a new command, a reordered
 * activity, a removed timer) fails here; make such changes behind patched().
 *
 * To record another: run `npm start`, drive a subscription through the API, then
 *   temporal workflow show --address 127.0.0.1:7233 -w subscription-<id> [-r <run id>] -o json > test/replay/histories/<name>.json
 */
const DIR = join(__dirname, 'histories');
const histories = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

describe('recorded subscription histories replay against the current workflow code', () => {
  beforeAll(() => quietRuntime());

  it('has the recorded histories of both workflow versions: trials, backdated periods, cancellations, usage billed at the end, plan changes, pause and resume, trial changes', () => {
    expect(histories).toEqual([
      'backdated-catch-up-in-one-run.json',
      'backdated-trial-then-first-period.json',
      'cancel-at-period-end.json',
      'cancel-now.json',
      'lifecycle-backdated-continued.json',
      'lifecycle-changes-pause-cancel.json',
      'lifecycle-trial-calendar-reactivate.json',
      'trial-canceled-ends-usage.json',
      'trialing-running.json',
      'usage-then-cancel-now.json',
    ]);
  });

  it.each(histories)('%s replays without a determinism error', async (file) => {
    const history = JSON.parse(readFileSync(join(DIR, file), 'utf8'));
    const code = readFileSync(testServices().workflowBundlePath, 'utf8');
    await expect(Worker.runReplayHistory({ workflowBundle: { code } }, history, file)).resolves.toBeUndefined();
  });
});
