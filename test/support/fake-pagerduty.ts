import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One on-call entry as PagerDuty's `GET /oncalls` lists it (with `include[]=users`). */
export interface FakeOnCall {
  schedule?: string;
  escalationPolicy: string;
  level: number;
  user: { id: string; email: string; name: string };
}

export type PagerDutyFault = { status: 429; reset: number } | { status: 500 } | { hang: true };

/**
 * PagerDuty's REST API v2 on loopback, as far as on-calls go: `GET /oncalls` with
 * `schedule_ids[]`, `escalation_policy_ids[]`, `include[]=users` and `limit`/`offset` paging
 * (`more`), behind `Authorization: Token token=…` and the v2 Accept header, answering 401 and
 * 429 with PagerDuty's error shapes.
 */
export class FakePagerDuty {
  oncalls: FakeOnCall[] = [];
  /** Every request's query, in order. */
  readonly requests: URLSearchParams[] = [];
  private server?: Server;
  private readonly faults: PagerDutyFault[] = [];
  private readonly hung: ServerResponse[] = [];

  constructor(private readonly token: string) {}

  get url(): string {
    const { port } = this.server!.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.hung.forEach((res) => res.destroy());
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  fail(fault: PagerDutyFault, times = 1): void {
    for (let i = 0; i < times; i++) this.faults.push(fault);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    this.requests.push(url.searchParams);
    if (req.headers.authorization !== `Token token=${this.token}`)
      return send(res, 401, { error: { message: 'Unauthorized', code: 2006 } });
    if (req.headers.accept !== 'application/vnd.pagerduty+json;version=2')
      return send(res, 406, { error: { message: 'Not Acceptable', code: 2001 } });
    if (req.method !== 'GET' || url.pathname !== '/oncalls')
      return send(res, 404, { error: { message: 'Not Found', code: 2100 } });
    const fault = this.faults.shift();
    if (fault && 'hang' in fault) {
      this.hung.push(res);
      return;
    }
    if (fault?.status === 429) {
      res.setHeader('ratelimit-limit', '960');
      res.setHeader('ratelimit-remaining', '0');
      res.setHeader('ratelimit-reset', String(fault.reset));
      return send(res, 429, { error: { message: 'Rate Limit Exceeded', code: 2020 } });
    }
    if (fault) return send(res, fault.status, { error: { message: 'Internal Error', code: 2000 } });

    const schedules = url.searchParams.getAll('schedule_ids[]');
    const policies = url.searchParams.getAll('escalation_policy_ids[]');
    const withUsers = url.searchParams.getAll('include[]').includes('users');
    const limit = Math.min(Number(url.searchParams.get('limit') ?? 25), 100);
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const matching = this.oncalls.filter(
      (o) =>
        (schedules.length === 0 || (o.schedule !== undefined && schedules.includes(o.schedule))) &&
        (policies.length === 0 || policies.includes(o.escalationPolicy)),
    );
    const page = matching.slice(offset, offset + limit).map((o) => ({
      escalation_policy: { id: o.escalationPolicy, type: 'escalation_policy_reference' },
      escalation_level: o.level,
      schedule: o.schedule ? { id: o.schedule, type: 'schedule_reference' } : null,
      user: withUsers
        ? { id: o.user.id, type: 'user', name: o.user.name, email: o.user.email }
        : { id: o.user.id, type: 'user_reference', summary: o.user.name },
      start: '2026-11-01T00:00:00Z',
      end: '2026-11-08T00:00:00Z',
    }));
    send(res, 200, {
      oncalls: page,
      limit,
      offset,
      more: offset + limit < matching.length,
      total: null,
    });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
