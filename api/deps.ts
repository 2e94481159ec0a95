import type { ApiKeySetting } from '../config/env';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Orm } from '../db/orm';
import type { StripeGateway } from '../payments/stripe-gateway';

export interface ApiDeps {
  orm: Orm;
  temporal: Client;
  taskQueue: string;
  apiKeys: ApiKeySetting[];
  /** Connections for usage ingestion (plain pg: one statement per batch); made from the ORM's URL when absent. */
  usagePool?: Pool;
  /** Card payments; null or absent when STRIPE_SECRET_KEY is not set. */
  stripe?: { gateway: StripeGateway; webhookSecret: string | null } | null;
}
