import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

const MAX_AGE_SECONDS = 5 * 60;

/** The check docs/providers.md tells receivers to make, word for word. */
export function verifyHallpassSignature(
  secret: string,
  timestamp: string | undefined,
  signature: string | undefined,
  rawBody: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): boolean {
  if (!timestamp || !signature || !/^\d+$/.test(timestamp)) return false;
  if (Math.abs(nowSeconds - Number(timestamp)) > MAX_AGE_SECONDS) return false;
  const expected = `v1=${createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex')}`;
  const a = Buffer.from(expected);
  const b = Buffer.from(signature);
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface ReceivedCall {
  action: string;
  body: Record<string, unknown>;
  raw: string;
  headers: IncomingHttpHeaders;
  verified: boolean;
}

/** How the receiver treats the next call instead of answering normally. */
export type ReceiverFault =
  | { kind: 'status'; status: number; body?: string }
  /** Never answers; the connection stays open until the caller gives up or the receiver stops. */
  | { kind: 'hang' }
  /** Does the work, then cuts the connection before answering: an answer lost on the way. */
  | { kind: 'drop' }
  /**
   * Answers only after `delayMs`, and does the work only then: a receiver slower than the
   * caller's timeout that still applies the call after the caller gave up on it (a late grant).
   * The work is done even if the caller has hung up meanwhile; a receiver that stops first
   * never does it.
   */
  | { kind: 'late'; delayMs: number };

type Answer = (body: Record<string, unknown>) => unknown;

/**
 * A webhook receiver on loopback playing the system that gives access: it verifies signatures
 * the documented way, keeps the grants it holds (one per grant id, so it is idempotent like a
 * real receiver must be), records every call, and fails on demand.
 */
export class WebhookReceiver {
  readonly calls: ReceivedCall[] = [];
  /** Grant id → expiresAt, for the grants currently held. */
  readonly held = new Map<string, string>();
  /** Extra fields to answer per action, e.g. credentials for grant. */
  readonly answers: Partial<Record<string, Answer>> = {};
  private server?: Server;
  private faults: ReceiverFault[] = [];
  private hung: ServerResponse[] = [];
  private late = new Set<NodeJS.Timeout>();

  constructor(private readonly secret: string) {}

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('WebhookReceiver is not started');
    return `http://127.0.0.1:${address.port}/hallpass`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => this.handle(Buffer.concat(chunks).toString('utf8'), req.headers, res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.clearFaults();
    for (const timer of this.late) clearTimeout(timer);
    this.late.clear();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  /** The next call meets `fault`. */
  fail(fault: ReceiverFault): void {
    this.faults.push(fault);
  }

  /**
   * The target answers again: faults not yet met are dropped (a call that timed out before
   * reaching this server leaves its fault behind) and hung calls are cut.
   */
  clearFaults(): void {
    this.faults = [];
    for (const res of this.hung) res.destroy();
    this.hung = [];
  }

  callsOf(action: string): ReceivedCall[] {
    return this.calls.filter((c) => c.action === action);
  }

  private handle(raw: string, headers: IncomingHttpHeaders, res: ServerResponse): void {
    const verified = verifyHallpassSignature(
      this.secret,
      headers['x-hallpass-timestamp'] as string | undefined,
      headers['x-hallpass-signature'] as string | undefined,
      raw,
    );
    const body = JSON.parse(raw) as Record<string, unknown>;
    const action = String(body.action);
    this.calls.push({ action, body, raw, headers, verified });
    if (!verified) return send(res, 401, { error: 'bad signature' });

    const fault = this.faults.shift();
    if (fault?.kind === 'hang') {
      this.hung.push(res);
      return;
    }
    if (fault?.kind === 'late') {
      const timer = setTimeout(() => {
        this.late.delete(timer);
        const answer = this.apply(action, body);
        const extra = this.answers[action]?.(body) ?? {};
        if (!res.destroyed && !res.socket?.destroyed) send(res, 200, { ...answer, ...extra });
      }, fault.delayMs);
      this.late.add(timer);
      return;
    }
    if (fault?.kind === 'status') {
      res.writeHead(fault.status, { 'content-type': 'text/plain' });
      res.end(fault.body ?? '');
      return;
    }
    const answer = this.apply(action, body);
    if (fault?.kind === 'drop') {
      res.socket?.destroy();
      return;
    }
    send(res, 200, { ...answer, ...(this.answers[action]?.(body) ?? {}) });
  }

  private apply(action: string, body: Record<string, unknown>): Record<string, unknown> {
    const grantId = String(body.grantId);
    if (action === 'grant') this.held.set(grantId, String(body.expiresAt));
    if (action === 'revoke') this.held.delete(grantId);
    return action === 'check' ? { present: this.held.has(grantId) } : {};
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
