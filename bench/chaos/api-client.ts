import { perennialClient, type PerennialClient } from '../../client';

/**
 * The harness's client of the API: the typed client (client/index.ts) over a fetch that behaves as
 * a careful integration would. Every POST carries an Idempotency-Key (the callers pass one), and what
 * may not have been processed (no answer, a 5xx from a Postgres connection terminated under the
 * request, the same key still in use) is sent again with the same key until `deadlineMs` runs out.
 * Anything else (2xx, 4xx) is the answer.
 */
export class ChaosApi {
  /** Requests sent again after no answer, a 5xx or 409 idempotency_key_in_use. */
  retries = 0;
  readonly client: PerennialClient;

  constructor(
    base: string,
    key: string,
    private readonly deadlineMs = 180_000,
  ) {
    this.client = perennialClient(base, key, { fetch: (request) => this.send(request) });
  }

  private async send(request: Request): Promise<Response> {
    const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.text();
    const deadline = Date.now() + this.deadlineMs;
    let last = '';
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await fetch(request.url, { method: request.method, headers: request.headers, body, signal: AbortSignal.timeout(60_000) });
        const text = await response.text();
        const inUse = response.status === 409 && text.includes('"idempotency_key_in_use"');
        if (response.status < 500 && !inUse) return new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers });
        last = `HTTP ${response.status} ${text.slice(0, 300)}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline) throw new Error(`${request.method} ${new URL(request.url).pathname}: no usable answer within ${this.deadlineMs} ms; last: ${last}`);
      this.retries += 1;
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 200 * 2 ** attempt)));
    }
  }
}
