import { ConfigError, loadConfig, WORKER_TUNING_DEFAULTS } from '../../config/env';

/**
 * Every setting is read in config/env.ts; what is given but cannot be used stops the process there,
 * with every problem named at once, before anything is started.
 */
const BASE = { DATABASE_URL: 'postgres://app:secret@127.0.0.1:5432/perennial' };

function problems(env: NodeJS.ProcessEnv, require?: { database?: boolean; apiKeys?: boolean }): string[] {
  try {
    loadConfig(env, require);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('configuration', () => {
  it('builds Stripe, SMTP and provisioning settings from the environment, the same for the API and the worker', () => {
    const config = loadConfig({
      ...BASE,
      BILLING_API_KEYS: 'admin:sk_admin_3f9a8c1d7e2b5a6f04d1c9e8,readonly:sk_ro_91b2c3d4e5f6a7b8c9d0e1f2',
      STRIPE_SECRET_KEY: 'sk_test_51Habc',
      STRIPE_WEBHOOK_SECRET: 'whsec_abc123',
      STRIPE_API_BASE: 'http://127.0.0.1:8420',
      SMTP_URL: 'smtp://mail.example.test:587',
      EMAIL_FROM: 'Billing <billing@example.test>',
      PROVISIONING_WEBHOOK_URL: 'https://app.example.test/hooks/billing',
      PROVISIONING_WEBHOOK_SECRET: 'prov_secret',
      CUSTOMER_PAYMENT_URL: 'https://app.example.test/pay/{invoice_id}',
    });
    expect(config).toMatchObject({
      apiKeys: [
        { role: 'admin', key: 'sk_admin_3f9a8c1d7e2b5a6f04d1c9e8' },
        { role: 'readonly', key: 'sk_ro_91b2c3d4e5f6a7b8c9d0e1f2' },
      ],
      stripe: { secretKey: 'sk_test_51Habc', webhookSecret: 'whsec_abc123', apiBase: 'http://127.0.0.1:8420' },
      smtp: { url: 'smtp://mail.example.test:587', from: 'Billing <billing@example.test>' },
      provisioning: { url: 'https://app.example.test/hooks/billing', secret: 'prov_secret' },
      customerPaymentUrl: 'https://app.example.test/pay/{invoice_id}',
    });
  });

  it('leaves what is not set off: no Stripe, no SMTP, no provisioning', () => {
    expect(loadConfig(BASE)).toMatchObject({ stripe: null, smtp: null, provisioning: null, customerPaymentUrl: null, databaseOwnerUrl: null });
  });

  it.each(['admin:change-me', 'admin:changeme1', 'admin:your-api-key', 'admin:placeholder', 'support:xxxxxxxxxx', 'admin:password', 'admin:aaaaaaaaaaaa'])(
    'refuses the placeholder key %s',
    (keys) => {
      expect(problems({ ...BASE, BILLING_API_KEYS: keys })).toEqual([expect.stringMatching(/placeholder|role:key/)]);
    },
  );

  it.each([
    ['too short', 'sk_3f9a8c1d7e2b'],
    ['long but of few characters', 'sk_abababababababababababababababab'],
    ['long but one character repeated', 'sk_0000000000000000000000000000000001'],
  ])('refuses a weak key (%s) without printing it', (_why, key) => {
    const found = problems({ ...BASE, BILLING_API_KEYS: `admin:${key}` });
    expect(found).toEqual([expect.stringMatching(/^BILLING_API_KEYS: the admin key is too weak/)]);
    expect(found[0]).not.toContain(key);
  });

  it("accepts keys as npm start and the repository's tests make them", () => {
    const generated = `sk_admin_${'0123456789abcdef'.repeat(3).slice(0, 36)}`;
    expect(loadConfig({ ...BASE, BILLING_API_KEYS: `admin:${generated},support:sk_test_integration_support` }).apiKeys).toHaveLength(2);
  });

  it('recognises revenue by day unless REVENUE_RECOGNITION_METHOD says millisecond or monthly, and refuses anything else', () => {
    expect(loadConfig(BASE).revenueRecognitionMethod).toBe('daily');
    expect(loadConfig({ ...BASE, REVENUE_RECOGNITION_METHOD: 'monthly' }).revenueRecognitionMethod).toBe('monthly');
    expect(loadConfig({ ...BASE, REVENUE_RECOGNITION_METHOD: 'millisecond' }).revenueRecognitionMethod).toBe('millisecond');
    expect(problems({ ...BASE, REVENUE_RECOGNITION_METHOD: 'weekly' })).toEqual([
      'REVENUE_RECOGNITION_METHOD must be one of daily, millisecond, monthly (by day, by the millisecond, monthly with the first and last months prorated), got "weekly"',
    ]);
  });

  it('makes portal links from PUBLIC_URL (PORT on localhost when absent) and links the Temporal UI only when told where it is', () => {
    expect(loadConfig({ ...BASE, PORT: '4100' })).toMatchObject({ publicUrl: 'http://localhost:4100', temporalUiUrl: null });
    expect(loadConfig({ ...BASE, PUBLIC_URL: 'https://billing.example.test/', TEMPORAL_UI_URL: 'http://temporal-ui:8080/' })).toMatchObject({
      publicUrl: 'https://billing.example.test',
      temporalUiUrl: 'http://temporal-ui:8080',
    });
    expect(problems({ ...BASE, PUBLIC_URL: 'billing.example.test', TEMPORAL_UI_URL: 'ftp://ui' })).toEqual([
      'PUBLIC_URL is not a URL: "billing.example.test"',
      'TEMPORAL_UI_URL must be a http:// or https:// URL, got "ftp://ui"',
    ]);
  });

  it('names every problem at once', () => {
    const found = problems({
      DATABASE_URL: 'mysql://db/perennial',
      BILLING_API_KEYS: 'owner:sk_owner_1234567',
      STRIPE_WEBHOOK_SECRET: 'whsec_abc',
      SMTP_URL: 'smtp://mail.example.test',
      PROVISIONING_WEBHOOK_URL: 'not a url',
      TEMPORAL_ADDRESS: 'temporal',
      PORT: '70000',
    });
    expect(found).toEqual([
      'PORT must be a TCP port number, got "70000"',
      'DATABASE_URL must be a postgres:// or postgresql:// URL, got "mysql://db/perennial"',
      'TEMPORAL_ADDRESS must be host:port, got "temporal"',
      expect.stringMatching(/^BILLING_API_KEYS: "owner\.\.\." must be role:key/),
      'STRIPE_WEBHOOK_SECRET is set but STRIPE_SECRET_KEY is not: card collection is off, so STRIPE_WEBHOOK_SECRET would be ignored',
      'EMAIL_FROM must be set when SMTP_URL is: it is the From address of every message',
      'PROVISIONING_WEBHOOK_URL is not a URL: "not a url"',
      'PROVISIONING_WEBHOOK_SECRET must be set with PROVISIONING_WEBHOOK_URL: receivers verify the signature with it',
    ]);
  });

  it('refuses a Stripe key or webhook secret that is not one', () => {
    expect(problems({ ...BASE, STRIPE_SECRET_KEY: 'pk_test_123', STRIPE_WEBHOOK_SECRET: 'secret' })).toEqual([
      'STRIPE_SECRET_KEY must be a Stripe secret or restricted key (sk_test_…, sk_live_…, rk_…)',
      'STRIPE_WEBHOOK_SECRET must be the signing secret of a Stripe webhook endpoint (whsec_…)',
    ]);
  });

  it('needs a database and, for the API, keys', () => {
    expect(problems({})).toEqual(['DATABASE_URL is not set; run "npm start" for the local stack']);
    expect(problems(BASE, { database: true, apiKeys: true })).toEqual(['BILLING_API_KEYS is not set: the API would accept no request']);
    expect(problems({}, { database: false })).toEqual([]);
  });
  it('tunes the worker with the measured defaults unless WORKER_* settings say otherwise', () => {
    expect(loadConfig(BASE).workerTuning).toEqual(WORKER_TUNING_DEFAULTS);
    expect(
      loadConfig({
        ...BASE,
        WORKER_MAX_CACHED_WORKFLOWS: '5000',
        WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '20',
        WORKER_MAX_CONCURRENT_ACTIVITIES: '50',
        WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES: ' 10 ',
      }).workerTuning,
    ).toEqual({ maxCachedWorkflows: 5000, maxConcurrentWorkflowTasks: 20, maxConcurrentActivities: 50, maxConcurrentLocalActivities: 10 });
    // Empty counts as unset, as compose files leave it.
    expect(loadConfig({ ...BASE, WORKER_MAX_CACHED_WORKFLOWS: '' }).workerTuning.maxCachedWorkflows).toBe(WORKER_TUNING_DEFAULTS.maxCachedWorkflows);
  });

  it('turns the workflow cache off with WORKER_MAX_CACHED_WORKFLOWS=0, whatever the task concurrency', () => {
    expect(loadConfig({ ...BASE, WORKER_MAX_CACHED_WORKFLOWS: '0', WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '100' }).workerTuning).toMatchObject({ maxCachedWorkflows: 0, maxConcurrentWorkflowTasks: 100 });
  });

  it('refuses worker settings that are not whole numbers in range, naming the setting and what it takes', () => {
    expect(
      problems({
        ...BASE,
        WORKER_MAX_CACHED_WORKFLOWS: '1',
        WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '1',
        WORKER_MAX_CONCURRENT_ACTIVITIES: '0',
        WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES: '2.5',
      }),
    ).toEqual([
      'WORKER_MAX_CACHED_WORKFLOWS must be 0 (no cache) or a whole number from 2 to 1,000,000, got "1"',
      'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS must be a whole number from 2 to 1,000,000, got "1"',
      'WORKER_MAX_CONCURRENT_ACTIVITIES must be a whole number from 1 to 1,000,000, got "0"',
      'WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES must be a whole number from 1 to 1,000,000, got "2.5"',
    ]);
    expect(problems({ ...BASE, WORKER_MAX_CACHED_WORKFLOWS: '-5' })).toEqual(['WORKER_MAX_CACHED_WORKFLOWS must be 0 (no cache) or a whole number from 2 to 1,000,000, got "-5"']);
    expect(problems({ ...BASE, WORKER_MAX_CONCURRENT_ACTIVITIES: 'lots' })).toEqual(['WORKER_MAX_CONCURRENT_ACTIVITIES must be a whole number from 1 to 1,000,000, got "lots"']);
    expect(problems({ ...BASE, WORKER_MAX_CONCURRENT_ACTIVITIES: '99999999999999999999' })).toEqual([
      'WORKER_MAX_CONCURRENT_ACTIVITIES must be a whole number from 1 to 1,000,000, got "99999999999999999999"',
    ]);
  });

  it('runs no more workflow tasks at once than the cache holds: the default follows a smaller cache', () => {
    expect(loadConfig({ ...BASE, WORKER_MAX_CACHED_WORKFLOWS: '10' }).workerTuning).toMatchObject({ maxCachedWorkflows: 10, maxConcurrentWorkflowTasks: 10 });
  });

  it('refuses more concurrent workflow tasks than cached workflows, which the SDK would quietly lower', () => {
    expect(problems({ ...BASE, WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '2000' })).toEqual([
      'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS (2000) cannot exceed WORKER_MAX_CACHED_WORKFLOWS (1000): each workflow task runs on a cached workflow; raise the cache, lower the tasks, or turn the cache off with 0',
    ]);
    expect(problems({ ...BASE, WORKER_MAX_CACHED_WORKFLOWS: '10', WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: '20' })).toEqual([
      'WORKER_MAX_CONCURRENT_WORKFLOW_TASKS (20) cannot exceed WORKER_MAX_CACHED_WORKFLOWS (10): each workflow task runs on a cached workflow; raise the cache, lower the tasks, or turn the cache off with 0',
    ]);
  });
});
