import { patched } from '@temporalio/workflow';
import { lifecycle } from './lifecycle';
import type { SubscriptionState } from '../domain/subscription';
import type { SubscriptionWorkflowInput } from './messages';
import { firstVersion } from './subscription-v1';

/**
 * Patch: runs started on the workflow's first version (no plan changes, pause or trial changes)
 * replay through it unchanged; every run started since (new subscriptions, and old ones at their
 * next renewal's continue-as-new) is the lifecycle workflow. The marker is the run's first command.
 */
const LIFECYCLE = 'subscription-lifecycle';

export async function subscriptionWorkflow(input: SubscriptionWorkflowInput): Promise<SubscriptionState> {
  if (patched(LIFECYCLE)) return lifecycle(input);
  return firstVersion(input);
}
