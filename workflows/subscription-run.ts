import { ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import type { BillingActivities } from '../activities';
import { fullPeriodOf, periodOf, type Period, type Schedule } from '../domain/period';
import { feePrice, type FeePrice } from '../domain/plan-change';
import type {
  BillingErrorInfo,
  InvoiceSummary,
  PlanSnapshot,
  SubscriptionState,
  SubscriptionStatus,
  UpcomingEvent,
} from '../domain/subscription';
import type { Action } from './changes';
import type { SubscriptionWorkflowInput } from './messages';

export const iso = (d: Date): string => d.toISOString();
export const now = (): Date => new Date(Date.now());

/** Refuses a request: the update is rejected (in a validator: with no trace in the history). */
export const reject = (code: string, message: string): never => {
  throw ApplicationFailure.nonRetryable(message, code);
};

/**
 * Where the subscription cannot be wrong. A plain Error fails the workflow task, which Temporal
 * retries, so a broken invariant holds the subscription where it is (visible, fixable by a deploy)
 * instead of billing on from a wrong state.
 */
export function invariant(holds: boolean, message: string): asserts holds {
  if (!holds) throw new Error(`subscription invariant broken: ${message}`);
}

export type Phase = Extract<SubscriptionStatus, 'scheduled' | 'trialing' | 'active' | 'paused' | 'canceled'>;

/**
 * What a run carries to the next: the next run's input, passed whole to continue-as-new. Every field
 * the lifecycle adds to the first version's input is present; the first version's own fields
 * (`planCode`, `planName`, `billingAnchor`) are kept equal to `plan` and `segment` by `setPlan` and
 * `startSegment`. JSON throughout: instants are ISO 8601 strings.
 */
export type Carried = SubscriptionWorkflowInput &
  Required<
    Pick<
      SubscriptionWorkflowInput,
      'plan' | 'zone' | 'alignment' | 'segment' | 'scheduled' | 'usagePlanId' | 'usageCut' | 'pausedAt' | 'reopenUsage' | 'unpaid' | 'suspendedFor' | 'quantity' | 'overrides' | 'usageOverrides'
    >
  >;

/** A run's state and what each step needs besides it: the guarded activities and publishing the state. */
export interface RunContext {
  run: SubscriptionRun;
  billing: BillingActivities;
  publish(): Promise<void>;
}

/**
 * One run of the subscription: the record it carries (`record`) and what lasts only this run (the
 * phase, the invoices to recognise, the queue of changes). Everything readers see (`state()`, the
 * memo, the search attributes) is derived from these on demand.
 */
export class SubscriptionRun {
  readonly record: Carried;
  phase: Phase;
  /** This run's period has its invoice. */
  periodInvoiced = false;
  /** Invoices whose fees are recognised as revenue when their period (or what is left of it) is served. */
  toRecognize: string[] = [];
  latestInvoice: InvoiceSummary | null = null;
  canceledAt: string | null = null;
  endedAtPeriodEnd = false;
  /** A collection signal arrived since the suspension was last reconciled. */
  collectionChanged = false;
  billingError: BillingErrorInfo | null = null;
  retryRequested = false;
  /** Accepted changes waiting for the main loop; the one being applied stays first until it is done. */
  readonly queue: Action[] = [];
  private changeCount = 0;

  constructor(input: SubscriptionWorkflowInput) {
    // Runs continued from the first version carry no plan snapshot: it is loaded before the main loop,
    // after the handlers are registered (an update in the first task must find its handler).
    const plan: PlanSnapshot = input.plan ?? { id: '', code: input.planCode, version: 0, name: input.planName, currency: '', amount: '0', cadence: input.cadence };
    const anchor = iso(new Date(input.segment?.anchor ?? input.billingAnchor));
    this.record = {
      ...input,
      planCode: plan.code,
      planName: plan.name,
      cadence: input.plan?.cadence ?? input.cadence,
      billingAnchor: anchor,
      trialEnd: input.trialEnd ? iso(new Date(input.trialEnd)) : null,
      cancelAtPeriodEnd: false,
      plan,
      zone: input.zone ?? 'UTC',
      alignment: input.alignment ?? 'anniversary',
      segment: { anchor, firstCycle: input.segment?.firstCycle ?? 0 },
      scheduled: input.scheduled ?? [],
      usagePlanId: input.usagePlanId ?? null,
      usageCut: input.usageCut ?? false,
      pausedAt: input.pausedAt ? iso(new Date(input.pausedAt)) : null,
      reopenUsage: input.reopenUsage ?? false,
      unpaid: { ...(input.unpaid ?? {}) },
      suspendedFor: input.suspendedFor ?? null,
      quantity: input.quantity ?? 1,
      overrides: input.overrides ?? null,
      usageOverrides: input.usageOverrides ?? null,
    };
    invariant(this.record.periodIndex >= this.record.segment.firstCycle, `cycle ${this.record.periodIndex} lies before its segment's first cycle ${this.record.segment.firstCycle}`);
    this.phase = this.record.pausedAt ? 'paused' : this.record.periodIndex === 0 ? 'scheduled' : 'active';
    if (input.cancelAtPeriodEnd && !this.record.scheduled.some((c) => c.kind === 'cancel')) {
      this.record.scheduled.push({ id: 'cancel-at-period-end', kind: 'cancel', at: iso(this.period().start), atPeriodEnd: true, prorate: false });
    }
  }

  // ---- the record's moves, each keeping what must hold ------------------------------------------------

  get cycle(): number {
    return this.record.periodIndex;
  }

  /** Cycles only grow: an invoice's period index is never reused or gone back to. */
  advance(to: number): void {
    invariant(to > this.record.periodIndex, `cycle ${this.record.periodIndex} cannot move to ${to}`);
    this.record.periodIndex = to;
  }

  setPlan(plan: PlanSnapshot): void {
    this.record.plan = plan;
    this.record.planCode = plan.code;
    this.record.planName = plan.name;
  }

  /** Periods are counted anew from `anchor`: cycle `firstCycle` is its first period. */
  startSegment(anchor: Date, firstCycle: number): void {
    this.record.segment = { anchor: iso(anchor), firstCycle };
    this.record.billingAnchor = iso(anchor);
  }

  /** The subscription is suspended only for an invoice whose collection failed. */
  suspendFor(invoiceId: string): void {
    invariant(this.record.unpaid[invoiceId] === 'failed', `suspension for invoice ${invoiceId}, which is ${this.record.unpaid[invoiceId] ?? 'not unpaid'}`);
    this.record.suspendedFor = invoiceId;
  }

  newChangeId(kind: string): string {
    return `${kind}-${workflowInfo().runId.slice(0, 8)}-${++this.changeCount}`;
  }

  // ---- reading it ----------------------------------------------------------------------------------

  startAt(): Date {
    return new Date(this.record.startAt);
  }

  trialEnd(): Date | null {
    return this.record.trialEnd ? new Date(this.record.trialEnd) : null;
  }

  /** When billing starts: the end of the trial, or the start. */
  billingStart(): Date {
    const trialEnd = this.trialEnd();
    return trialEnd && trialEnd > this.startAt() ? trialEnd : this.startAt();
  }

  private schedule(): Schedule {
    return { anchor: new Date(this.record.segment.anchor), cadence: this.record.cadence, zone: this.record.zone, alignment: this.record.alignment };
  }

  /** The current period; read only while it means something (scheduled, trialing, active). */
  period(): Period {
    const period = { ...periodOf(this.schedule(), this.cycle - this.record.segment.firstCycle), index: this.cycle };
    invariant(period.start < period.end, `period ${this.cycle} starts at ${iso(period.start)}, not before its end ${iso(period.end)}`);
    return period;
  }

  /** The whole period the current period's price is for (longer for a short first calendar period). */
  basis(): Period {
    return fullPeriodOf(this.schedule(), this.cycle - this.record.segment.firstCycle);
  }

  ended(): boolean {
    return this.phase === 'canceled';
  }

  /** A billing subscription is past due while an invoice is overdue, suspended once collection failed. */
  status(): SubscriptionStatus {
    if (this.billingError) return 'billing_error';
    if (this.phase !== 'active') return this.phase;
    const behind = Object.values(this.record.unpaid);
    return behind.includes('failed') ? 'suspended' : behind.length > 0 ? 'past_due' : 'active';
  }

  /** The current period renews unless a cancellation or a pause comes first. */
  renews(): boolean {
    const end = this.period().end;
    return !this.record.scheduled.some((c) => (c.kind === 'cancel' || c.kind === 'pause') && (c.atPeriodEnd || new Date(c.at) <= end));
  }

  /** The earliest change scheduled for an instant (those at a period's end wait for the boundary). */
  nextDue(): Date | null {
    const dated = this.record.scheduled.filter((c) => !c.atPeriodEnd).map((c) => new Date(c.at).getTime());
    return dated.length > 0 ? new Date(Math.min(...dated)) : null;
  }

  /** Usage not billed yet, at the prices it accrued at (the plan's, or the contract's), up to `at`. */
  usageUntil(at: Date, ends: boolean, wholePeriod = false) {
    const r = this.record;
    const overrides = r.usagePlanId ? r.usageOverrides : r.overrides;
    return { until: iso(at), planId: r.usagePlanId ?? r.plan.id, wholePeriod, ends, ...(overrides ? { overrides } : {}) };
  }

  /** How the fee is priced besides the plan: the seats and the contract price per seat. */
  feePrice(): FeePrice {
    return feePrice(this.record.quantity, this.record.overrides?.amount);
  }

  private upcoming(): UpcomingEvent[] {
    const { phase } = this;
    if (phase === 'canceled') return [];
    const trialEnd = this.trialEnd();
    const events: UpcomingEvent[] = [];
    if (phase === 'scheduled') events.push({ at: iso(this.startAt()), event: 'start' });
    if (trialEnd && (phase === 'scheduled' || phase === 'trialing')) events.push({ at: iso(trialEnd), event: 'trial_end' });
    if (phase === 'active' && this.renews()) events.push({ at: iso(this.period().end), event: 'renewal' });
    const names = { change_plan: 'plan_change', change_quantity: 'quantity_change', pause: 'pause', resume: 'resume', cancel: 'cancellation' } as const;
    for (const change of this.record.scheduled) {
      events.push({ at: change.atPeriodEnd && phase === 'active' ? iso(this.period().end) : change.at, event: names[change.kind], changeId: change.id });
    }
    return events.sort((a, b) => a.at.localeCompare(b.at));
  }

  /** What the API, the query and the Postgres mirror show. */
  state(): SubscriptionState {
    const r = this.record;
    const active = this.phase === 'active';
    const period = active ? this.period() : null;
    const basis = active ? this.basis() : null;
    const nextBillingAt = active ? (this.renews() ? iso(period!.end) : null) : this.phase === 'scheduled' || this.phase === 'trialing' ? iso(this.billingStart()) : null;
    return {
      subscriptionId: r.subscriptionId,
      customerId: r.customerId,
      planCode: r.plan.code,
      status: this.status(),
      startAt: r.startAt,
      trialEnd: r.trialEnd,
      currentPeriod: period ? { index: period.index, start: iso(period.start), end: iso(period.end) } : null,
      cancelAtPeriodEnd: this.endedAtPeriodEnd || r.scheduled.some((c) => c.kind === 'cancel' && c.atPeriodEnd),
      canceledAt: this.canceledAt,
      nextBillingAt,
      upcoming: this.upcoming(),
      stateVersion: r.stateVersion,
      plan: r.plan,
      quantity: r.quantity,
      overrides: r.overrides,
      scheduledChanges: [...r.scheduled].sort((a, b) => a.at.localeCompare(b.at)),
      pausedAt: r.pausedAt,
      latestInvoice: this.latestInvoice,
      periodBasis: basis ? { start: iso(basis.start), end: iso(basis.end) } : null,
      schedule: { anchor: r.segment.anchor, firstCycle: r.segment.firstCycle, zone: r.zone, alignment: r.alignment },
      billingError: this.billingError,
    };
  }

  /** The memo's one line for operators. */
  summary(state: SubscriptionState): string {
    const { plan } = this.record;
    const error = this.billingError;
    const next = state.upcoming[0];
    const what = `Subscription ${state.subscriptionId} of customer ${state.customerId} on plan ${plan.code} v${plan.version}: ${state.status}${error ? ` (${error.activity} failed: ${error.code}: ${error.message}; fix the cause, then signal retryBilling)` : ''}`;
    return next ? `${what}; next: ${next.event} at ${next.at}` : what;
  }
}
