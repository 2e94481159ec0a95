import { ConfigError, loadConfig } from '../../config/env';
import { readableLogLine } from '../../observability/log-format';
import { routePattern } from '../../api/route-pattern';
import { createLogger } from '../../observability/logger';
import { withRequestId } from '../../observability/log-context';
import { MockActivityEnvironment } from '@temporalio/testing';

const BASE = { DATABASE_URL: 'postgres://app:secret@127.0.0.1:5432/perennial' };

function problems(env: NodeJS.ProcessEnv): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('log and metrics settings', () => {
  it('log at info, open metrics, and the worker exporter on loopback when nothing is set', () => {
    expect(loadConfig(BASE)).toMatchObject({ logLevel: 'info', metricsToken: null, workerMetricsAddress: '127.0.0.1:9464' });
  });

  it('takes a level, a metrics token and an exporter address, or "off"', () => {
    expect(loadConfig({ ...BASE, LOG_LEVEL: 'DEBUG', METRICS_TOKEN: '9f1c2a7be0d34c55a1e8', WORKER_METRICS_ADDRESS: '0.0.0.0:9500' })).toMatchObject({
      logLevel: 'debug',
      metricsToken: '9f1c2a7be0d34c55a1e8',
      workerMetricsAddress: '0.0.0.0:9500',
    });
    expect(loadConfig({ ...BASE, WORKER_METRICS_ADDRESS: 'off' }).workerMetricsAddress).toBeNull();
  });

  it('refuses an unknown level, a guessable metrics token and an address that is not host:port, all at once', () => {
    expect(problems({ ...BASE, LOG_LEVEL: 'verbose', METRICS_TOKEN: 'changeme', WORKER_METRICS_ADDRESS: 'http://0.0.0.0:9464' })).toEqual([
      expect.stringContaining('LOG_LEVEL must be one of'),
      expect.stringContaining('METRICS_TOKEN must be a random token'),
      expect.stringContaining('WORKER_METRICS_ADDRESS must be host:port'),
    ]);
    expect(problems({ ...BASE, METRICS_TOKEN: 'aaaaaaaaaaaaaaaaaaaa' })).toEqual([expect.stringContaining('METRICS_TOKEN')]);
  });
});

describe('a JSON log line on a terminal', () => {
  it('reads as time, level, message and fields, with an error stack below', () => {
    const line = JSON.stringify({ level: 'error', time: '2026-12-04T10:15:02.114Z', pid: 1, hostname: 'h', name: 'api', requestId: 'req_1', route: '/v1/customers/:id', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' }, msg: 'GET /v1/customers/:id failed' });
    expect(readableLogLine(line)).toBe('10:15:02 ERROR GET /v1/customers/:id failed  requestId=req_1 route=/v1/customers/:id err=boom\nError: boom\n    at x');
  });

  it('passes through what is not one of its JSON lines', () => {
    expect(readableLogLine('api failed to start: the configuration cannot be used:')).toBe('api failed to start: the configuration cannot be used:');
    expect(readableLogLine('[1,2]')).toBe('[1,2]');
  });
});

describe('the route label', () => {
  it('is the documented pattern, the fixed segment winning over a parameter, and never an id', () => {
    expect(routePattern('GET', '/v1/customers/cus_123')).toBe('/v1/customers/:id');
    expect(routePattern('POST', '/v1/customers')).toBe('/v1/customers');
    expect(routePattern('HEAD', '/health')).toBe('/health');
    expect(routePattern('GET', '/portal/ps_secret_token/invoices')).toBe('/portal/*');
    expect(routePattern('GET', '/v1/customers/cus_1/nothing/here')).toBe('unmatched');
    expect(routePattern('DELETE', '/v1/customers')).toBe('unmatched');
  });
});

describe('the context of a log line', () => {
  it('carries the request id of the request being handled, through awaits, and nothing outside one', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    await withRequestId('req_abc', async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      log.warn('a store complains');
      log.info({ requestId: 'req_named' }, 'a line that names its own');
    });
    log.info('between requests');
    expect(lines.map((l) => [l.msg, l.requestId])).toEqual([
      ['a store complains', 'req_abc'],
      ['a line that names its own', 'req_named'],
      ['between requests', undefined],
    ]);
    expect(JSON.stringify(lines[1]).match(/requestId/g)).toHaveLength(1);
  });
});

describe('the context of a log line in an activity', () => {
  it("carries the activity's workflowId, runId and activity, so a store's warning inside it can be traced to its run", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = createLogger({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const env = new MockActivityEnvironment({ workflowExecution: { workflowId: 'subscription-sub_1', runId: 'run-1' }, activityId: '7', activityType: 'chargeInvoice' });
    await env.run(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      log.warn('refund is still pending');
    });
    expect(lines[0]).toMatchObject({ msg: 'refund is still pending', workflowId: 'subscription-sub_1', runId: 'run-1', activityId: '7', activityType: 'chargeInvoice' });
  });
});
