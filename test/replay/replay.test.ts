import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { testServices } from '../setup/services';
import { quietRuntime } from '../support/temporal';

/**
 * Histories recorded by real subscriptions and invoice collections, replayed against today's
 * workflow code. A change that would break a running workflow (a new command, a reordered activity,
 * a removed timer) fails here; make such changes behind patched().
 *
 * The subscription-* and invoice-* histories are recorded by test/replay/record.ts, which drives
 * scenarios through the API on the time-skipping server with the real activities, and runs the
 * code of older commits (taken from git) where a scenario has to cross a patch:
 *   node --import tsx test/replay/record.ts [scenario ...]
 * Add a scenario there to record another, and list its file below.
 *
 * The older ones were recorded from the dev server: run `npm start`, drive a subscription through
 * the API, then
 *   temporal workflow show --address 127.0.0.1:7233 -w subscription-<id> [-r <run id>] -o json > test/replay/histories/<name>.json
 */
const DIR = join(__dirname, 'histories');
const histories = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

interface JsonEvent {
  eventType: string;
  activityTaskScheduledEventAttributes?: { activityType: { name: string } };
  markerRecordedEventAttributes?: { markerName: string; details: Record<string, { payloads: Array<{ data: string }> }> };
}

const load = (file: string): { events: JsonEvent[] } => JSON.parse(readFileSync(join(DIR, file), 'utf8'));

/** What a history did, in order: activities by name and patches by id, as `activity:<name>` and `patch:<id>`. */
function steps(file: string): string[] {
  return load(file).events.flatMap((e) => {
    if (e.activityTaskScheduledEventAttributes) return [`activity:${e.activityTaskScheduledEventAttributes.activityType.name}`];
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_patch') return [];
    const data = JSON.parse(Buffer.from(Object.values(marker.details)[0].payloads[0].data, 'base64').toString('utf8')) as { id: string };
    return [`patch:${data.id}`];
  });
}

describe('recorded workflow histories replay against the current workflow code', () => {
  beforeAll(() => quietRuntime());

  it('has the recorded histories: both subscription versions (trials, backdated periods, cancellations, usage, plan changes, pause and resume, trial changes, collection, billing_error, ratable recognition) and invoice collections, a revenue recognition run, a daily wallet run and a webhook delivery', () => {
    expect(histories).toEqual([
      'backdated-catch-up-in-one-run.json',
      'backdated-trial-then-first-period.json',
      'cancel-at-period-end.json',
      'cancel-now.json',
      'invoice-3ds-then-manual-payment-before-cancel-in-flight.json',
      'invoice-3ds-then-manual-payment.json',
      'invoice-draft-finalised-at-grace-end.json',
      'invoice-draft-finalised-early.json',
      'invoice-first-before-local-context.json',
      'invoice-one-off-declined-then-new-card.json',
      'invoice-paid-at-first-charge.json',
      'invoice-paid-with-local-context.json',
      'invoice-soft-declines-suspended-then-new-card.json',
      'lifecycle-backdated-continued.json',
      'lifecycle-changes-pause-cancel.json',
      'lifecycle-trial-calendar-reactivate.json',
      'revenue-recognition-three-days.json',
      'subscription-billing-error-retried.json',
      'subscription-collect-invoices-crossed.json',
      'subscription-collect-invoices-next-run.json',
      'subscription-local-activities-crossed.json',
      'subscription-local-activities-next-run.json',
      'subscription-quantity-changes-next-run.json',
      'subscription-quantity-changes.json',
      'subscription-ratable-recognition-crossed.json',
      'subscription-suspended-then-resumed-by-collection.json',
      'subscription-trial-will-end-crossed.json',
      'trial-canceled-ends-usage.json',
      'trialing-running.json',
      'usage-then-cancel-now.json',
      'wallet-maintenance-expiry.json',
      'webhook-delivery-third-attempt.json',
    ]);
  });

  // A re-recording that no longer crosses its patch would still replay, and guard nothing.
  it('has histories on both sides of each patch they were recorded for', () => {
    const crossed = steps('subscription-collect-invoices-crossed.json');
    const firstBill = crossed.indexOf('activity:billSubscription');
    const patch = crossed.indexOf('patch:collect-invoices');
    expect({ billedBeforeThePatchExisted: firstBill >= 0 && firstBill < patch, patchTakenLater: patch > 0 }).toEqual({ billedBeforeThePatchExisted: true, patchTakenLater: true });
    expect(steps('subscription-collect-invoices-next-run.json')).toContain('patch:collect-invoices');

    expect(steps('invoice-3ds-then-manual-payment-before-cancel-in-flight.json')).not.toContain('patch:cancel-in-flight-intents');
    expect(steps('invoice-3ds-then-manual-payment.json')).toEqual(expect.arrayContaining(['patch:cancel-in-flight-intents', 'activity:settleAttempts']));

    const stopped = load('subscription-billing-error-retried.json').events.map((e) => e.eventType);
    expect(stopped).toContain('EVENT_TYPE_ACTIVITY_TASK_FAILED');
    expect(stopped).toContain('EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED');
    expect(steps('subscription-billing-error-retried.json')).toContain('patch:billing-error-waits');

    // Trialing on the code before trial_will_end; woken by a trial change on today's code, which took the patch and reported the end.
    const trial = steps('subscription-trial-will-end-crossed.json');
    expect({ before: trial.indexOf('activity:recordSubscriptionState') < trial.indexOf('patch:trial-will-end-event'), reported: trial.includes('activity:reportTrialWillEnd') }).toEqual({ before: true, reported: true });
    expect(steps('trialing-running.json')).not.toContain('patch:trial-will-end-event');

    // Billed by the code before ratable recognition, then its period's end took the patch and posted no lump.
    const ratable = steps('subscription-ratable-recognition-crossed.json');
    expect({ billedBefore: ratable.indexOf('activity:billSubscription') < ratable.indexOf('patch:ratable-revenue-recognition'), lump: ratable.includes('activity:recognizeRevenue') }).toEqual({ billedBefore: true, lump: false });
    expect(steps('revenue-recognition-three-days.json').filter((s) => s === 'activity:recogniseRevenueForPeriod')).toHaveLength(3);

    // Published by activities on the code before local activities, then by a local activity once the deploy's upgrade took the patch.
    const local = steps('subscription-local-activities-crossed.json');
    const taken = local.indexOf('patch:local-state-record');
    expect({ recordedBefore: local.slice(0, taken).filter((s) => s === 'activity:recordSubscriptionState').length, recordedAfter: local.slice(taken).filter((s) => s === 'activity:recordSubscriptionState').length }).toEqual({
      recordedBefore: 3,
      recordedAfter: 0,
    });
    expect(steps('subscription-local-activities-next-run.json')).toEqual(['patch:subscription-lifecycle', 'patch:local-state-record', 'activity:billSubscription', 'patch:collect-invoices']);
    expect(steps('invoice-first-before-local-context.json')).toEqual(['activity:collectionContext', 'activity:chargeInvoice', 'activity:notifyCustomer']);
    expect(steps('invoice-paid-with-local-context.json')).toEqual(['patch:local-collection-context', 'activity:chargeInvoice', 'activity:notifyCustomer']);

    // A one-off invoice's collection failed once and was paid later, with no subscription to signal.
    const oneOff = load('invoice-one-off-declined-then-new-card.json').events.map((e) => e.eventType);
    // Seats changed by the changeQuantity update: the proration invoice billed inside the update's run.
    const seats = load('subscription-quantity-changes.json').events.map((e) => e.eventType);
    expect({ updates: seats.filter((t) => t === 'EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED').length, bills: steps('subscription-quantity-changes.json').filter((s) => s === 'activity:billSubscription').length }).toEqual({ updates: 2, bills: 2 });

    // Renewal drafts: finalised when the grace period's timer fired, or early by the API's signal, then charged once.
    const drafts = ['invoice-draft-finalised-at-grace-end.json', 'invoice-draft-finalised-early.json'].map((file) => {
      const types = load(file).events.map((e) => e.eventType);
      return { timerFired: types.includes('EVENT_TYPE_TIMER_FIRED'), signalled: types.includes('EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED'), activities: steps(file).filter((s) => s !== 'activity:collectionContext') };
    });
    expect(drafts).toEqual([
      { timerFired: true, signalled: false, activities: ['activity:finalizeDraft', 'activity:chargeInvoice', 'activity:notifyCustomer'] },
      { timerFired: false, signalled: true, activities: ['activity:finalizeDraft', 'activity:chargeInvoice', 'activity:notifyCustomer'] },
    ]);

    // A webhook delivery answered 500, 500, then 200: three attempts, the schedule's first two timers between them.
    const delivery = load('webhook-delivery-third-attempt.json').events.map((e) => e.eventType);
    expect({ attempts: steps('webhook-delivery-third-attempt.json'), timers: delivery.filter((t) => t === 'EVENT_TYPE_TIMER_FIRED').length }).toEqual({
      attempts: ['activity:attemptWebhookDelivery', 'activity:attemptWebhookDelivery', 'activity:attemptWebhookDelivery'],
      timers: 2,
    });

    expect({ charges: steps('invoice-one-off-declined-then-new-card.json').filter((s) => s === 'activity:chargeInvoice').length, signalsSent: oneOff.filter((t) => t === 'EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED').length }).toEqual({ charges: 2, signalsSent: 0 });
  });

  it.each(histories)('%s replays without a determinism error', async (file) => {
    const history = JSON.parse(readFileSync(join(DIR, file), 'utf8'));
    const code = readFileSync(testServices().workflowBundlePath, 'utf8');
    await expect(Worker.runReplayHistory({ workflowBundle: { code } }, history, file)).resolves.toBeUndefined();
  });
});
