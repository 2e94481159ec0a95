import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { openApiDocument, type OpenApiDocument } from '../../api/openapi/document';

/**
 * Checks an answer of the API against the OpenAPI document: the operation must be in it, the
 * status must be one it declares (or an error, under `default`), and the body must validate
 * against that response's schema (Ajv, JSON Schema 2020-12, as OpenAPI 3.1). The integration
 * tests' client runs every answer through this, so a serializer that drifts from the document
 * fails the test that saw it.
 */
interface Route {
  method: string;
  pattern: RegExp;
  path: string;
  responses: Record<string, { content?: Record<string, { schema: { $ref: string } }> }>;
}

const DOC_ID = 'https://perennial.invalid/openapi.json';

let compiled: { routes: Route[]; validator(ref: string): ValidateFunction } | undefined;

function load(document: OpenApiDocument = openApiDocument()) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: DOC_ID, components: document.components });
  const cache = new Map<string, ValidateFunction>();
  const routes: Route[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    // A template's parameter matches one path segment; the rest is literal.
    const pattern = new RegExp(`^${path.split(/\{\w+\}/).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+')}/?$`);
    for (const [method, op] of Object.entries(item)) routes.push({ method: method.toUpperCase(), pattern, path, responses: op.responses as Route['responses'] });
  }
  return {
    routes,
    validator(ref: string): ValidateFunction {
      let v = cache.get(ref);
      if (!v) cache.set(ref, (v = ajv.compile({ $ref: `${DOC_ID}${ref}` })));
      return v;
    },
  };
}

/** What is wrong with an answer, or null when the document describes it. */
export function responseProblem(answer: { method: string; url: string; status: number; contentType: string | null; body: unknown }): string | null {
  compiled ??= load();
  const path = new URL(answer.url, 'http://localhost').pathname;
  const route = compiled.routes.find((r) => r.method === answer.method && r.pattern.test(path));
  const where = `${answer.method} ${path} -> ${answer.status}`;
  if (!route) {
    // Outside the document only errors may come back (route_missing, a method it does not serve).
    if (answer.status < 400) return `${where}: no such operation in the OpenAPI document`;
    return schemaProblem(where, '#/components/schemas/Error', answer.body);
  }
  const declared = route.responses[String(answer.status)] ?? (answer.status >= 400 ? route.responses.default : undefined);
  if (!declared) return `${where}: status ${answer.status} is not declared for ${answer.method} ${route.path}`;
  const contents = Object.entries(declared.content ?? {});
  if (contents.length === 0) return null;
  const [type, media] = contents.find(([t]) => answer.contentType?.startsWith(t)) ?? [];
  if (!type || !media) return `${where}: content type ${answer.contentType} where the document says ${contents.map(([t]) => t).join(' or ')}`;
  if (type !== 'application/json') return null;
  return schemaProblem(where, media.schema.$ref, answer.body);
}

function schemaProblem(where: string, ref: string, body: unknown): string | null {
  const validate = compiled!.validator(ref);
  if (validate(body)) return null;
  const errors = (validate.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`);
  return `${where}: the body does not match ${ref.replace('#/components/schemas/', '')}: ${errors.join('; ')}`;
}
