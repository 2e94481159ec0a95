import { isWinAnsi, type Seller } from '../domain/invoice-document';
import { RECOGNITION_METHODS, type RecognitionMethod } from '../domain/revenue-recognition';
import type { Rate } from '../domain/token-bucket';
import { TASK_QUEUE } from '../workflows/messages';

/**
 * Every setting the processes read, parsed in one place: `api/server.ts` and `workers/main.ts` build
 * their dependencies from this and nothing else reads the environment. `npm start` fills it with
 * embedded defaults; in production it points at real services (see README). A setting that is given
 * but cannot be used (a malformed URL, a secret without the URL it belongs to, a placeholder key) is
 * refused here, all such problems at once, so the process stops before it serves anything.
 */
export interface StripeSettings {
  secretKey: string;
  /** Verifies POST /webhooks/stripe; without it that endpoint takes no events. */
  webhookSecret: string | null;
  /** Another Stripe endpoint, e.g. the project's emulator. */
  apiBase: string | null;
}

export interface SmtpSettings {
  url: string;
  from: string;
}

export interface ProvisioningSettings {
  url: string;
  secret: string;
}

export type Role = 'admin' | 'support' | 'readonly';
export const ROLES: readonly Role[] = ['admin', 'support', 'readonly'];

export interface ApiKeySetting {
  role: Role;
  key: string;
}

export interface RateLimits {
  /** API_RATE_LIMIT: every /v1 request but usage events. */
  api: Rate;
  /** USAGE_RATE_LIMIT: POST /v1/usage_events, whose producers send thousands of small requests a second. */
  usage: Rate;
}

/** Requests a second per key and per API process, one second of them as burst; generous enough for bench:ingest. */
export const DEFAULT_RATE_LIMITS: RateLimits = { api: { perSecond: 500, burst: 500 }, usage: { perSecond: 10_000, burst: 10_000 } };

export interface Config {
  /** The application's role: a member of perennial_app, which reads and writes rows and owns nothing. */
  databaseUrl: string;
  /** DATABASE_OWNER_URL: the role that owns the schema, used only to run migrations; null: DATABASE_URL's. */
  databaseOwnerUrl: string | null;
  temporalAddress: string;
  temporalNamespace: string;
  taskQueue: string;
  port: number;
  /** BILLING_API_KEYS, parsed; empty when unset (the API refuses to start without keys). */
  apiKeys: ApiKeySetting[];
  stripe: StripeSettings | null;
  smtp: SmtpSettings | null;
  provisioning: ProvisioningSettings | null;
  /**
   * Where a customer completes a payment that needs them (3-D Secure): a page of the application's
   * that confirms the PaymentIntent with Stripe.js. `{invoice_id}` and `{payment_intent}` are filled in.
   */
  customerPaymentUrl: string | null;
  /** REVENUE_RECOGNITION_METHOD: how fees billed in advance become revenue (domain/revenue-recognition.ts). */
  revenueRecognitionMethod: RecognitionMethod;
  /** PUBLIC_URL: where people reach the API, the console and the portal (portal links in e-mails start with it). */
  publicUrl: string;
  /** TEMPORAL_UI_URL: the Temporal Web UI, linked from the console's subscription pages; null: no link. */
  temporalUiUrl: string | null;
  /** SELLER_*: who issues the invoices, printed at the top of every invoice PDF; what is unset is left off. */
  seller: Seller;
  /** PORTAL_PLAN_CODES: the plans customers may move to from the portal (codes, comma-separated); empty: no plan change there. */
  portalPlanCodes: string[];
  /** STRIPE_JS_URL: where the portal's card form loads Stripe.js from (the emulator serves one at <emulator>/js.stripe.com/v3/). */
  stripeJsUrl: string;
  /** STRIPE_PUBLISHABLE_KEY: the pk_… key Stripe.js runs with; without it the portal takes no card. */
  stripePublishableKey: string | null;
  /** LOG_LEVEL: the least severe JSON log line the processes write (pino's levels); info when unset. */
  logLevel: LogLevel;
  /** METRICS_TOKEN: when set, GET /metrics asks for it as a bearer token; unset, the metrics are open. */
  metricsToken: string | null;
  /** WORKER_METRICS_ADDRESS: host:port where the worker serves its Temporal SDK metrics (GET /metrics); null: "off". */
  workerMetricsAddress: string | null;
  /** API_RATE_LIMIT, USAGE_RATE_LIMIT: requests a second per key, per API process (api/rate-limit.ts). */
  rateLimits: RateLimits;
  /** WORKER_*: how much a worker process takes on at once (workers/billing-worker.ts); unset values use WORKER_TUNING_DEFAULTS. */
  workerTuning: WorkerTuning;
}

/**
 * How many workflows a worker keeps in memory and how many tasks it runs at once. A subscription
 * sleeps for most of its life; a sleeping workflow costs the worker nothing unless it is cached, so
 * the cache, not the number of subscriptions, sets the worker's memory. An evicted workflow is
 * replayed from its history (short: one run per billing period) when it next wakes, for a renewal,
 * a support action or a read of its live state: the cache trades memory for replay CPU and latency.
 */
export interface WorkerTuning {
  /** WORKER_MAX_CACHED_WORKFLOWS; 0 turns the cache off (every task replays). */
  maxCachedWorkflows: number;
  /** WORKER_MAX_CONCURRENT_WORKFLOW_TASKS; at most the cache's size (unset: the default, or the cache's size if smaller). */
  maxConcurrentWorkflowTasks: number;
  /** WORKER_MAX_CONCURRENT_ACTIVITIES */
  maxConcurrentActivities: number;
  /** WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES */
  maxConcurrentLocalActivities: number;
}

/**
 * The cache is a fixed 1,000 rather than the SDK's default, which grows with the V8 heap limit
 * (with reuseV8Context, on by default in SDK 1.24: (heap limit in MiB - 200) x 600 / 1024, about
 * 2,300 workflows on a 4 GiB heap) and so with the machine rather than with what the worker may use.
 * Measured with `npm run bench:idle` (docs/operations.md, "Worker memory and cache"): a cached
 * subscription adds about 0.25 to 0.4 MiB to the worker's RSS over a start of about 330 MiB, and a
 * full cache of 1,000 held one worker at about 700 MiB with 4,000 subscriptions asleep, under the
 * 1 GiB a worker is given; more subscriptions do not add to it. A read of an evicted subscription's
 * live state costs a replay (tens of milliseconds). The concurrency figures are the
 * SDK's own defaults: sleeping subscriptions do not exercise them, a renewal storm does.
 */
export const WORKER_TUNING_DEFAULTS: WorkerTuning = {
  maxCachedWorkflows: 1000,
  maxConcurrentWorkflowTasks: 40,
  maxConcurrentActivities: 100,
  maxConcurrentLocalActivities: 100,
};

const WORKER_TUNING_VARS: Record<keyof WorkerTuning, string> = {
  maxCachedWorkflows: 'WORKER_MAX_CACHED_WORKFLOWS',
  maxConcurrentWorkflowTasks: 'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS',
  maxConcurrentActivities: 'WORKER_MAX_CONCURRENT_ACTIVITIES',
  maxConcurrentLocalActivities: 'WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES',
};

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where the worker's Prometheus exporter listens unless WORKER_METRICS_ADDRESS says otherwise. */
export const DEFAULT_WORKER_METRICS_ADDRESS = '127.0.0.1:9464';

/** Every variable loadConfig reads: what a caller starting the processes controls, and must not inherit by accident. */
export const SETTINGS = [
  'DATABASE_URL',
  'DATABASE_OWNER_URL',
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_TASK_QUEUE',
  'PORT',
  'BILLING_API_KEYS',
  'STRIPE_SECRET_KEY',
  'STRIPE_WEBHOOK_SECRET',
  'STRIPE_API_BASE',
  'SMTP_URL',
  'EMAIL_FROM',
  'PROVISIONING_WEBHOOK_URL',
  'PROVISIONING_WEBHOOK_SECRET',
  'CUSTOMER_PAYMENT_URL',
  'REVENUE_RECOGNITION_METHOD',
  'PUBLIC_URL',
  'TEMPORAL_UI_URL',
  'SELLER_NAME',
  'SELLER_ADDRESS',
  'SELLER_TAX_ID',
  'SELLER_EMAIL',
  'PORTAL_PLAN_CODES',
  'STRIPE_JS_URL',
  'STRIPE_PUBLISHABLE_KEY',
  'LOG_LEVEL',
  'METRICS_TOKEN',
  'WORKER_METRICS_ADDRESS',
  'API_RATE_LIMIT',
  'USAGE_RATE_LIMIT',
  ...Object.values(WORKER_TUNING_VARS),
] as const;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`the configuration cannot be used:\n${problems.map((p) => `  - ${p}`).join('\n')}\nSee README.md (Configuration) for every variable.`);
    this.name = 'ConfigError';
  }
}

/** Keys that example files and tutorials ship with; an API guarded by one is open to anyone. */
const PLACEHOLDER = /change-?me|changeme|placeholder|example|your[-_]?(api[-_]?)?key|^(secret|password|test|admin|default|x+)$/i;

/** The least a key must have to stand against guessing: a length, and an estimate of its randomness. */
export const MIN_API_KEY_LENGTH = 24;
export const MIN_API_KEY_BITS = 80;

/**
 * The key's Shannon entropy estimated from its own characters' frequencies, times its length: a
 * key of repeated or few characters scores low whatever its length. It is an upper bound (a word
 * scores as if its letters were random), so it refuses keys that are surely weak, and no more:
 * `openssl rand -hex 24` scores about 190 bits, `npm start`'s generated key about as much.
 */
export function estimatedKeyBits(key: string): number {
  const counts = new Map<string, number>();
  for (const c of key) counts.set(c, (counts.get(c) ?? 0) + 1);
  let perCharacter = 0;
  for (const n of counts.values()) perCharacter -= (n / key.length) * Math.log2(n / key.length);
  return perCharacter * key.length;
}

/** `role:key` pairs separated by commas, e.g. `admin:sk_live_x,readonly:sk_ro_y`. */
export function parseApiKeySpec(spec: string, problems: string[] = []): ApiKeySetting[] {
  const keys: ApiKeySetting[] = [];
  for (const pair of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const at = pair.indexOf(':');
    const role = pair.slice(0, at) as Role;
    const key = pair.slice(at + 1);
    if (at < 0 || !ROLES.includes(role) || key.length < 8) {
      problems.push(`BILLING_API_KEYS: "${pair.slice(0, at < 0 ? 12 : at)}..." must be role:key with role one of ${ROLES.join(', ')} and a key of 8+ characters`);
    } else if (PLACEHOLDER.test(key) || new Set(key).size < 4) {
      problems.push(`BILLING_API_KEYS: the ${role} key "${key}" is a placeholder; use a random key, e.g. ${role}:sk_${role}_$(openssl rand -hex 24)`);
    } else if (key.length < MIN_API_KEY_LENGTH || estimatedKeyBits(key) < MIN_API_KEY_BITS) {
      problems.push(
        `BILLING_API_KEYS: the ${role} key is too weak to guard the API (it needs ${MIN_API_KEY_LENGTH}+ characters and about ${MIN_API_KEY_BITS} bits of randomness); use a random key, e.g. ${role}:sk_${role}_$(openssl rand -hex 24)`,
      );
    } else {
      keys.push({ role, key });
    }
  }
  return keys;
}

function url(problems: string[], name: string, value: string, protocols: string[]): string {
  try {
    const parsed = new URL(value);
    if (!protocols.includes(parsed.protocol)) problems.push(`${name} must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL, got "${value}"`);
  } catch {
    problems.push(`${name} is not a URL: "${value}"`);
  }
  return value;
}

/** Empty strings count as unset, as shells and compose files often leave them. */
function read(env: NodeJS.ProcessEnv, name: string): string | null {
  const value = env[name]?.trim();
  return value ? value : null;
}

function stripeSettings(env: NodeJS.ProcessEnv, problems: string[]): StripeSettings | null {
  const secretKey = read(env, 'STRIPE_SECRET_KEY');
  const webhookSecret = read(env, 'STRIPE_WEBHOOK_SECRET');
  const apiBase = read(env, 'STRIPE_API_BASE');
  if (!secretKey) {
    for (const [name, value] of [['STRIPE_WEBHOOK_SECRET', webhookSecret], ['STRIPE_API_BASE', apiBase]] as const) {
      if (value) problems.push(`${name} is set but STRIPE_SECRET_KEY is not: card collection is off, so ${name} would be ignored`);
    }
    return null;
  }
  if (!/^(sk|rk)_(test|live)_\S+$/.test(secretKey)) problems.push('STRIPE_SECRET_KEY must be a Stripe secret or restricted key (sk_test_…, sk_live_…, rk_…)');
  if (webhookSecret && !/^whsec_\S+$/.test(webhookSecret)) problems.push('STRIPE_WEBHOOK_SECRET must be the signing secret of a Stripe webhook endpoint (whsec_…)');
  return { secretKey, webhookSecret, apiBase: apiBase && url(problems, 'STRIPE_API_BASE', apiBase, ['http:', 'https:']) };
}

function smtpSettings(env: NodeJS.ProcessEnv, problems: string[]): SmtpSettings | null {
  const smtp = read(env, 'SMTP_URL');
  const from = read(env, 'EMAIL_FROM');
  if (!smtp) {
    if (from) problems.push('EMAIL_FROM is set but SMTP_URL is not: no e-mail would be sent');
    return null;
  }
  url(problems, 'SMTP_URL', smtp, ['smtp:', 'smtps:']);
  if (!from) problems.push('EMAIL_FROM must be set when SMTP_URL is: it is the From address of every message');
  return from ? { url: smtp, from } : null;
}

function provisioningSettings(env: NodeJS.ProcessEnv, problems: string[]): ProvisioningSettings | null {
  const target = read(env, 'PROVISIONING_WEBHOOK_URL');
  const secret = read(env, 'PROVISIONING_WEBHOOK_SECRET');
  if (!target) {
    if (secret) problems.push('PROVISIONING_WEBHOOK_SECRET is set but PROVISIONING_WEBHOOK_URL is not');
    return null;
  }
  url(problems, 'PROVISIONING_WEBHOOK_URL', target, ['http:', 'https:']);
  if (!secret) problems.push('PROVISIONING_WEBHOOK_SECRET must be set with PROVISIONING_WEBHOOK_URL: receivers verify the signature with it');
  return secret ? { url: target, secret } : null;
}

/**
 * The seller printed on invoice PDFs. SELLER_ADDRESS holds its lines separated by "|" (or by a
 * literal \n, as .env files write a newline), e.g. "12 Harbour Street|Bristol BS1 4QA|United Kingdom".
 * Text the PDF's fonts cannot print (outside Windows-1252) is refused, so an invoice never shows "?"
 * in the seller's own name.
 */
function sellerSettings(env: NodeJS.ProcessEnv, problems: string[]): Seller {
  const name = read(env, 'SELLER_NAME');
  const address = read(env, 'SELLER_ADDRESS');
  const taxId = read(env, 'SELLER_TAX_ID');
  const email = read(env, 'SELLER_EMAIL');
  const addressLines = address ? address.split(/\||\\n|\n/).map((l) => l.trim()).filter(Boolean) : [];
  for (const [setting, value] of [['SELLER_NAME', name], ['SELLER_ADDRESS', addressLines.join(' ')], ['SELLER_TAX_ID', taxId], ['SELLER_EMAIL', email]] as const) {
    if (!value) continue;
    const unprintable = [...value].filter((c) => !isWinAnsi(c.codePointAt(0)!));
    if (unprintable.length > 0) problems.push(`${setting} has characters the invoice PDF's fonts cannot print (${[...new Set(unprintable)].join('')}); use Latin-1 (Windows-1252) text`);
    if (value.length > 200) problems.push(`${setting} is longer than 200 characters`);
  }
  if (addressLines.length > 6) problems.push(`SELLER_ADDRESS has ${addressLines.length} lines; at most 6 (separate them with "|")`);
  if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) problems.push(`SELLER_EMAIL is not an e-mail address: "${email}"`);
  return { name, addressLines, taxId, email };
}

/** Beyond this a setting is a typo, not a plan: no worker holds or runs a million of anything at once. */
const WORKER_TUNING_MAX = 1_000_000;

function workerTuningSettings(env: NodeJS.ProcessEnv, problems: string[]): WorkerTuning {
  const tuning = { ...WORKER_TUNING_DEFAULTS };
  const given = new Set<keyof WorkerTuning>();
  for (const [field, name] of Object.entries(WORKER_TUNING_VARS) as Array<[keyof WorkerTuning, string]>) {
    const text = read(env, name);
    if (text === null) continue;
    const value = Number(text);
    // The cache alone may be 0 (off: every task replays its workflow's history); the SDK turns 1 into 2 unasked.
    const least = field === 'maxCachedWorkflows' ? 0 : field === 'maxConcurrentWorkflowTasks' ? 2 : 1;
    if (!/^\d+$/.test(text) || value < least || value > WORKER_TUNING_MAX || (field === 'maxCachedWorkflows' && value === 1)) {
      const range = field === 'maxCachedWorkflows' ? '0 (no cache) or a whole number from 2' : `a whole number from ${least}`;
      problems.push(`${name} must be ${range} to ${WORKER_TUNING_MAX.toLocaleString('en')}, got "${text}"`);
    } else {
      tuning[field] = value;
      given.add(field);
    }
  }
  // Each workflow task runs on a cached workflow. A default follows a smaller cache; a given task
  // count that cannot take effect is refused (the SDK would lower it with only a log line).
  if (tuning.maxCachedWorkflows > 0 && tuning.maxConcurrentWorkflowTasks > tuning.maxCachedWorkflows && !given.has('maxConcurrentWorkflowTasks')) {
    tuning.maxConcurrentWorkflowTasks = tuning.maxCachedWorkflows;
  } else if (tuning.maxCachedWorkflows > 0 && tuning.maxConcurrentWorkflowTasks > tuning.maxCachedWorkflows) {
    problems.push(
      `WORKER_MAX_CONCURRENT_WORKFLOW_TASKS (${tuning.maxConcurrentWorkflowTasks}) cannot exceed WORKER_MAX_CACHED_WORKFLOWS (${tuning.maxCachedWorkflows}): each workflow task runs on a cached workflow; raise the cache, lower the tasks, or turn the cache off with 0`,
    );
  }
  return tuning;
}

function rateLimitSettings(env: NodeJS.ProcessEnv, problems: string[]): RateLimits {
  const rate = (name: string, fallback: Rate): Rate => {
    const given = read(env, name);
    if (given === null) return fallback;
    const perSecond = Number(given);
    if (!Number.isInteger(perSecond) || perSecond < 1) {
      problems.push(`${name} must be a whole number of requests a second per key, 1 or more, got "${given}"`);
      return fallback;
    }
    return { perSecond, burst: perSecond };
  };
  return { api: rate('API_RATE_LIMIT', DEFAULT_RATE_LIMITS.api), usage: rate('USAGE_RATE_LIMIT', DEFAULT_RATE_LIMITS.usage) };
}

/**
 * Logs, API metrics and the worker's SDK metrics. A METRICS_TOKEN is compared like a password, so a
 * short or placeholder one is refused as API keys are; the worker's address is host:port (or "off",
 * e.g. for a second worker on the same host).
 */
function observabilitySettings(env: NodeJS.ProcessEnv, problems: string[]): Pick<Config, 'logLevel' | 'metricsToken' | 'workerMetricsAddress'> {
  const level = (read(env, 'LOG_LEVEL') ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(level as LogLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  const metricsToken = read(env, 'METRICS_TOKEN');
  if (metricsToken && (metricsToken.length < 16 || PLACEHOLDER.test(metricsToken) || new Set(metricsToken).size < 8)) {
    problems.push('METRICS_TOKEN must be a random token of 16+ characters, e.g. $(openssl rand -hex 24)');
  }
  const address = read(env, 'WORKER_METRICS_ADDRESS') ?? DEFAULT_WORKER_METRICS_ADDRESS;
  const off = address.toLowerCase() === 'off';
  if (!off && !/^[^\s:/]+:\d{1,5}$/.test(address) && !/^\[[0-9a-f:]+\]:\d{1,5}$/i.test(address)) {
    problems.push(`WORKER_METRICS_ADDRESS must be host:port (e.g. 0.0.0.0:9464) or "off", got "${address}"`);
  }
  return { logLevel: level as LogLevel, metricsToken, workerMetricsAddress: off ? null : address };
}

/**
 * Parses the environment. `require` names what this process cannot run without (the API needs keys;
 * a deployment script may need neither a database nor keys).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, require: { database?: boolean; apiKeys?: boolean } = { database: true }): Config {
  const problems: string[] = [];
  const port = Number(env.PORT ?? 3000);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) problems.push(`PORT must be a TCP port number, got "${env.PORT}"`);
  const databaseUrl = read(env, 'DATABASE_URL');
  if (databaseUrl) url(problems, 'DATABASE_URL', databaseUrl, ['postgres:', 'postgresql:']);
  else if (require.database) problems.push('DATABASE_URL is not set; run "npm start" for the local stack');
  const databaseOwnerUrl = read(env, 'DATABASE_OWNER_URL');
  if (databaseOwnerUrl) url(problems, 'DATABASE_OWNER_URL', databaseOwnerUrl, ['postgres:', 'postgresql:']);
  const temporalAddress = read(env, 'TEMPORAL_ADDRESS') ?? 'localhost:7233';
  if (!/^[^\s:/]+:\d{1,5}$/.test(temporalAddress) && !/^\[[0-9a-f:]+\]:\d{1,5}$/i.test(temporalAddress)) {
    problems.push(`TEMPORAL_ADDRESS must be host:port, got "${temporalAddress}"`);
  }
  const keySpec = read(env, 'BILLING_API_KEYS');
  const apiKeys = keySpec ? parseApiKeySpec(keySpec, problems) : [];
  if (require.apiKeys && !keySpec) problems.push('BILLING_API_KEYS is not set: the API would accept no request');
  const customerPaymentUrl = read(env, 'CUSTOMER_PAYMENT_URL');
  if (customerPaymentUrl) url(problems, 'CUSTOMER_PAYMENT_URL', customerPaymentUrl.replaceAll(/\{[a-z_]+\}/g, 'x'), ['http:', 'https:']);
  const method = read(env, 'REVENUE_RECOGNITION_METHOD') ?? 'daily';
  if (!RECOGNITION_METHODS.includes(method as RecognitionMethod)) {
    problems.push(`REVENUE_RECOGNITION_METHOD must be one of ${RECOGNITION_METHODS.join(', ')} (by day, by the millisecond, monthly with the first and last months prorated), got "${method}"`);
  }
  // Only a given PUBLIC_URL is checked: the default is made from PORT, whose own problem is reported.
  const givenPublicUrl = read(env, 'PUBLIC_URL')?.replace(/\/+$/, '');
  if (givenPublicUrl) url(problems, 'PUBLIC_URL', givenPublicUrl, ['http:', 'https:']);
  const publicUrl = givenPublicUrl ?? `http://localhost:${port}`;
  const temporalUiUrl = read(env, 'TEMPORAL_UI_URL')?.replace(/\/+$/, '') ?? null;
  if (temporalUiUrl) url(problems, 'TEMPORAL_UI_URL', temporalUiUrl, ['http:', 'https:']);
  const portalPlanCodes = (read(env, 'PORTAL_PLAN_CODES') ?? '').split(',').map((c) => c.trim()).filter(Boolean);
  const stripeJsUrl = url(problems, 'STRIPE_JS_URL', read(env, 'STRIPE_JS_URL') ?? 'https://js.stripe.com/v3/', ['http:', 'https:']);
  const stripePublishableKey = read(env, 'STRIPE_PUBLISHABLE_KEY');
  if (stripePublishableKey && !/^pk_(test|live)_\S+$/.test(stripePublishableKey)) problems.push('STRIPE_PUBLISHABLE_KEY must be a Stripe publishable key (pk_test_…, pk_live_…)');
  const config: Config = {
    databaseUrl: databaseUrl ?? '',
    databaseOwnerUrl,
    temporalAddress,
    temporalNamespace: read(env, 'TEMPORAL_NAMESPACE') ?? 'default',
    taskQueue: read(env, 'TEMPORAL_TASK_QUEUE') ?? TASK_QUEUE,
    port,
    apiKeys,
    stripe: stripeSettings(env, problems),
    smtp: smtpSettings(env, problems),
    provisioning: provisioningSettings(env, problems),
    customerPaymentUrl,
    revenueRecognitionMethod: method as RecognitionMethod,
    publicUrl,
    temporalUiUrl,
    seller: sellerSettings(env, problems),
    portalPlanCodes,
    stripeJsUrl,
    stripePublishableKey,
    ...observabilitySettings(env, problems),
    rateLimits: rateLimitSettings(env, problems),
    workerTuning: workerTuningSettings(env, problems),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
