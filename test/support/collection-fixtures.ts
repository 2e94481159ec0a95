import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { Webhook } from 'standardwebhooks';
import { startStripeFront, stripeFrontAt, type StripeFront, type StripeFrontRule } from '../../scripts/stripe-emulator';

/**
 * Real servers a collection test talks to: an SMTP server that keeps what it receives, a
 * provisioning endpoint that verifies Standard Webhooks signatures, and an HTTP proxy in front of the Stripe emulator
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

/**
 * The customer's service behind PROVISIONING_WEBHOOK_URL: records each delivery and whether it
 * verifies with the Standard Webhooks reference library. The secret is a plain string (not whsec_…),
 * which the library takes as its own bytes in its raw format.
 */
export async function provisioningReceiver(secret: string): Promise<{ url: string; deliveries: ProvisioningDelivery[]; close(): Promise<void> }> {
  const deliveries: ProvisioningDelivery[] = [];
  const webhook = new Webhook(secret, { format: 'raw' });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const headers = { 'webhook-id': String(req.headers['webhook-id']), 'webhook-timestamp': String(req.headers['webhook-timestamp']), 'webhook-signature': String(req.headers['webhook-signature']) };
      let signatureValid = true;
      try {
        webhook.verify(raw, headers);
      } catch {
        signatureValid = false;
      }
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
