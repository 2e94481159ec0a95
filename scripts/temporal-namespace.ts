import { status } from '@grpc/grpc-js';
import type { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';

/** How long a closed workflow's history stays readable on a namespace this project creates. */
export const NAMESPACE_RETENTION_DAYS = 3;

/**
 * Creates `namespace` on a self-hosted server where it does not exist yet (a fresh cluster has
 * none); true when it did. Where it exists (Temporal Cloud, an operator's own) nothing is asked, so
 * a login that may not create namespaces is fine.
 */
export async function ensureNamespace(connection: Connection, namespace: string): Promise<boolean> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return false;
  } catch (error) {
    if ((error as { code?: number }).code !== status.NOT_FOUND) throw error;
  }
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs(NAMESPACE_RETENTION_DAYS * 86_400_000) });
    return true;
  } catch (error) {
    // Another process (a second migrate job) created it in between.
    if ((error as { code?: number }).code === status.ALREADY_EXISTS) return false;
    throw error;
  }
}
