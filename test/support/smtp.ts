import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** A message as the SMTP server received it. */
export interface ReceivedMessage {
  mailFrom: string | null;
  rcptTo: string[];
  /** The raw message: headers, blank line, body, as sent over DATA. */
  raw: string;
  /** Header values by lower-case name, folded lines joined. */
  headers: Record<string, string>;
  /** The text body, quoted-printable decoded. */
  text: string;
}

export interface TestSmtpServer {
  port: number;
  /** An SMTP_URL with the credentials the server accepts. */
  url: string;
  received: ReceivedMessage[];
  /** When set, the server refuses every message after DATA with this reply (e.g. 550). */
  rejectWith: { code: number; message: string } | null;
  close(): Promise<void>;
}

const USER = 'perennial';
const PASS = 'test-secret';

function parse(raw: string, mailFrom: string | null, rcptTo: string[]): ReceivedMessage {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let text = raw.slice(split + 4);
  if (/quoted-printable/i.test(headers['content-transfer-encoding'] ?? '')) {
    text = text.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
  return { mailFrom, rcptTo, raw, headers, text: text.replace(/\r\n/g, '\n') };
}

/** A real SMTP server (the smtp-server package) on a free local port, with login, recording what it receives. */
export async function startSmtpServer(): Promise<TestSmtpServer> {
  const state: TestSmtpServer = {
    port: 0,
    url: '',
    received: [],
    rejectWith: null,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, _session, callback) {
      if (auth.username === USER && auth.password === PASS) return callback(null, { user: USER });
      return callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (state.rejectWith) {
          const error = new Error(state.rejectWith.message) as Error & { responseCode: number };
          error.responseCode = state.rejectWith.code;
          return callback(error);
        }
        const { mailFrom, rcptTo } = session.envelope;
        state.received.push(parse(Buffer.concat(chunks).toString('utf8'), mailFrom ? mailFrom.address : null, rcptTo.map((r) => r.address)));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.port = (server.server.address() as AddressInfo).port;
  state.url = `smtp://${USER}:${PASS}@127.0.0.1:${state.port}`;
  return state;
}
