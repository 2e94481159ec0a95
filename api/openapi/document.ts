import { z } from 'zod';
import { OPERATIONS, type Operation } from './operations';
import { responseSchemas } from './responses';

/** An OpenAPI 3.1 document as plain JSON. */
export type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, Record<string, unknown>>>; components: { schemas: Record<string, unknown>; securitySchemes?: Record<string, unknown> } };

const REF = (id: string) => `#/components/schemas/${id}`;
const STATUS_TEXT: Record<number, string> = {
  400: 'The request is malformed or a parameter is invalid',
  401: 'No API key, or an unknown one',
  403: "The key's role may not do this",
  404: 'Nothing by that id or code',
  409: 'A conflict (the resource exists, or the same Idempotency-Key is in use) or a state that refuses the request',
  422: 'Well-formed, but the data cannot be accepted (an Idempotency-Key reused with another request, an amount the invoice cannot take)',
  413: 'The body is larger than the API reads (only ever answered to an authenticated request)',
  429: "Too many requests with this key: retry after the Retry-After header's seconds",
  502: 'Stripe did not answer; retry with the same Idempotency-Key',
};

/** zod's per-schema keys do not belong inside an OpenAPI document. */
function bare(schema: unknown): Record<string, unknown> {
  const rest = { ...(schema as Record<string, unknown>) };
  delete rest.$schema;
  delete rest.$id;
  return rest;
}

const pathParams = (path: string) => [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string', minLength: 1 } }));

/** A query schema's fields, each a parameter (the API reads flat, string-valued query strings). */
function queryParams(query: z.ZodObject) {
  const schema = bare(z.toJSONSchema(query, { target: 'draft-2020-12', io: 'input' })) as { properties: Record<string, unknown>; required?: string[] };
  return Object.entries(schema.properties).map(([name, s]) => ({ name, in: 'query', required: schema.required?.includes(name) ?? false, schema: s }));
}

const json = (schema: unknown, type = 'application/json') => ({ [type]: { schema } });

function operationObject(op: Operation, bodyIds: Map<z.ZodType, string>, responseIds: Map<z.ZodType, string>) {
  const responseId = responseIds.get(op.response.schema);
  if (!responseId) throw new Error(`${op.operationId}: its response schema is not registered in responseSchemas`);
  const writes = op.method !== 'get' && op.path.startsWith('/v1/') && op.path !== '/v1/usage_events';
  const bodyId = op.body ? bodyIds.get(op.body) : undefined;
  return {
    operationId: op.operationId,
    summary: op.summary,
    tags: [op.tag],
    ...(op.roles === 'public'
      ? { security: [] }
      : { 'x-roles': op.roles, description: `Roles: ${op.roles.join(', ')}.` }),
    parameters: [
      ...pathParams(op.path),
      ...(op.query ? queryParams(op.query) : []),
      ...(writes && op.method === 'post'
        ? [{ name: 'Idempotency-Key', in: 'header', required: false, description: 'A retry with the same key gets the first answer instead of acting twice', schema: { type: 'string', minLength: 1, maxLength: 255 } }]
        : []),
      ...(op.operationId === 'receiveStripeEvent' ? [{ name: 'Stripe-Signature', in: 'header', required: false, schema: { type: 'string' } }] : []),
    ],
    ...(bodyId ? { requestBody: { required: true, content: json({ $ref: REF(bodyId) }) } } : {}),
    ...(op.operationId === 'receiveStripeEvent' ? { requestBody: { required: true, content: json({ type: 'object', description: 'A Stripe event, signed' }) } } : {}),
    responses: {
      [op.response.status]: {
        description: 'OK',
        content: { ...json({ $ref: REF(responseId) }, op.contentType), ...Object.fromEntries((op.alsoAs ?? []).map((type) => [type, { schema: { type: 'string' } }])) },
      },
      ...Object.fromEntries(op.errors.map((status) => [status, { description: STATUS_TEXT[status] ?? 'Error', content: json({ $ref: REF('Error') }) }])),
      // Every keyed request is rate limited per key, and a body is read only after the key is checked.
      ...(op.roles === 'public' ? {} : { 429: { description: STATUS_TEXT[429], headers: { 'Retry-After': { schema: { type: 'integer' } } }, content: json({ $ref: REF('Error') }) } }),
      ...(op.roles !== 'public' && op.method !== 'get' ? { 413: { description: STATUS_TEXT[413], content: json({ $ref: REF('Error') }) } } : {}),
      // An error not listed (a 500 never should be) still has the one error shape.
      default: { description: 'Error', content: json({ $ref: REF('Error') }) },
    },
  };
}

/** Request bodies become components named after their operation: CreateCustomerRequest... */
const bodyName = (op: Operation) => `${op.operationId[0].toUpperCase()}${op.operationId.slice(1)}Request`;

/**
 * The OpenAPI 3.1 document, generated from OPERATIONS: request schemas as the routes validate them
 * (zod's input side: defaults optional, transforms as what they accept), responses as ./responses
 * describes them. Refinements written as code (a currency code, an exact timestamp) are not in it.
 */
export function openApiDocument(): OpenApiDocument {
  const requests = z.registry<{ id: string }>();
  const bodyIds = new Map<z.ZodType, string>();
  for (const op of OPERATIONS) {
    if (!op.body || bodyIds.has(op.body)) continue;
    bodyIds.set(op.body, bodyName(op));
    requests.add(op.body, { id: bodyName(op) });
  }
  const responseIds = new Map<z.ZodType, string>();
  for (const op of OPERATIONS) {
    const id = responseSchemas.get(op.response.schema)?.id;
    if (id) responseIds.set(op.response.schema, id);
  }
  const uri = REF;
  const requestComponents = z.toJSONSchema(requests, { target: 'draft-2020-12', io: 'input', uri }).schemas;
  const responseComponents = z.toJSONSchema(responseSchemas, { target: 'draft-2020-12', io: 'output', uri }).schemas;
  const paths: OpenApiDocument['paths'] = {};
  for (const op of OPERATIONS) (paths[op.path] ??= {})[op.method] = operationObject(op, bodyIds, responseIds);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Perennial billing API',
      version: '1',
      description:
        'Subscriptions and usage billing. Money is a decimal string in major units, times are ISO 8601, lists are { object: "list", data, has_more }, ' +
        'errors are { error: { type, code, message, param } }. Every key may read; writes name their roles. Generated from the zod schemas the API validates with.',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    tags: [...new Set(OPERATIONS.map((op) => op.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key: admin, support or readonly' } },
      schemas: Object.fromEntries([...Object.entries(requestComponents), ...Object.entries(responseComponents)].map(([id, s]) => [id, bare(s)])),
    },
  };
}
