import { status } from '@grpc/grpc-js';
import { Connection } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

/** `--search-attribute Name=Type` flags for `temporal server start-dev`. */
export function searchAttributeFlags(): string[] {
  return SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=${TypedSearchAttributes.toMetadataType(key.type)}`]);
}

const INDEXED_VALUE_TYPE: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  Keyword: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Datetime: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
};

/** Registers the custom search attributes on a server we did not start (a cluster or Temporal Cloud). */
export async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<string[]> {
  let registered: Record<string, unknown> = {};
  try {
    registered = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  } catch (error) {
    // The time-skipping test server implements adding search attributes but not listing them.
    if ((error as { code?: number }).code !== status.UNIMPLEMENTED) throw error;
  }
  const missing = SEARCH_ATTRIBUTES.filter((key) => !(key.name in registered));
  if (missing.length === 0) return [];
  const searchAttributes: Record<string, temporal.api.enums.v1.IndexedValueType> = {};
  for (const key of missing) searchAttributes[key.name] = INDEXED_VALUE_TYPE[TypedSearchAttributes.toMetadataType(key.type)];
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  return missing.map((key) => key.name);
}

/** Connects to `address`, registers what is missing, and says what it added. */
export async function registerSearchAttributesAt(address: string, namespace: string): Promise<string[]> {
  const connection = await Connection.connect({ address });
  try {
    return await ensureSearchAttributes(connection, namespace);
  } finally {
    await connection.close();
  }
}
