import type { Client } from '@temporalio/client';
import type { Orm } from '../db/orm';

export interface ApiDeps {
  orm: Orm;
  temporal: Client;
  taskQueue: string;
  apiKeys: string;
}
