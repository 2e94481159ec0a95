import { z } from 'zod';
import { ROLES } from '../../config/env';
import { responseSchemas } from './responses';

/** The answers of the API keys and audit log operations (api/serializers.ts apiKeyJson, auditEventJson). */

const timestamp = z.string().describe('ISO 8601');
const role = z.enum(ROLES as [string, ...string[]]);
const listOf = <T extends z.ZodType>(item: T) => z.strictObject({ object: z.literal('list'), url: z.string(), data: z.array(item), has_more: z.boolean() });

const apiKeyFields = {
  id: z.string().describe('key_…: the key id audit events and idempotency name it by'),
  object: z.literal('api_key'),
  name: z.string(),
  role,
  prefix: z.string().describe('The first characters of the key, to tell keys apart'),
  created_at: timestamp,
  last_used_at: timestamp.nullable().describe('Within a minute: it moves at most once a minute'),
  revoked_at: timestamp.nullable(),
};

export const ApiKey = z.strictObject(apiKeyFields).register(responseSchemas, { id: 'ApiKey' });

export const CreatedApiKey = z
  .strictObject({ ...apiKeyFields, secret: z.string().optional().describe('The key itself (sk_…): shown in this answer only, never again; absent from a replay under the same Idempotency-Key') })
  .register(responseSchemas, { id: 'CreatedApiKey' });

export const ApiKeyList = listOf(ApiKey).register(responseSchemas, { id: 'ApiKeyList' });

export const AuditEvent = z
  .strictObject({
    id: z.string(),
    object: z.literal('audit_event'),
    actor: z.strictObject({ key_id: z.string(), role }),
    method: z.string(),
    route: z.string().describe('The route pattern, e.g. "POST /v1/customers/:id"'),
    resource: z.strictObject({ type: z.string().nullable(), id: z.string().nullable() }),
    request_id: z.string(),
    idempotency_key: z.string().nullable(),
    before: z.unknown().describe('The resource as it was, for a change of an existing resource; null otherwise'),
    after: z.unknown().describe('The answer (secrets left out)'),
    created_at: timestamp,
  })
  .register(responseSchemas, { id: 'AuditEvent' });

export const AuditEventList = listOf(AuditEvent).register(responseSchemas, { id: 'AuditEventList' });
