import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One Web API call the bot made, with its arguments decoded the way Slack decodes them. */
export interface RecordedCall {
  method: string;
  args: Record<string, unknown>;
  token: string | undefined;
  at: number;
}

/** How the fake answers the next calls of a method instead of succeeding. */
export type Fault =
  | { kind: 'error'; error: string }
  | { kind: 'status'; status: number }
  | { kind: 'ratelimited'; retryAfter: number }
  | { kind: 'hang' };

type Handler = (args: Record<string, unknown>, fake: FakeSlack) => Record<string, unknown>;

/**
 * A small stand-in for Slack's Web API on loopback, answering like Slack does (`ok`, `ts`,
 * `channel`, `view`, errors and 429 with Retry-After). Point the bot at `fake.url` through
 * `SLACK_API_URL`. It records every call so tests can assert on what was sent.
 */
export class FakeSlack {
  readonly calls: RecordedCall[] = [];
  usergroups: Record<string, string[]> = {};
  emails: Record<string, string> = {};
  /** users.info flags per user: `deleted` (deactivated), `is_restricted` / `is_ultra_restricted` (guests). */
  userFlags: Record<
    string,
    { deleted?: boolean; is_restricted?: boolean; is_ultra_restricted?: boolean }
  > = {};
  /** Channel members, for conversations.invite / kick. */
  members: Record<string, Set<string>> = {};
  private server?: Server;
  private faults = new Map<string, Fault[]>();
  private hung: ServerResponse[] = [];
  private tsCounter = 0;
  private viewCounter = 0;
  private handlers: Record<string, Handler> = {
    'auth.test': () => ({
      user_id: 'UBOT',
      bot_id: 'BBOT',
      team_id: 'T111',
      team: 'Test',
      url: 'https://test.slack.com/',
    }),
    'chat.postMessage': (a) => this.message(a),
    'chat.update': (a) => ({ channel: a.channel, ts: a.ts, text: a.text ?? '' }),
    'chat.postEphemeral': () => ({ message_ts: this.nextTs() }),
    'conversations.open': (a) => ({ channel: { id: `D${String(a.users).replace(/^[UW]/, '')}` } }),
    'views.open': (a) => ({ view: this.view(a) }),
    'views.update': (a) => ({ view: this.view(a) }),
    'views.push': (a) => ({ view: this.view(a) }),
    'views.publish': (a) => ({ view: this.view(a) }),
    'usergroups.users.list': (a) => {
      const users = this.usergroups[String(a.usergroup)];
      if (!users) throw new SlackError('no_such_subteam');
      return { users };
    },
    'users.info': (a) => {
      const id = String(a.user);
      return {
        user: {
          id,
          name: id.toLowerCase(),
          deleted: false,
          is_restricted: false,
          is_ultra_restricted: false,
          ...this.userFlags[id],
          profile: { email: this.emails[id] },
        },
      };
    },
    'users.lookupByEmail': (a) => {
      const email = String(a.email).toLowerCase();
      const id = Object.keys(this.emails).find((u) => this.emails[u]!.toLowerCase() === email);
      if (!id) throw new SlackError('users_not_found');
      return { user: { id, deleted: false, ...this.userFlags[id], profile: { email } } };
    },
    'conversations.invite': (a) => {
      const channel = String(a.channel);
      const set = (this.members[channel] ??= new Set());
      const users = String(a.users).split(',');
      if (users.every((u) => set.has(u))) throw new SlackError('already_in_channel');
      users.forEach((u) => set.add(u));
      return { channel: { id: channel } };
    },
    'conversations.kick': (a) => {
      const set = this.members[String(a.channel)];
      if (!set?.has(String(a.user))) throw new SlackError('not_in_channel');
      set.delete(String(a.user));
      return {};
    },
    'conversations.members': (a) => ({ members: [...(this.members[String(a.channel)] ?? [])] }),
  };

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('FakeSlack is not started');
    return `http://127.0.0.1:${address.port}/api/`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hung) res.destroy();
    this.hung = [];
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  /** The next `times` calls of `method` fail with `fault`. */
  fail(method: string, fault: Fault, times = 1): void {
    const queue = this.faults.get(method) ?? [];
    for (let i = 0; i < times; i++) queue.push(fault);
    this.faults.set(method, queue);
  }

  clearFaults(): void {
    this.faults.clear();
    for (const res of this.hung) res.destroy();
    this.hung = [];
  }

  /** Answers `method` with a custom handler (throw `new SlackError('x')` for an error answer). */
  on(method: string, handler: Handler): void {
    this.handlers[method] = handler;
  }

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Resolves once `predicate` holds for the recorded calls, polling; rejects after `timeoutMs`. */
  async waitFor<T>(
    predicate: (calls: RecordedCall[]) => T | undefined | false,
    timeoutMs = 5000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = predicate(this.calls);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(
          `FakeSlack.waitFor timed out; calls: ${this.calls.map((c) => c.method).join(', ')}`,
        );
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  private nextTs(): string {
    this.tsCounter += 1;
    return `1700000000.${String(this.tsCounter).padStart(6, '0')}`;
  }

  private message(a: Record<string, unknown>) {
    const ts = this.nextTs();
    const channel = String(a.channel);
    return {
      channel: channel.startsWith('U') ? `D${channel.slice(1)}` : channel,
      ts,
      message: { type: 'message', text: a.text ?? '', ts, bot_id: 'BBOT', blocks: a.blocks },
    };
  }

  private view(a: Record<string, unknown>) {
    this.viewCounter += 1;
    const view = typeof a.view === 'object' && a.view ? (a.view as Record<string, unknown>) : {};
    return {
      id: a.view_id ?? `V${String(this.viewCounter).padStart(8, '0')}`,
      team_id: 'T111',
      hash: `${Date.now()}.h`,
      ...view,
    };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const method = (req.url ?? '').replace(/^\/api\//, '').split('?')[0] ?? '';
    const args = decodeArgs(raw, req.headers['content-type']);
    const auth = req.headers.authorization;
    this.calls.push({ method, args, token: auth?.replace(/^Bearer /, ''), at: Date.now() });

    const fault = this.faults.get(method)?.shift();
    if (fault?.kind === 'hang') {
      this.hung.push(res);
      return;
    }
    if (fault?.kind === 'status')
      return send(res, fault.status, { ok: false, error: 'internal_error' });
    if (fault?.kind === 'ratelimited') {
      res.setHeader('Retry-After', String(fault.retryAfter));
      return send(res, 429, { ok: false, error: 'ratelimited' });
    }
    if (fault?.kind === 'error') return send(res, 200, { ok: false, error: fault.error });
    if (!auth?.startsWith('Bearer xoxb-'))
      return send(res, 200, { ok: false, error: 'not_authed' });
    const handler = this.handlers[method];
    if (!handler) return send(res, 200, { ok: false, error: 'unknown_method' });
    try {
      send(res, 200, { ok: true, ...handler(args, this) });
    } catch (err) {
      if (err instanceof SlackError) return send(res, 200, { ok: false, error: err.code });
      send(res, 500, { ok: false, error: 'fake_slack_handler_failed' });
    }
  }
}

export class SlackError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/** Slack's clients send form fields with nested values as JSON strings, or a JSON body. */
function decodeArgs(raw: string, contentType: string | undefined): Record<string, unknown> {
  if (contentType?.includes('application/json'))
    return raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    out[key] = /^[[{]/.test(value) ? safeJson(value) : value;
  }
  return out;
}

function safeJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
