export interface ApiAnswer {
  status: number;
  body: any;
}

/**
 * The harness's client of the API, as a careful integration would be: every POST carries an
 * Idempotency-Key, and what may not have been processed (no answer, a 5xx from a Postgres connection
 * terminated under the request, the same key still in use) is sent again with the same key until
 * `deadlineMs` runs out. Anything else (2xx, 4xx) is the answer.
 */
export class ChaosApi {
  /** Requests sent again after no answer, a 5xx or 409 idempotency_key_in_use. */
  retries = 0;

  constructor(
    private readonly base: string,
    private readonly key: string,
    private readonly deadlineMs = 180_000,
  ) {}

  get(path: string): Promise<ApiAnswer> {
    return this.send('GET', path, undefined, undefined);
  }

  post(path: string, body: unknown, idempotencyKey: string): Promise<ApiAnswer> {
    return this.send('POST', path, body, idempotencyKey);
  }

  private async send(method: string, path: string, body: unknown, idempotencyKey: string | undefined): Promise<ApiAnswer> {
    const deadline = Date.now() + this.deadlineMs;
    let last = '';
    for (let attempt = 0; ; attempt++) {
      try {
        const response = await fetch(`${this.base}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${this.key}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(60_000),
        });
        const text = await response.text();
        const parsed = text ? JSON.parse(text) : null;
        const inUse = response.status === 409 && parsed?.error?.code === 'idempotency_key_in_use';
        if (response.status < 500 && !inUse) return { status: response.status, body: parsed };
        last = `HTTP ${response.status} ${text.slice(0, 300)}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline) throw new Error(`${method} ${path}: no usable answer within ${this.deadlineMs} ms; last: ${last}`);
      this.retries += 1;
      await new Promise((resolve) => setTimeout(resolve, Math.min(2_000, 200 * 2 ** attempt)));
    }
  }
}
