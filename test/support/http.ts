import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { perennialClient, type PerennialClient } from '../../client';
import { responseProblem } from '../contract/response-validator';

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
  /** The body as sent (a CSV export's bytes as text). */
  text?: string;
}

/**
 * A JSON client for the API as an application would use it: bearer key, JSON bodies. Every answer
 * is checked against the OpenAPI document (test/contract/response-validator.ts): one that the
 * document does not describe fails the test that received it.
 */
export function apiClient(baseUrl: string, key: string | null) {
  async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    // A file download (a CSV export) comes back as its text.
    const isJson = response.headers.get('content-type')?.startsWith('application/json') ?? true;
    const answer = { status: response.status, body: text && isJson ? JSON.parse(text) : text || null, headers: response.headers, text };
    const problem = responseProblem({ method, url: `${baseUrl}${path}`, status: answer.status, contentType: response.headers.get('content-type'), body: answer.body });
    if (problem) throw new Error(`The answer breaks the OpenAPI document: ${problem}\n${text.slice(0, 2000)}`);
    return answer;
  }
  return {
    get: (path: string) => call('GET', path),
    post: (path: string, body?: unknown, headers?: Record<string, string>) => call('POST', path, body ?? {}, headers),
    patch: (path: string, body?: unknown, headers?: Record<string, string>) => call('PATCH', path, body ?? {}, headers),
    delete: (path: string) => call('DELETE', path),
  };
}

export type ApiClient = ReturnType<typeof apiClient>;

/**
 * The typed client (client/index.ts) as the end-to-end tests use it: paths, bodies and answers are
 * checked by tsc against the generated types, and every answer against the document at run time.
 */
export function typedClient(baseUrl: string, key: string | null): PerennialClient {
  const client = perennialClient(baseUrl, key);
  client.use({
    async onResponse({ request, response }) {
      const text = await response.clone().text();
      let body: unknown = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = text;
      }
      const problem = responseProblem({ method: request.method, url: request.url, status: response.status, contentType: response.headers.get('content-type'), body });
      if (problem) throw new Error(`The answer breaks the OpenAPI document: ${problem}\n${text.slice(0, 2000)}`);
      return response;
    },
  });
  return client;
}

export async function listen(app: Express): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
