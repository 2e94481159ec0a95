import { randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';

export type SigningSecretName = 'console_sessions' | 'portal_sessions';

/**
 * The named secret, made on first use: the first process to ask inserts 32 random bytes and every
 * other one (API replicas, the worker) reads the same row, whoever won the race.
 */
export async function signingSecret(em: EntityManager, name: SigningSecretName): Promise<Buffer> {
  const fork = em.fork();
  await fork.execute('insert into signing_secrets (name, secret) values (?, ?) on conflict (name) do nothing', [name, randomBytes(32)]);
  const [row] = await fork.execute<Array<{ secret: Buffer }>>('select secret from signing_secrets where name = ?', [name]);
  return row.secret;
}

/** A process asks Postgres once per secret; secrets are never rotated while it runs. */
export function cachedSigningSecret(em: () => EntityManager, name: SigningSecretName): () => Promise<Buffer> {
  let secret: Promise<Buffer> | null = null;
  return () => {
    secret ??= signingSecret(em(), name).catch((error: unknown) => {
      secret = null;
      throw error;
    });
    return secret;
  };
}
