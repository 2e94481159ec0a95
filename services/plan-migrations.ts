import type { EntityManager } from '@mikro-orm/postgresql';
import { QueryNotRegisteredError, WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { newId } from '../db/ids';
import { planSnapshot } from '../db/plan-snapshot';
import { startingProgress, type PlanMigrationInput, type PlanMigrationProgress } from '../domain/plan-migration';
import { PLAN_MIGRATION_WORKFLOW, planMigrationProgressQuery, planMigrationWorkflowId, type PlanMigrationWorkflow } from '../workflows/messages';
import type { Phase } from './phases';
import { Plan } from '../db/entities/plan';
import { Subscription } from '../db/entities/subscription';
import { BillingError } from '../domain/errors';
import type { InvoiceDraft } from '../domain/invoice';
import { contractOf, feeFor, invoiceScope, previewInvoice } from './preview-invoice';
import { liveState, nextPeriodOf } from './subscription-state';

export interface MigrationRequest {
  planCode: string;
  toVersion?: number;
  subscriptionIds?: string[];
}

/**
 * What a migration of `planCode` moves: the target version (default: the newest) and every
 * subscription on an older version that is not canceled (or those named, which must all be).
 */
export async function migrationScope(em: EntityManager, request: MigrationRequest) {
  const code = request.planCode;
  const versions = await em.find(Plan, { code }, { orderBy: { version: 'desc' } });
  if (versions.length === 0) throw new BillingError('not_found_error', 'resource_missing', `No such plan: '${code}'`, 'code');
  const target = request.toVersion === undefined ? versions[0] : versions.find((v) => v.version === request.toVersion);
  if (!target) throw new BillingError('invalid_request_error', 'resource_missing', `Plan ${code} has no version ${request.toVersion}`, 'to_version');
  const older = versions.filter((v) => v.id !== target.id);
  const subscriptions = await em.find(
    Subscription,
    { planId: older.map((v) => v.id), status: { $ne: 'canceled' }, ...(request.subscriptionIds ? { id: request.subscriptionIds } : {}) },
    { orderBy: { createdAt: 'asc', id: 'asc' } },
  );
  if (request.subscriptionIds) {
    const missing = request.subscriptionIds.find((id) => !subscriptions.some((s) => s.id === id));
    if (missing) throw new BillingError('invalid_request_error', 'resource_missing', `Subscription ${missing} is not on an older version of plan ${code} (or is canceled)`, 'subscription_ids');
  }
  return { target, versions, subscriptions };
}

export interface MigrationPreviewEntry {
  subscriptionId: string;
  fromVersion: number;
  toVersion: number;
  at: Date | null;
  currentInvoice: InvoiceDraft;
  newInvoice: InvoiceDraft;
}

/**
 * A dry run: per subscription, the next invoice on its current version and the same invoice on the
 * new version (this period's usage so far priced at the new version's prices, to show the
 * difference). Changes nothing.
 */
export async function previewPlanMigration(em: EntityManager, temporal: Client, request: MigrationRequest) {
  const { target, versions, subscriptions } = await migrationScope(em, request);
  const entries: MigrationPreviewEntry[] = [];
  for (const subscription of subscriptions) {
    const from = versions.find((v) => v.id === subscription.planId)!;
    const state = await liveState(temporal, subscription.workflowId);
    const next = state ? nextPeriodOf(state, from) : null;
    const now = new Date();
    // Seats and contract prices stay with the subscription across versions.
    const contract = contractOf(subscription, state);
    const invoiceOn = (version: Plan) =>
      previewInvoice(
        em,
        subscription,
        invoiceScope({
          fees: next ? [feeFor(version.id, next, next.start, next.end, contract.price)] : [],
          usage: { planId: version.id, from: subscription.usageClosedUntil, until: now, overrides: contract.overrides },
          wholePeriod: true,
          withCoupons: true,
          issue: { at: next?.start ?? now, renewal: next !== null },
        }),
      );
    entries.push({ subscriptionId: subscription.id, fromVersion: from.version, toVersion: target.version, at: next?.start ?? null, currentInvoice: await invoiceOn(from), newInvoice: await invoiceOn(target) });
  }
  return { target, entries };
}

/**
 * Starts a migration: a workflow of its own (workers run it a batch at a time), one per migration
 * id. The id is chosen once per Idempotency-Key, so a retried request finds the same migration; a
 * migration that ran before is never started again (its workflow id is not reused). Returns its
 * progress as the workflow answers it (or as it starts, when the workflow has not run yet).
 */
export async function startPlanMigration(deps: { em: EntityManager; temporal: Client; taskQueue: string }, request: MigrationRequest, phase: Phase): Promise<PlanMigrationProgress> {
  const { target, subscriptions } = await migrationScope(deps.em, request);
  const reserved = await phase<{ id: string; startedAt: string }>('plan_migration_reserved', (record) => record(null, { id: newId('pm'), startedAt: new Date().toISOString() }));
  const input: PlanMigrationInput = {
    migrationId: reserved.id,
    planCode: request.planCode,
    target: planSnapshot(target),
    subscriptionIds: request.subscriptionIds ?? null,
    total: subscriptions.length,
    startedAt: reserved.startedAt,
  };
  const workflowId = planMigrationWorkflowId(reserved.id);
  try {
    await deps.temporal.workflow.start<PlanMigrationWorkflow>(PLAN_MIGRATION_WORKFLOW, {
      workflowId,
      taskQueue: deps.taskQueue,
      args: [input],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      memo: { summary: `Migration ${reserved.id} of plan ${request.planCode} to version ${target.version} (${subscriptions.length} subscriptions)` },
    });
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
  return (await migrationProgress(deps.temporal, request.planCode, reserved.id)) ?? startingProgress(input);
}

/** How far a migration of `planCode` has got, asked of its workflow; null while it cannot answer yet. */
async function migrationProgress(temporal: Client, planCode: string, migrationId: string): Promise<PlanMigrationProgress | null> {
  try {
    const progress = await temporal.workflow.getHandle(planMigrationWorkflowId(migrationId)).query(planMigrationProgressQuery);
    return progress.planCode === planCode ? progress : null;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return null;
    // A workflow whose first task has not run yet has no handler to answer.
    if (error instanceof QueryNotRegisteredError) return null;
    throw error;
  }
}

/** A migration's progress, from its workflow: the subscriptions handled so far and what happened to each. */
export async function planMigrationOf(temporal: Client, planCode: string, migrationId: string): Promise<PlanMigrationProgress> {
  const progress = await migrationProgress(temporal, planCode, migrationId);
  if (!progress) throw new BillingError('not_found_error', 'resource_missing', `No such migration of plan ${planCode}: '${migrationId}'`, 'id');
  return progress;
}
