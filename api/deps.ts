import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Orm } from '../db/orm';

export interface ApiDeps {
  orm: Orm;
  temporal: Client;
  taskQueue: string;
  apiKeys: string;
  /** Connections for usage ingestion (plain pg: one statement per batch); made from the ORM's URL when absent. */
  usagePool?: Pool;
}
