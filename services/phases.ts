import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * How a service makes its effect resumable under the request's Idempotency-Key (api/idempotency.ts):
 * `phase(point, effect)` runs `effect` unless an earlier attempt committed that point, and returns
 * the data recorded with it. `record` is called inside the transaction of the phase's writes (or
 * with null for an effect idempotent on its own key).
 */
export type RecordPhase<T> = (tx: EntityManager | null, data: T) => Promise<void>;
export type Phase = <T>(point: string, effect: (record: RecordPhase<T>) => Promise<unknown>) => Promise<T>;
