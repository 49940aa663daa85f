import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FakeSlack } from './fake-slack';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** What the app answered to one envelope: `{envelope_id, payload?}`. */
export interface Ack {
  envelope_id: string;
  payload?: Record<string, unknown>;
}

/** One WebSocket frame, RFC 6455 §5.2: FIN set, server frames unmasked. */
function frame(opcode: number, data: Buffer): Buffer {
  const length = data.length;
  const head =
    length < 126
      ? Buffer.from([0x80 | opcode, length])
      : length < 65536
        ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 127]), bigLength(length)]);
  return Buffer.concat([head, data]);
}

function bigLength(length: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(length));
  return b;
}

/**
 * Slack's side of Socket Mode on loopback: `apps.connections.open` (on the FakeSlack it is
 * attached to) answers a `ws://` URL here; a connection gets Slack's `hello`, then envelopes
 * (`slash_commands`, `interactive`, `events_api`) each with an `envelope_id` that the app must
 * acknowledge with `{envelope_id, payload?}`. The WebSocket is spoken by hand (RFC 6455: the
 * handshake, masked client frames, text, ping/pong and close) so no library stands between the
 * app's client and the protocol.
 */
export class FakeSocketMode {
  readonly acks: Ack[] = [];
  /** How many times the app opened a connection. */
  connections = 0;
  private server?: Server;
  private sockets = new Set<Duplex>();
  private current?: Duplex;
  private waiting = new Map<string, (ack: Ack) => void>();

  constructor(private readonly slack: FakeSlack) {}

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('FakeSocketMode is not started');
    return `ws://127.0.0.1:${address.port}/link/?ticket=${randomUUID()}&app_id=A111`;
  }

  async start(): Promise<this> {
    this.server = createServer((_req, res) => res.writeHead(426).end());
    this.server.on('upgrade', (req, socket) => this.upgrade(req, socket));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.slack.on('apps.connections.open', () => ({ url: this.url }));
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Resolves once the app has a connection open. */
  async connected(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.current) {
      if (Date.now() > deadline) throw new Error('the app never connected over Socket Mode');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Sends an envelope as Slack does and resolves with the app's acknowledgement. */
  send(
    type: 'slash_commands' | 'interactive' | 'events_api',
    payload: unknown,
    timeoutMs = 5000,
  ): Promise<Ack> {
    if (!this.current) throw new Error('no Socket Mode connection');
    const envelopeId = randomUUID();
    const envelope = {
      envelope_id: envelopeId,
      type,
      payload,
      accepts_response_payload: type !== 'events_api',
      ...(type === 'events_api' ? { retry_attempt: 0, retry_reason: '' } : {}),
    };
    const acked = new Promise<Ack>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(envelopeId);
        reject(new Error(`envelope ${type} was not acknowledged within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(envelopeId, (ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
    });
    this.current.write(frame(0x1, Buffer.from(JSON.stringify(envelope))));
    return acked;
  }

  private upgrade(req: IncomingMessage, socket: Duplex): void {
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string' || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
      return;
    }
    const accept = createHash('sha1')
      .update(key + WS_GUID)
      .digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    this.sockets.add(socket);
    this.connections += 1;
    this.current = socket;
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (this.current === socket) this.current = undefined;
    });
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const read = this.readFrame(buffered);
        if (!read) break;
        buffered = buffered.subarray(read.used);
        this.onFrame(socket, read.opcode, read.data);
      }
    });
    const hello = {
      type: 'hello',
      num_connections: 1,
      debug_info: { host: 'fake-socket-mode', approximate_connection_time: 3600 },
      connection_info: { app_id: 'A111' },
    };
    socket.write(frame(0x1, Buffer.from(JSON.stringify(hello))));
  }

  /** A whole client frame (masked, RFC 6455 §5.3) from the front of `buf`, or null for more. */
  private readFrame(buf: Buffer): { opcode: number; data: Buffer; used: number } | null {
    if (buf.length < 2) return null;
    const opcode = buf[0]! & 0x0f;
    const masked = (buf[1]! & 0x80) !== 0;
    let length = buf[1]! & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (buf.length < 4) return null;
      length = buf.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (buf.length < 10) return null;
      length = Number(buf.readBigUInt64BE(2));
      offset = 10;
    }
    if (!masked) throw new Error('a client frame must be masked (RFC 6455 §5.1)');
    if (buf.length < offset + 4 + length) return null;
    const mask = buf.subarray(offset, offset + 4);
    const data = Buffer.from(buf.subarray(offset + 4, offset + 4 + length));
    for (let i = 0; i < data.length; i++) data[i]! ^= mask[i % 4]!;
    return { opcode, data, used: offset + 4 + length };
  }

  private onFrame(socket: Duplex, opcode: number, data: Buffer): void {
    if (opcode === 0x9) return void socket.write(frame(0xa, data)); // ping → pong
    if (opcode === 0x8) {
      socket.write(frame(0x8, data));
      socket.end();
      return;
    }
    if (opcode !== 0x1) return;
    const ack = JSON.parse(data.toString('utf8')) as Ack;
    this.acks.push(ack);
    this.waiting.get(ack.envelope_id)?.(ack);
    this.waiting.delete(ack.envelope_id);
  }
}
