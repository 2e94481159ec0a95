import type { ApiKeySetting, RateLimits } from '../config/env';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Orm } from '../db/orm';
import type { Seller } from '../domain/invoice-document';
import type { Logger } from '../observability/logger';
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
  /** Where people reach this API (PUBLIC_URL): the base of portal links; http://localhost:<port> when absent. */
  publicUrl?: string;
  /** The Temporal Web UI (TEMPORAL_UI_URL) the console links each subscription's run to; no link when absent. */
  temporalUi?: { url: string; namespace: string } | null;
  /** Who issues the invoices (SELLER_* settings), printed on invoice PDFs; absent: left off the page. */
  seller?: Seller;
  /** PORTAL_PLAN_CODES: the plans a customer may move to from the portal; none when absent. */
  portalPlanCodes?: string[];
  /** Stripe.js for the portal's card form (STRIPE_JS_URL) and the publishable key it runs with (STRIPE_PUBLISHABLE_KEY). */
  stripeJs?: { url: string; publishableKey: string } | null;
  /** Where request and error lines go; the process's logger (observability/logger.ts) when absent. */
  logger?: Logger;
  /** METRICS_TOKEN: the bearer token GET /metrics asks for; open when absent. */
  metricsToken?: string | null;
  /** Requests a second per key (API_RATE_LIMIT, USAGE_RATE_LIMIT); config/env.ts DEFAULT_RATE_LIMITS when absent. */
  rateLimits?: RateLimits;
}
