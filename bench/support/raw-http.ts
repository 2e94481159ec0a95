import net from 'node:net';

/**
 * One keep-alive HTTP/1.1 connection that sends a request written out in bytes and reads back the
 * status and body: a load generator built on node:http spends about half a millisecond of its own
 * CPU per request (agents, header objects, parsers), which on a 2-core machine is CPU taken from
 * the server it measures. One request at a time per connection, no pipelining; the server's
 * answers carry Content-Length (Express's res.json does), anything else fails the request.
 */
export class RawHttpConnection {
  private socket: net.Socket | null = null;
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { done(answer: RawAnswer): void; fail(error: Error): void } | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** `head`: request line and headers without Content-Length (added here), ending in one CRLF. */
  request(head: string, body: Buffer | string): Promise<RawAnswer> {
    const payload = typeof body === 'string' ? Buffer.from(body) : body;
    const socket = this.connect();
    return new Promise((done, fail) => {
      this.waiting = { done, fail };
      socket.write(`${head}Content-Length: ${payload.length}\r\n\r\n`);
      socket.write(payload);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private connect(): net.Socket {
    if (this.socket && !this.socket.destroyed) return this.socket;
    this.buffered = Buffer.alloc(0);
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    socket.on('data', (chunk: Buffer) => {
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      this.tryAnswer();
    });
    const lost = (error?: Error) => {
      // A socket closed on purpose after its last answer, once a new one carries the next request.
      if (this.socket !== null && this.socket !== socket) return;
      this.socket = null;
      const waiting = this.waiting;
      this.waiting = null;
      waiting?.fail(error ?? new Error('connection closed before the answer'));
    };
    socket.on('error', lost);
    socket.on('close', () => lost());
    this.socket = socket;
    return socket;
  }

  private tryAnswer(): void {
    const end = this.buffered.indexOf('\r\n\r\n');
    if (end < 0 || !this.waiting) return;
    const head = this.buffered.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) {
      const waiting = this.waiting;
      this.waiting = null;
      this.close();
      waiting.fail(new Error(`HTTP ${status} without Content-Length: ${head.slice(0, 200)}`));
      return;
    }
    const total = end + 4 + Number(length[1]);
    if (this.buffered.length < total) return;
    const text = this.buffered.toString('utf8', end + 4, total);
    this.buffered = this.buffered.subarray(total);
    const waiting = this.waiting;
    this.waiting = null;
    if (/\r\nconnection:\s*close/i.test(head)) this.close();
    waiting.done({ status, text });
  }
}

export interface RawAnswer {
  status: number;
  text: string;
}
