import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { startStripeFront, stripeFrontAt, type StripeFront, type StripeFrontRule } from '../../scripts/stripe-emulator';

/**
 * Real servers a collection test talks to: an SMTP server that keeps what it receives, a
 * provisioning endpoint that checks signatures, and an HTTP proxy in front of the Stripe emulator
 * that can fail, delay or rewrite chosen requests (faults no emulator produces on demand).
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

/** A fault for the proxy to inject; see StripeFrontRule in scripts/stripe-emulator.ts. */
export type ProxyRule = StripeFrontRule;

/**
 * An HTTP proxy to the Stripe emulator whose `rules` inject faults (a rule with failTimes counts
 * down): a front of its own (scripts/stripe-emulator.ts), so the gateway's calls can fail while the
 * test's own calls to the emulator do not. In front of an emulator this process started, it shares
 * that emulator's idempotency keys and forwards to localstripe directly, as a second route to the one
 * Stripe account; any other `target` is treated as a bare localstripe and gets keys of its own.
 */
export async function faultProxy(target: string): Promise<StripeFront> {
  const emulator = stripeFrontAt(target);
  return startStripeFront(emulator ? { upstreamBase: emulator.upstreamBase, keys: emulator.keys } : { upstreamBase: target });
}
