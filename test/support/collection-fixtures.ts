import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/**
 * Real servers a collection test talks to: an SMTP server that keeps what it receives, a
 * provisioning endpoint that checks signatures, and an HTTP proxy in front of the Stripe emulator
 * that can fail or delay chosen requests (faults no emulator produces on demand).
 */
export interface ReceivedMail {
  to: string[];
  subject: string;
  messageId: string;
  raw: string;
}

export async function smtpSink(): Promise<{ url: string; messages: ReceivedMail[]; close(): Promise<void> }> {
  const messages: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const header = (name: string) => new RegExp(`^${name}: (.*)$`, 'mi').exec(raw)?.[1]?.trim() ?? '';
        messages.push({ to: session.envelope.rcptTo.map((r) => r.address), subject: header('Subject'), messageId: header('Message-ID'), raw });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { url: `smtp://127.0.0.1:${port}`, messages, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export interface ProvisioningDelivery {
  type: string;
  body: any;
  signatureValid: boolean;
}

/** The customer's service: records each signed provisioning webhook and whether its signature verifies. */
export async function provisioningReceiver(secret: string): Promise<{ url: string; deliveries: ProvisioningDelivery[]; close(): Promise<void> }> {
  const deliveries: ProvisioningDelivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const header = String(req.headers['perennial-signature'] ?? '');
      const t = /t=(\d+)/.exec(header)?.[1] ?? '';
      const v1 = /v1=([0-9a-f]+)/.exec(header)?.[1] ?? '';
      const expected = createHmac('sha256', secret).update(`${t}.${raw}`).digest('hex');
      const signatureValid = v1.length === expected.length && timingSafeEqual(Buffer.from(v1), Buffer.from(expected));
      const body = JSON.parse(raw);
      deliveries.push({ type: body.type, body, signatureValid });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/provisioning`, deliveries, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export interface ProxyRule {
  /** Matches a request by method, path (e.g. POST /v1/payment_intents) and form-encoded body. */
  matches(method: string, path: string, body: string): boolean;
  /** Answer 500 without forwarding, this many times. */
  failTimes?: number;
  /** Rewrites the emulator's answer (status and JSON body) before it is passed back. */
  rewrite?: (status: number, body: any) => { status: number; body: any };
  /** Runs after the emulator answered and before the answer is passed back (the charge call is still in flight). */
  beforeReply?: (responseBody: string) => Promise<void>;
}

/**
 * An HTTP proxy to the emulator that applies `rules` (a rule with failTimes counts down). It also
 * gives localstripe what it lacks and our code relies on: Stripe's idempotency. The first answer to
 * a POST with an Idempotency-Key is kept and replayed for every later request with that key, as
 * Stripe does (localstripe would charge again).
 */
export async function faultProxy(target: string): Promise<{ apiBase: string; rules: ProxyRule[]; forwarded: string[]; replayed: string[]; close(): Promise<void> }> {
  const rules: ProxyRule[] = [];
  const forwarded: string[] = [];
  const replayed: string[] = [];
  const replies = new Map<string, { status: number; headers: Record<string, string>; body: string }>();
  const upstream = new URL(target);
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0];
      const requestBody = Buffer.concat(chunks).toString('utf8');
      const rule = rules.find((r) => r.matches(req.method ?? '', path, requestBody));
      const key = req.method === 'POST' ? String(req.headers['idempotency-key'] ?? '') : '';
      const replay = key ? replies.get(key) : undefined;
      if (replay) {
        replayed.push(key);
        res.writeHead(replay.status, { ...replay.headers, 'idempotent-replayed': 'true' }).end(replay.body);
        return;
      }
      if (rule?.failTimes && rule.failTimes > 0) {
        rule.failTimes -= 1;
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { type: 'api_error', message: 'injected fault' } }));
        return;
      }
      forwarded.push(`${req.method} ${path}`);
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
        (upstreamRes) => {
          const body: Buffer[] = [];
          upstreamRes.on('data', (c: Buffer) => body.push(c));
          upstreamRes.on('end', () => {
            let text = Buffer.concat(body).toString('utf8');
            let status = upstreamRes.statusCode ?? 502;
            if (rule?.rewrite) {
              const rewritten = rule.rewrite(status, JSON.parse(text));
              status = rewritten.status;
              text = JSON.stringify(rewritten.body);
            }
            const headers = { 'content-type': 'application/json', 'request-id': String(upstreamRes.headers['request-id'] ?? '') };
            if (key && status < 500) replies.set(key, { status, headers, body: text });
            const reply = () => res.writeHead(status, headers).end(text);
            if (rule?.beforeReply) rule.beforeReply(text).then(reply, reply);
            else reply();
          });
        },
      );
      forward.on('error', () => res.writeHead(502).end());
      forward.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { apiBase: `http://127.0.0.1:${port}`, rules, forwarded, replayed, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
