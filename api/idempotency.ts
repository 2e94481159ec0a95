import { createHash, randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { NextFunction, Request, Response } from 'express';
import { BillingError } from '../domain/errors';
import { logger } from '../observability/logger';

/**
 * Stripe-style `Idempotency-Key` on POST, after Brandur Leach's "Implementing Stripe-like
 * Idempotency Keys in Postgres":
 * - The first request with a key claims it for a lease (`locked_until`) under a fresh token, and
 *   renews the lease while it runs. A retry while the lease is held gets 409 idempotency_key_in_use;
 *   once it has run out (the process died mid-request) a retry takes the key over.
 * - A handler's effect is one or more atomic phases (`atomicPhase`). Each phase records its recovery
 *   point and the data needed to carry on after it in the same transaction as its writes, fenced by
 *   the token: it commits with the effect or not at all, and only for the attempt holding the key.
 *   A retry of an unfinished request runs again and skips every phase an earlier attempt committed,
 *   getting that attempt's data instead, so an effect is never applied twice; the work after the
 *   last committed phase (a signal to Temporal, rendering the answer) is done again, and must
 *   therefore be safe to repeat.
 * - The response ends the request: stored with the key (a replay answers it with
 *   `Idempotent-Replayed: true`), unless it is a 5xx, which only releases the lease so that a retry
 *   may resume at once.
 * - The same key with another request (method, path or body) is refused (422).
 */

/** The Express setting (`app.set`) for how long an attempt holds its key between renewals, in ms. */
export const IDEMPOTENCY_LEASE_SETTING = 'idempotency lease ms';
export const DEFAULT_IDEMPOTENCY_LEASE_MS = 60_000;

/**
 * Records a phase as committed, with `data` (plain JSON: a retry gets it back parsed). Given the
 * transaction of the phase's writes, it is written inside it; given null, on its own, which is right
 * only for an effect that is itself idempotent on a key derived from the request (a Temporal
 * workflow id, a Stripe idempotency key) or that has no effect at all (values chosen once).
 */
export type RecordPhase<T> = (tx: EntityManager | null, data: T) => Promise<void>;

/** The attempt no longer holds its key (its lease ran out and a retry took over): nothing it wrote may commit. */
export class IdempotencyKeyLost extends BillingError {
  constructor(key: string) {
    super('conflict_error', 'idempotency_key_in_use', `The request with Idempotency-Key "${key}" took too long and is being retried by another request; retry shortly`);
  }
}

interface IdempotentAttempt {
  phase<T>(point: string, effect: (record: RecordPhase<T>) => Promise<unknown>): Promise<T>;
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Set on a POST carrying an Idempotency-Key, once it holds the key. */
    idempotency?: IdempotentAttempt;
  }
}

/**
 * Runs one atomic phase of the request's effect: `effect` must call `record` once, inside the
 * transaction of its writes (or alone, see RecordPhase), and the phase returns the data recorded.
 * If an earlier attempt with the same key committed this phase, `effect` is not run and that
 * attempt's data is returned. Without an Idempotency-Key the effect simply runs. A check that the
 * effect itself makes fail (a resource that "already exists") belongs inside `effect`, so that a
 * resumed attempt skips it with the rest.
 */
export async function atomicPhase<T>(req: Request, point: string, effect: (record: RecordPhase<T>) => Promise<unknown>): Promise<T> {
  if (req.idempotency) return req.idempotency.phase(point, effect);
  return runPhase(point, effect, async () => undefined, async () => undefined);
}

async function runPhase<T>(
  point: string,
  effect: (record: RecordPhase<T>) => Promise<unknown>,
  write: (tx: EntityManager | null, json: string) => Promise<void>,
  unrecorded: () => Promise<void>,
): Promise<T> {
  const recorded: { json?: string } = {};
  await effect(async (tx, data) => {
    const json = JSON.stringify(data);
    await write(tx, json);
    recorded.json = json;
  });
  if (recorded.json === undefined) {
    await unrecorded();
    throw new Error(`the effect of phase ${point} finished without recording it`);
  }
  // Parsed back, so a first attempt answers exactly what a resumed one would.
  return JSON.parse(recorded.json) as T;
}

const LEASE = `clock_timestamp() + ?::int * interval '1 millisecond'`;

class Attempt implements IdempotentAttempt {
  /** The last phase run was skipped: the effect the response describes was committed by an earlier attempt. */
  replayed = false;
  private renewal: NodeJS.Timeout | undefined;

  constructor(
    private readonly em: () => EntityManager,
    private readonly principal: string,
    private readonly key: string,
    private readonly token: string,
    private readonly leaseMs: number,
    private readonly recovered: Record<string, unknown>,
  ) {}

  async phase<T>(point: string, effect: (record: RecordPhase<T>) => Promise<unknown>): Promise<T> {
    if (Object.hasOwn(this.recovered, point)) {
      this.replayed = true;
      return this.recovered[point] as T;
    }
    this.replayed = false;
    const data = await runPhase<T>(
      point,
      effect,
      async (tx, json) => {
        const result = await (tx ?? this.em()).execute<{ affectedRows: number }>(
          `update idempotency_keys
              set recovery_point = ?, recovery_data = coalesce(recovery_data, '{}'::jsonb) || jsonb_build_object(?::text, ?::jsonb),
                  locked_until = ${LEASE}
            where principal = ? and key = ? and lease_token = ?`,
          [point, point, json, this.leaseMs, this.principal, this.key, this.token],
          'run',
        );
        if (result.affectedRows === 0) throw new IdempotencyKeyLost(this.key);
      },
      // A store finds the work of the attempt that took the key over and returns it without
      // recording anything: this attempt has lost the key, and says so.
      () => this.assertHeld(),
    );
    this.recovered[point] = data;
    return data;
  }

  private async assertHeld(): Promise<void> {
    const [row] = await this.em().execute<Array<{ held: boolean }>>(
      'select lease_token = ? as held from idempotency_keys where principal = ? and key = ?',
      [this.token, this.principal, this.key],
    );
    if (!row?.held) throw new IdempotencyKeyLost(this.key);
  }

  /** Renews the lease while the request runs; a process that dies stops renewing, and its lease runs out. */
  keepAlive(): void {
    this.renewal = setInterval(() => void this.renew(), Math.max(1, Math.floor(this.leaseMs / 3)));
    this.renewal.unref();
  }

  private async renew(): Promise<void> {
    try {
      const result = await this.em().execute<{ affectedRows: number }>(
        `update idempotency_keys set locked_until = ${LEASE} where principal = ? and key = ? and lease_token = ?`,
        [this.leaseMs, this.principal, this.key, this.token],
        'run',
      );
      if (result.affectedRows === 0) this.stop();
    } catch (error) {
      // The next renewal may succeed; if none does, the lease runs out and a retry takes over, which fencing makes safe.
      logger.error({ err: error, idempotencyKey: this.key }, 'renewing the lease of an Idempotency-Key failed');
    }
  }

  stop(): void {
    clearInterval(this.renewal);
  }

  /** Stores the answer; written only while the key is held, so an attempt that lost it leaves the new holder's record alone. */
  async finish(status: number, body: unknown): Promise<void> {
    await this.em().execute(
      `update idempotency_keys
          set status_code = ?, response_body = ?::jsonb, recovery_point = 'finished', recovery_data = null, lease_token = null, locked_until = null
        where principal = ? and key = ? and lease_token = ?`,
      [status, JSON.stringify(withoutSecret(body) ?? null), this.principal, this.key, this.token],
    );
  }

  /** Gives the key back without an answer: the phases committed stay, and a retry resumes after them. */
  async release(): Promise<void> {
    await this.em().execute('update idempotency_keys set lease_token = null, locked_until = null where principal = ? and key = ? and lease_token = ?', [
      this.principal,
      this.key,
      this.token,
    ]);
  }
}

/**
 * A secret an answer shows once (a new API key, a webhook signing secret) is never written down:
 * a replay answers the rest of the object without it.
 */
function withoutSecret(body: unknown): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body) || !('secret' in body)) return body;
  const rest: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  delete rest.secret;
  return rest;
}

function leaseOf(req: Request): number {
  const setting: unknown = req.app.get(IDEMPOTENCY_LEASE_SETTING);
  return typeof setting === 'number' && Number.isInteger(setting) && setting > 0 ? setting : DEFAULT_IDEMPOTENCY_LEASE_MS;
}

export function idempotency(em: () => EntityManager) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    const key = req.get('idempotency-key');
    if (req.method !== 'POST' || key === undefined) return next();
    if (key.length === 0 || key.length > 255) {
      throw new BillingError('invalid_request_error', 'idempotency_key_invalid', 'Idempotency-Key must be 1 to 255 characters', 'Idempotency-Key');
    }
    const principal = req.principal?.keyId ?? 'anonymous';
    const requestHash = createHash('sha256').update(`${req.method} ${req.originalUrl}\n${JSON.stringify(req.body ?? null)}`).digest('hex');
    const token = randomUUID();
    const leaseMs = leaseOf(req);
    // A new key, or an unfinished one for the same request whose lease has run out (or was released).
    const [claimed] = await em().execute<Array<{ recovery_data: Record<string, unknown> | null }>>(
      `insert into idempotency_keys (principal, key, method, path, request_hash, lease_token, locked_until)
       values (?, ?, ?, ?, ?, ?, ${LEASE})
       on conflict (principal, key) do update set lease_token = excluded.lease_token, locked_until = excluded.locked_until
        where idempotency_keys.request_hash = excluded.request_hash
          and idempotency_keys.status_code is null
          and (idempotency_keys.locked_until is null or idempotency_keys.locked_until <= clock_timestamp())
       returning recovery_data`,
      [principal, key, req.method, req.originalUrl, requestHash, token, leaseMs],
    );
    if (!claimed) {
      const [stored] = await em().execute<Array<{ request_hash: string; status_code: number | null; response_body: unknown }>>(
        'select request_hash, status_code, response_body from idempotency_keys where principal = ? and key = ?',
        [principal, key],
      );
      if (stored && stored.request_hash !== requestHash) {
        throw new BillingError('idempotency_error', 'idempotency_key_reused', `Idempotency-Key "${key}" was already used with a different request`, 'Idempotency-Key');
      }
      if (!stored || stored.status_code === null) {
        throw new BillingError('conflict_error', 'idempotency_key_in_use', `A request with Idempotency-Key "${key}" is still being processed; retry shortly`);
      }
      res.set('Idempotent-Replayed', 'true').status(stored.status_code).json(stored.response_body);
      return;
    }

    const attempt = new Attempt(em, principal, key, token, leaseMs, claimed.recovery_data ?? {});
    req.idempotency = attempt;
    attempt.keepAlive();
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      attempt.stop();
      const failed = res.statusCode >= 500;
      if (attempt.replayed && !failed) res.set('Idempotent-Replayed', 'true');
      // The response waits for the record, so a client that retries after it has the answer replays it.
      (failed ? attempt.release() : attempt.finish(res.statusCode, body)).then(
        () => json(body),
        (error: unknown) => {
          // The lease still runs out, and a retry then resumes after the phases committed.
          (req.log ?? logger).error({ requestId: req.requestId, err: error, idempotencyKey: key }, 'recording the outcome of an Idempotency-Key failed');
          json(body);
        },
      );
      return res;
    };
    next();
  };
}
