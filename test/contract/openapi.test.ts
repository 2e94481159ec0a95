import type { Client } from '@temporalio/client';
import type { Express } from 'express';
import type { Pool } from 'pg';
import { createApp } from '../../api/app';
import { openApiDocument } from '../../api/openapi/document';
import { OPERATIONS } from '../../api/openapi/operations';
import { customerJson } from '../../api/serializers';
import type { Orm } from '../../db/orm';
import { Customer } from '../../db/entities/customer';
import { listen } from '../support/http';
import { responseProblem } from './response-validator';

/**
 * The document against the app: every route the app mounts is an operation of the document and
 * every operation is a mounted route. (That real answers match it is checked on every answer the
 * integration tests receive: test/support/http.ts.)
 */

interface Layer {
  rawPath?: string | string[];
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
}

/** "METHOD /path/{param}" for every route mounted on the app, nested routers included. */
function mountedRoutes(app: Express): string[] {
  const found: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      const raw = typeof layer.rawPath === 'string' ? layer.rawPath : '';
      const here = `${prefix}${raw === '/' ? '' : raw}`;
      if (layer.route) {
        const path = `${prefix}${layer.route.path === '/' ? '' : layer.route.path}`.replace(/:(\w+)/g, '{$1}') || '/';
        for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') found.push(`${method.toUpperCase()} ${path}`);
      } else if (layer.handle.stack) walk(layer.handle.stack, here);
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return [...new Set(found)].sort();
}

/** The app as npm start builds it, on stand-ins: mounting routes opens no connection. */
const app = () =>
  createApp({ orm: {} as Orm, temporal: {} as Client, taskQueue: 'contract', apiKeys: [{ role: 'admin', key: 'sk_contract' }], usagePool: {} as Pool });

describe('the OpenAPI document', () => {
  it('lists every route the app mounts, and nothing it does not', () => {
    const documented = Object.entries(openApiDocument().paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    // The console's and the portal's pages are HTML for people, not operations of the API.
    const mounted = mountedRoutes(app()).filter((r) => !/^\w+ \/(console|portal)(\/|$)/.test(r));
    expect(mounted.length).toBeGreaterThan(30);
    expect({ missingFromDocument: mounted.filter((r) => !documented.includes(r)), notMounted: documented.filter((r) => !mounted.includes(r)) }).toEqual({
      missingFromDocument: [],
      notMounted: [],
    });
  });

  it('names each operation once, with a summary, a tag and its roles', () => {
    const ids = OPERATIONS.map((op) => op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const op of OPERATIONS) {
      expect(op.summary.length).toBeGreaterThan(0);
      expect(op.tag.length).toBeGreaterThan(0);
      expect(op.roles === 'public' || op.roles.length > 0).toBe(true);
    }
  });

  it('resolves every $ref it holds', () => {
    const document = openApiDocument();
    const refs = [...JSON.stringify(document).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
    expect(refs.filter((id) => !(id in document.components.schemas))).toEqual([]);
  });

  it('takes request bodies from the schemas the routes validate with (strict: an unknown field is refused)', () => {
    const create = openApiDocument().components.schemas.CreateCustomerRequest as { additionalProperties: boolean; required: string[] };
    expect(create.additionalProperties).toBe(false);
    expect(create.required.sort()).toEqual(['currency', 'email', 'name']);
  });

  it("fails an answer that drifts from the document: a serializer's field added, removed or retyped", () => {
    const customer = Object.assign(new Customer(), { id: 'cus_1', name: 'A', email: 'a@example.test', currency: 'USD', timezone: 'UTC', externalId: null, createdAt: new Date() });
    const answer = (body: unknown) => responseProblem({ method: 'GET', url: '/v1/customers/cus_1', status: 200, contentType: 'application/json; charset=utf-8', body });
    const body = customerJson(customer);
    expect(answer(body)).toBeNull();
    expect(answer({ ...body, nickname: 'a' })).toMatch(/nickname/);
    const withoutEmail: Partial<typeof body> = { ...body };
    delete withoutEmail.email;
    expect(answer(withoutEmail)).toMatch(/email/);
    expect(answer({ ...body, created_at: 1 })).toMatch(/created_at/);
    expect(responseProblem({ method: 'GET', url: '/v1/customers/cus_1', status: 201, contentType: 'application/json', body })).toMatch(/not declared/);
    expect(responseProblem({ method: 'GET', url: '/v1/nothing', status: 200, contentType: 'application/json', body: {} })).toMatch(/no such operation/);
  });

  describe('served', () => {
    let server: Awaited<ReturnType<typeof listen>>;
    beforeAll(async () => {
      server = await listen(app());
    });
    afterAll(async () => {
      await server?.close();
    });

    it('at GET /openapi.json without a key', async () => {
      const response = await fetch(`${server.baseUrl}/openapi.json`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
    });

    it('as a reference page at /docs whose assets come from the app itself, not a CDN', async () => {
      const page = await fetch(`${server.baseUrl}/docs`);
      expect(page.status).toBe(200);
      const html = await page.text();
      const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
      expect(assets.length).toBeGreaterThan(0);
      for (const asset of assets) {
        expect(asset.startsWith('/docs/')).toBe(true);
        expect((await fetch(`${server.baseUrl}${asset}`)).status).toBe(200);
      }
      expect(html).toContain("url: '/openapi.json'");
    });
  });
});
