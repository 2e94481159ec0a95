import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { EntityManager } from '@mikro-orm/postgresql';
import { recordEvent } from '../../db/events';
import type { Orm } from '../../db/orm';
import type { EventType } from '../../domain/events';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  /** The body as sent: signatures are over these exact bytes. */
  raw: string;
  body: any;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** The statuses to answer, in order; once used up, `then` (default 200). */
  answers: number[];
  then: number;
  /** Starts listening (again) on the same port: a receiver can be down and come back. */
  up(): Promise<void>;
  down(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A customer's webhook receiver: a real HTTP server that keeps every request and answers with the
 * statuses it is given (500, 500, then 200), and can be taken down and brought back on its port.
 */
export async function webhookReceiver(answers: number[] = [], options: { listening?: boolean; port?: number } = {}): Promise<WebhookReceiver> {
  let server: Server | null = null;
  let port = options.port ?? 0;
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    answers: [...answers],
    then: 200,
    async up() {
      const s = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          receiver.received.push({ headers: req.headers, raw, body: JSON.parse(raw) });
          const status = receiver.answers.shift() ?? receiver.then;
          res.writeHead(status, { 'content-type': 'text/plain' }).end(status >= 300 ? `answered ${status}` : 'ok');
        });
      });
      await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
      port = (s.address() as AddressInfo).port;
      receiver.url = `http://127.0.0.1:${port}/webhooks`;
      server = s;
    },
    async down() {
      const s = server;
      server = null;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    close: () => receiver.down(),
  };
  if (options.listening === false) {
    if (!port) throw new Error('a receiver that starts down needs its port');
    receiver.url = `http://127.0.0.1:${port}/webhooks`;
  } else {
    await receiver.up();
  }
  return receiver;
}

let facts = 0;
/**
 * A fact committing with its event, as the services write them (recordEvent in the fact's
 * transaction): here the event alone, so these suites control exactly which events exist.
 */
export async function commitFact(orm: Orm, type: EventType, object: { id: string } & Record<string, unknown>): Promise<string> {
  return orm.em.fork().transactional((tx) => recordEvent(tx as EntityManager, { type, key: `${type}:${object.id}:test-${++facts}`, object, customerId: null }));
}
