import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isExecutable } from './is-executable';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { cacheDir } from './cache-dir';
import { withProgress } from './progress';
import { runLogged, whichCommand } from './run-command';
import { startService, type ServiceProcess } from './service-process';
import { freePort, waitForPort } from './wait-for-port';

/**
 * localstripe (https://github.com/adrienverge/localstripe, PyPI), a stateful Stripe emulator the tests
 * and the local stack talk to over HTTP with the official SDK. It is installed from PyPI into a Python
 * venv of its own, cached per version like the other tools, behind a small executable script. Clients
 * reach it through a front (startStripeFront) that adds what localstripe lacks and the billing code's
 * safety rests on, Stripe's idempotency, and lets tests inject faults.
 */
export const LOCALSTRIPE_VERSION = '1.15.10';

/**
 * Every package of the venv, pinned: localstripe declares open ranges (aiohttp >=2.3.2), so these are
 * the versions it was checked with on Python 3.11. Changing a pin reinstalls the venv.
 */
const REQUIREMENTS = [
  `localstripe==${LOCALSTRIPE_VERSION}`,
  'aiohttp==3.14.5',
  'aiohappyeyeballs==2.7.1',
  'aiosignal==1.4.0',
  'attrs==26.1.0',
  'frozenlist==1.8.0',
  'idna==3.20',
  'multidict==7.2.1',
  'propcache==0.5.4',
  'python-dateutil==4.0.0',
  'typing_extensions==4.16.0',
  'tzdata==2026.6',
  'yarl==1.25.1',
];

/**
 * The `localstripe` command: LOCALSTRIPE_PATH when set, otherwise a script in the cache that runs
 * the pinned localstripe from its venv, which the first call creates with pip (needs python3 with
 * the venv module, and PyPI).
 */
export async function ensureLocalstripe(): Promise<string> {
  const explicit = process.env.LOCALSTRIPE_PATH;
  if (explicit) {
    if (await isExecutable(explicit)) return explicit;
    throw new Error(`LOCALSTRIPE_PATH=${explicit} is not an executable file`);
  }
  const dir = cacheDir('localstripe', LOCALSTRIPE_VERSION);
  const script = join(dir, 'localstripe');
  const pins = `# requirements: ${REQUIREMENTS.join(' ')}`;
  if ((await isExecutable(script)) && (await readFile(script, 'utf8')).includes(pins)) return script;

  const python = (await whichCommand('python3')) ?? (await whichCommand('python'));
  if (!python) throw new Error('The Stripe emulator (localstripe) needs Python 3.9+ on PATH (python3), or LOCALSTRIPE_PATH');
  await mkdir(dir, { recursive: true });
  const logFile = join(dir, 'pip.log');
  // Built aside and renamed into place, so a concurrent run sees either no venv or a complete one.
  // A moved venv still works when run as `<venv>/bin/python -m`, which is all the script does.
  const staging = join(dir, `venv-${process.pid}`);
  const venv = join(dir, 'venv');
  try {
    await rm(staging, { recursive: true, force: true });
    await withProgress(`Installing localstripe ${LOCALSTRIPE_VERSION} from PyPI into a venv (first run only; log: ${logFile})`, async () => {
      await runLogged(python, ['-m', 'venv', staging], { logFile }).catch((error: Error) => {
        throw new Error(`could not create a Python venv (on Debian: apt-get install python3-venv)\n${error.message}`);
      });
      await runLogged(join(staging, 'bin', 'python'), ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', ...REQUIREMENTS], {
        logFile,
      });
    });
    await rm(venv, { recursive: true, force: true });
    await rename(staging, venv);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  const body = `#!/bin/sh\n# localstripe ${LOCALSTRIPE_VERSION}, usage: localstripe --port <port> [--from-scratch]\n${pins}\nexec '${join(venv, 'bin', 'python')}' -m localstripe "$@"\n`;
  await writeFile(`${script}.tmp`, body);
  await chmod(`${script}.tmp`, 0o755);
  await rename(`${script}.tmp`, script);
  return script;
}

/*
 * What localstripe 1.15.10 does with the calls collection relies on (read from its resources.py and
 * server.py, and pinned by test/integration/stripe-emulator.test.ts), so a test knows what it can ask:
 *
 * - PaymentIntent states: requires_payment_method (no payment method, a declined charge, a failed
 *   authentication), requires_confirmation, requires_action (3-D Secure), requires_capture
 *   (capture_method=manual, charge authorized), succeeded, canceled. `processing` only while a
 *   declined SEPA debit waits its 0.5 s; a card never passes through it.
 * - 3-D Secure: 4000002500003155, 4000002760003184, 4000000000003220 and 4000000000003063 ask for
 *   authentication; 4000008260003178 and 4000008400001629 ask for it and then decline the charge.
 *   Confirming leaves the intent requires_action (next_action use_stripe_sdk), with no error, even
 *   off session (Stripe would answer 402 authentication_required there). The authentication is
 *   completed or failed by localstripe's own route
 *     POST /v1/payment_intents/{id}/_authenticate   client_secret=<intent.client_secret>&success=true|false
 *   (form or JSON; the secret key, or key=pk_… in the body; any other parameter is a 400; a wrong
 *   client_secret is a 401; an intent not in requires_action is a 400). success=true charges the card:
 *   the intent becomes succeeded and payment_intent.succeeded goes to every registered webhook about a
 *   second later, as for an immediate charge (with capture_method=manual: requires_capture, and the
 *   event waits for the capture). success=false leaves requires_payment_method with last_payment_error
 *   payment_intent_authentication_failure, the payment method removed, and no event at all.
 * - Declines carry code card_declined and never a decline_code. 4000000000000002, …9995, …9987,
 *   …9979, …0069, …0127, …0119 and 4242424242424241 are declined when attached to a customer (402),
 *   not when charged unattached; 4000000000000341 (pm_card_chargeCustomerFail) attaches and its
 *   charge is declined: a 402 naming the charge (no payment_intent in the error), the intent left
 *   requires_payment_method, payment_intent.payment_failed sent. 4100000000000019 is an ordinary card.
 * - paymentIntents.retrieve works; list takes no filter (list({customer}) is a 400 "Unexpected
 *   customer", so the front answers that one itself: listIntentsOfCustomer); search is a 404; cancel takes no parameter (cancellation_reason is a 400) and works from
 *   requires_payment_method, requires_confirmation, requires_action and requires_capture, without an
 *   event; capture takes amount_to_capture (a partial capture refunds the rest) and sends
 *   payment_intent.succeeded; refunds.create({payment_intent, amount}) works on any intent with a
 *   charge that did not fail (an uncaptured one included), with no limit on the amount, and on an
 *   intent without a charge (requires_action) localstripe crashes: a plain-text 500, which the front
 *   passes on as Stripe's JSON api_error.
 * - Events: customer.*, payment_intent.succeeded and payment_intent.payment_failed, invoice.*,
 *   customer.subscription.*; none for charges, refunds, or created/canceled/requires_action intents.
 */

/**
 * Stripe's idempotency, which localstripe lacks (it runs every request again). As Stripe documents it
 * (https://docs.stripe.com/api/idempotent_requests): the first POST with a key runs and its status
 * and body are saved once the endpoint has begun, 500s included; a retry with the same parameters gets
 * the saved answer, with Idempotent-Replayed: true; other parameters, or another endpoint, are a 400
 * idempotency_error; a retry while the first is still running is a 409; a request refused before the
 * endpoint ran is not saved, so it may be retried. The SDK (stripe-node) raises StripeIdempotencyError
 * for the 400; the 409 (type idempotency_error, code idempotency_key_in_use) it retries while it has
 * retries left, then raises as a StripeAPIError. Keys are forgotten once at least `ttlMs` old (24 h
 * at Stripe), after which the same key runs as a new request. Keys belong to one API key (and
 * Stripe-Account), as they belong to one account at Stripe.
 */
export const STRIPE_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

/** What Stripe sent for a request, kept under its key. */
export interface SavedAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  requestId: string;
}

interface KeyEntry {
  endpoint: string;
  params: string;
  startedAt: number;
  answer: SavedAnswer | null;
}

export type KeyOutcome =
  | { kind: 'run'; finish(answer: SavedAnswer | null): void }
  | { kind: 'replay'; answer: SavedAnswer }
  | { kind: 'mismatch'; message: string }
  | { kind: 'conflict'; message: string };

export class IdempotencyKeys {
  private readonly entries = new Map<string, KeyEntry>();

  constructor(
    /** How long a key is remembered (Stripe: at least 24 hours); tests shorten it. */
    public ttlMs: number = STRIPE_IDEMPOTENCY_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Claims `key` for a request to `endpoint` (method and path) with `params` (canonical form), or says
   * why it cannot run. A claim that `run`s must be finished: with the answer to save, or null when
   * the request never reached the endpoint, which frees the key.
   */
  begin(scope: string, key: string, endpoint: string, params: string): KeyOutcome {
    this.forgetExpired();
    const id = `${scope}\u0000${key}`;
    let known = this.entries.get(id);
    if (known?.answer && this.now() - known.startedAt >= this.ttlMs) {
      this.entries.delete(id);
      known = undefined;
    }
    if (known) {
      if (known.endpoint !== endpoint) {
        const [first, now] = [known.endpoint, endpoint].map((e) => e.slice(e.indexOf(' ') + 1));
        return {
          kind: 'mismatch',
          message: `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${first}' vs '${now}'). Try using a key other than '${key}' if you meant to execute a different request.`,
        };
      }
      if (known.params !== params) {
        return {
          kind: 'mismatch',
          message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        };
      }
      if (known.answer) return { kind: 'replay', answer: known.answer };
      return {
        kind: 'conflict',
        message: `There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`,
      };
    }
    const entry: KeyEntry = { endpoint, params, startedAt: this.now(), answer: null };
    this.entries.set(id, entry);
    return {
      kind: 'run',
      finish: (answer) => {
        if (this.entries.get(id) !== entry) return;
        if (answer) entry.answer = answer;
        else this.entries.delete(id);
      },
    };
  }

  /** Forgets every key (with localstripe's data: a saved answer would name objects that are gone). */
  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }

  private forgetExpired(): void {
    const now = this.now();
    // Entries are in the order they began, so the scan stops at the first one still young.
    for (const [id, entry] of this.entries) {
      if (now - entry.startedAt < this.ttlMs) break;
      // A request still running keeps its key: its answer is yet to be saved.
      if (entry.answer) this.entries.delete(id);
    }
  }
}

/** A request as the front saw it, for rules. */
export interface FrontRequest {
  method: string;
  path: string;
  body: string;
  idempotencyKey: string | null;
}

/**
 * A fault to inject into matching requests (the first matching rule applies). These are faults
 * localstripe cannot produce on demand, for tests of what the billing code does when Stripe or the
 * network misbehaves.
 */
export interface StripeFrontRule {
  /** Matches a request by method, path (e.g. POST /v1/payment_intents) and form-encoded body. */
  matches(method: string, path: string, body: string): boolean;
  /**
   * Answer 500 without forwarding, this many times (counted down). Such a 500 stands for a failure in
   * front of Stripe's idempotency layer: nothing is saved, so a retry with the same key runs.
   */
  failTimes?: number;
  /**
   * Stripe takes this long to answer: the answer is held, and its key stays in flight (a retry in the
   * meantime gets the 409), so a client timeout shorter than this is a timeout after Stripe acted.
   */
  delayMs?: number;
  /** Rewrites the emulator's answer (status and JSON body) before it is saved and passed back. */
  // The body is whatever Stripe's JSON holds; the tests that write rules reach into it freely.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  rewrite?: (status: number, body: any) => { status: number; body: any };
  /**
   * Runs after Stripe has answered and the answer is saved under its key, before the reply is written:
   * the moment to SIGKILL the caller, or deliver a webhook ahead of the answer. Returning 'drop' cuts
   * the connection instead of replying (the caller sees a network error after Stripe acted).
   */
  beforeReply?: (responseBody: string, request: FrontRequest) => Promise<void | 'drop'>;
}

export interface StripeFront {
  /** Where the SDK sends requests, e.g. http://127.0.0.1:8420. */
  apiBase: string;
  port: number;
  /** localstripe itself, behind the front. */
  upstreamBase: string;
  rules: StripeFrontRule[];
  /** `METHOD /path` of every request passed on to localstripe. */
  forwarded: string[];
  /** The idempotency key of every answer replayed. */
  replayed: string[];
  keys: IdempotencyKeys;
  close(): Promise<void>;
}

const fronts = new Map<string, StripeFront>();

/** The front this process started at `apiBase`, if any (another front can share its keys). */
export function stripeFrontAt(apiBase: string): StripeFront | undefined {
  return fronts.get(apiBase.replace(/\/+$/, ''));
}

function requestId(): string {
  return `req_${randomBytes(10).toString('hex')}`;
}

/** The secret key (and connected account) a request is made with: the scope of its idempotency keys. */
function keyScope(headers: IncomingHttpHeaders): string {
  const authorization = String(headers.authorization ?? '');
  const [kind, credential = ''] = authorization.split(' ');
  const apiKey = kind === 'Basic' ? Buffer.from(credential, 'base64').toString('utf8').split(':')[0] : credential;
  return `${apiKey}\u0000${String(headers['stripe-account'] ?? '')}`;
}

/** The parameters of a request in one order, so the same parameters compare equal however sent. */
function canonicalParams(url: URL, body: string, contentType: string): string {
  const pairs = [...url.searchParams];
  if (contentType.includes('json')) pairs.push(['\u0000json', body]);
  else pairs.push(...new URLSearchParams(body));
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return JSON.stringify(pairs);
}

/**
 * Whether Stripe would keep this answer under its key. localstripe refuses bad parameters (400),
 * unknown objects (404) and missing keys (401) before it acts, where Stripe refuses before its
 * endpoint begins and keeps nothing; every other answer, a decline or a 500 included, is kept.
 */
function savedByStripe(status: number): boolean {
  return ![400, 401, 404, 429].includes(status);
}

function jsonError(res: ServerResponse, status: number, error: Record<string, unknown>, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ error });
  res.writeHead(status, { 'content-type': 'application/json', 'request-id': requestId(), ...headers }).end(body);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts an HTTP front for localstripe at `upstreamBase`: Stripe's idempotency (see
 * IdempotencyKeys) and the fault rules tests add. Fronts given the same `keys` act as one Stripe
 * account reached by different routes.
 */
export async function startStripeFront(options: {
  upstreamBase: string;
  port?: number;
  host?: string;
  keys?: IdempotencyKeys;
  idempotencyTtlMs?: number;
  now?: () => number;
}): Promise<StripeFront> {
  const upstream = new URL(options.upstreamBase);
  const keys = options.keys ?? new IdempotencyKeys(options.idempotencyTtlMs, options.now);
  const rules: StripeFrontRule[] = [];
  const forwarded: string[] = [];
  const replayed: string[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', 'http://front');
    const path = url.pathname;
    const body = raw.toString('utf8');
    const headerKey = req.headers['idempotency-key'];
    // Stripe takes keys on POSTs to its API only; localstripe's /_config routes are not Stripe's.
    const key = method === 'POST' && path.startsWith('/v1/') && typeof headerKey === 'string' && headerKey !== '' ? headerKey : null;
    const request: FrontRequest = { method, path, body, idempotencyKey: key };
    const rule = rules.find((r) => r.matches(method, path, body));

    if (rule?.failTimes && rule.failTimes > 0) {
      rule.failTimes -= 1;
      jsonError(res, 500, { type: 'api_error', message: 'injected fault' });
      return;
    }
    if (key && key.length > 255) {
      jsonError(res, 400, { type: 'invalid_request_error', message: `Invalid idempotency key: '${key}'. Idempotency keys must be no longer than 255 characters.` });
      return;
    }

    let finish: (answer: SavedAnswer | null) => void = () => undefined;
    if (key) {
      const outcome = keys.begin(keyScope(req.headers), key, `${method} ${path}`, canonicalParams(url, body, String(req.headers['content-type'] ?? '')));
      if (outcome.kind === 'replay') {
        replayed.push(key);
        const { answer } = outcome;
        res
          .writeHead(answer.status, { ...answer.headers, 'request-id': requestId(), 'original-request': answer.requestId, 'idempotent-replayed': 'true' })
          .end(answer.body);
        return;
      }
      if (outcome.kind === 'mismatch') {
        jsonError(res, 400, { type: 'idempotency_error', message: outcome.message }, { 'idempotency-key': key });
        return;
      }
      if (outcome.kind === 'conflict') {
        jsonError(res, 409, { type: 'idempotency_error', code: 'idempotency_key_in_use', message: outcome.message }, { 'idempotency-key': key });
        return;
      }
      finish = outcome.finish;
    }

    forwarded.push(`${method} ${path}`);
    let status: number;
    let answerBody: Buffer;
    let contentType: string;
    try {
      ({ status, body: answerBody, contentType } =
        method === 'GET' && path === '/v1/payment_intents' && url.searchParams.has('customer')
          ? await listIntentsOfCustomer(upstream, req, url.searchParams)
          : await forward(upstream, req, raw));
    } catch (error) {
      finish(null);
      jsonError(res, 502, { type: 'api_error', message: `the Stripe emulator could not reach localstripe: ${(error as Error).message}` });
      return;
    }
    if (path.startsWith('/v1/') && !contentType.includes('json')) {
      // An unknown route or a crash of localstripe answers plain text; Stripe always answers JSON,
      // which the SDK needs to tell an API error from a broken connection.
      const text = answerBody.toString('utf8').trim().slice(0, 200);
      const error = { type: status >= 500 ? 'api_error' : 'invalid_request_error', message: `localstripe answered ${status}: ${text}` };
      answerBody = Buffer.from(JSON.stringify({ error }));
      contentType = 'application/json';
    }
    if (rule?.rewrite) {
      try {
        const rewritten = rule.rewrite(status, JSON.parse(answerBody.toString('utf8')));
        status = rewritten.status;
        answerBody = Buffer.from(JSON.stringify(rewritten.body));
        contentType = 'application/json';
      } catch (error) {
        finish(null);
        throw error;
      }
    }
    if (rule?.delayMs) await sleep(rule.delayMs);

    const id = requestId();
    const headers: Record<string, string> = { 'content-type': contentType };
    if (key) headers['idempotency-key'] = key;
    // Stripe tells its SDKs not to retry an answer its idempotency layer would only replay.
    if (status >= 500) headers['stripe-should-retry'] = 'false';
    finish(savedByStripe(status) ? { status, headers, body: answerBody, requestId: id } : null);
    if (method === 'DELETE' && path === '/_config/data' && status < 300) keys.clear();

    const next = rule?.beforeReply ? await rule.beforeReply(answerBody.toString('utf8'), request).catch(() => undefined) : undefined;
    if (next === 'drop') {
      res.socket?.destroy();
      return;
    }
    res.writeHead(status, { ...headers, 'request-id': id }).end(answerBody);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch((error: unknown) => {
        if (!res.headersSent) jsonError(res, 500, { type: 'api_error', message: `Stripe emulator front: ${(error as Error).message}` });
        else res.destroy();
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const apiBase = `http://127.0.0.1:${port}`;
  const front: StripeFront = {
    apiBase,
    port,
    upstreamBase: upstream.origin,
    rules,
    forwarded,
    replayed,
    keys,
    close: () =>
      new Promise<void>((resolve) => {
        fronts.delete(apiBase);
        server.close(() => resolve());
        // A request held by a delay rule would otherwise keep the server open.
        server.closeAllConnections();
      }),
  };
  fronts.set(apiBase, front);
  return front;
}

/**
 * `GET /v1/payment_intents?customer=…`, which Stripe answers and localstripe refuses (it takes no
 * filter on that list): the front pages through localstripe's whole list and keeps the customer's,
 * newest first, honouring `limit` and `starting_after` as Stripe does.
 */
async function listIntentsOfCustomer(upstream: URL, req: IncomingMessage, query: URLSearchParams): Promise<{ status: number; body: Buffer; contentType: string }> {
  const all: Array<{ id: string; customer: string | null; created: number }> = [];
  let after: string | null = null;
  for (;;) {
    const page = new URL('/v1/payment_intents', upstream);
    page.searchParams.set('limit', '100');
    if (after) page.searchParams.set('starting_after', after);
    const response = await fetch(page, { headers: { authorization: String(req.headers.authorization ?? '') } });
    const text = await response.text();
    if (!response.ok) return { status: response.status, body: Buffer.from(text), contentType: String(response.headers.get('content-type') ?? 'application/json') };
    const list = JSON.parse(text) as { data: Array<{ id: string; customer: string | null; created: number }>; has_more: boolean };
    all.push(...list.data);
    if (!list.has_more || list.data.length === 0) break;
    after = list.data.at(-1)!.id;
  }
  const mine = all.filter((intent) => intent.customer === query.get('customer')).sort((a, b) => b.created - a.created);
  const start = query.get('starting_after') ? mine.findIndex((intent) => intent.id === query.get('starting_after')) + 1 : 0;
  const limit = Math.min(Math.max(Number(query.get('limit') ?? 10) || 10, 1), 100);
  const data = mine.slice(start, start + limit);
  const body = { object: 'list', url: '/v1/payment_intents', has_more: start + limit < mine.length, data };
  return { status: 200, body: Buffer.from(JSON.stringify(body)), contentType: 'application/json' };
}

function forward(upstream: URL, req: IncomingMessage, body: Buffer): Promise<{ status: number; body: Buffer; contentType: string }> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, host: upstream.host, 'content-length': String(body.length) };
    delete headers.connection;
    const call = httpRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 502, body: Buffer.concat(chunks), contentType: String(response.headers['content-type'] ?? 'application/json') }),
      );
      response.on('error', reject);
    });
    call.on('error', reject);
    call.end(body);
  });
}

export interface StripeEmulator {
  /** Where the SDK sends requests: the front, e.g. http://127.0.0.1:8420 (see test/support/stripe.ts). */
  apiBase: string;
  port: number;
  /** localstripe itself, without Stripe's idempotency: for pinning what the emulator does on its own. */
  upstreamBase: string;
  front: StripeFront;
  service: ServiceProcess;
  stop(): Promise<void>;
}

/**
 * Starts localstripe on a port of its own (all interfaces, IPv4 and IPv6) and the front on `port`,
 * and resolves once both accept connections. Its data lives in memory; `keepData` loads what an
 * earlier run saved instead. localstripe saves every change to /tmp/localstripe.pickle, one file for
 * every instance on the machine, so only one instance at a time should use `keepData`.
 */
export async function startStripeEmulator(options: {
  port?: number;
  upstreamPort?: number;
  host?: string;
  logFile?: string;
  quiet?: boolean;
  keepData?: boolean;
  /** How long idempotency keys are remembered; Stripe's 24 hours unless a test needs them to expire. */
  idempotencyTtlMs?: number;
  now?: () => number;
}): Promise<StripeEmulator> {
  const command = await ensureLocalstripe();
  const upstreamPort = options.upstreamPort ?? (await freePort());
  const args = ['--port', String(upstreamPort)];
  if (!options.keepData) args.push('--from-scratch');
  const service = startService('localstripe', command, args, { logFile: options.logFile, quiet: options.quiet });
  let front: StripeFront;
  try {
    await Promise.race([
      waitForPort(upstreamPort, { what: 'the Stripe emulator (localstripe)', timeoutMs: 30_000 }),
      service.exited.then((code) => {
        throw new Error(`localstripe exited with code ${code} before it was ready${options.logFile ? `; see ${options.logFile}` : ''}`);
      }),
    ]);
    front = await startStripeFront({
      upstreamBase: `http://127.0.0.1:${upstreamPort}`,
      port: options.port,
      host: options.host,
      idempotencyTtlMs: options.idempotencyTtlMs,
      now: options.now,
    });
  } catch (error) {
    await service.stop();
    throw error;
  }
  return {
    apiBase: front.apiBase,
    port: front.port,
    upstreamBase: front.upstreamBase,
    front,
    service,
    stop: async () => {
      await front.close();
      await service.stop();
    },
  };
}

/** `npm run stripe-emulator`: the emulator on STRIPE_EMULATOR_PORT (8420), until Ctrl-C. */
async function main(): Promise<void> {
  const emulator = await startStripeEmulator({ port: Number(process.env.STRIPE_EMULATOR_PORT || 8420) });
  console.log(`Stripe emulator (localstripe ${LOCALSTRIPE_VERSION} behind Stripe's idempotency): STRIPE_API_BASE=${emulator.apiBase}`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    emulator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error('the Stripe emulator did not start:', error);
    process.exit(1);
  });
}
