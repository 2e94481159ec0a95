import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { Orm } from '../db/orm';

export interface ApiDeps {
  orm: Orm;
  temporal: Client;
  taskQueue: string;
  apiKeys: string;
}

/** A fresh identity map per use: requests never share entity state. */
export const forkEm = (orm: Orm) => (): EntityManager => orm.em.fork() as EntityManager;
