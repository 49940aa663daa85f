import { randomUUID } from 'node:crypto';
import { parseDuration } from '../config/duration';
import { safeForSecrets } from '../http/safe-transport';
import { parseCommand } from './args';
import { CliError, EXIT, write, type CliIo } from './context';

/** What `hallpass request` exits with: a pipeline branches on these. */
export const REQUEST_EXIT = {
  granted: 0,
  failed: 1,
  usage: 2,
  /** Denied, cancelled or expired: no access. */
  denied: 3,
  /** No decision within --timeout (or, without --wait, none yet). */
  undecided: 4,
} as const;

/** Each long-poll asks for at most this, so a proxy in between never sees an idle connection long. */
const POLL_MS = 25_000;

interface RequestAnswer {
  id: string;
  status: string;
  waiting: boolean;
  grant: { id: string; status: string; expiresAt: string | null } | null;
  [key: string]: unknown;
}

class ApiClient {
  constructor(
    private readonly base: string,
    private readonly token: string,
  ) {}

  async call(method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<Response> {
    try {
      return await fetch(new URL(`/api/v1${path}`, this.base), {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(method === 'POST' && path === '/requests' ? { 'idempotency-key': randomUUID() } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new CliError(
        `request: cannot reach Hallpass at ${this.base} (${cause ?? (err as Error).message})`,
      );
    }
  }

  /** The JSON of a success, or a CliError with the problem's own sentence. */
  async json<T>(res: Response): Promise<T> {
    const text = await res.text();
    if (res.ok) return JSON.parse(text) as T;
    let detail = `HTTP ${res.status}`;
    try {
      const problem = JSON.parse(text) as { detail?: unknown };
      if (typeof problem.detail === 'string') detail = problem.detail;
    } catch {
      // Not a problem document (a proxy's error page): the status says enough.
    }
    throw new CliError(`request: ${detail}`);
  }
}

function settings(io: CliIo): { url: string; token: string } {
  const url = io.env.HALLPASS_URL;
  const token = io.env.HALLPASS_TOKEN;
  if (!url || !URL.canParse(url))
    throw new CliError('request: set HALLPASS_URL to Hallpass’s address (https://…)', EXIT.usage);
  // The token goes with every call, and the credentials come back the same way.
  if (!safeForSecrets(new URL(url)))
    throw new CliError(
      `request: HALLPASS_URL must be https (plain http only to a loopback address), not ${new URL(url).origin}`,
      EXIT.usage,
    );
  if (!token)
    throw new CliError('request: set HALLPASS_TOKEN to an API token or a CI ID token', EXIT.usage);
  return { url, token };
}

/**
 * `hallpass request <resource> <duration> --reason … [--ticket …] [--wait] [--timeout …]`: a
 * client of the API for pipelines. Prints the request as JSON on stdout (with the grant and any
 * credentials), one line for people on stderr, and exits with REQUEST_EXIT. A wait that runs
 * out cancels the request, so approvers are not left deciding for a pipeline that gave up.
 */
export async function request(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(
    'request',
    args,
    {
      reason: { type: 'string' },
      ticket: { type: 'string' },
      wait: { type: 'boolean' },
      timeout: { type: 'string' },
    },
    { min: 2, max: 2, names: 'resource and duration' },
  );
  if (!values.reason) throw new CliError('request: --reason is required', EXIT.usage);
  const timeoutMs = parseDuration(values.timeout ?? '10m');
  if (timeoutMs === null)
    throw new CliError(`request: --timeout "${values.timeout}" is not a duration`, EXIT.usage);
  const { url, token } = settings(io);
  const client = new ApiClient(url, token);
  const [resource, duration] = positionals as [string, string];

  let answer = await client.json<RequestAnswer>(
    await client.call('POST', '/requests', {
      resource,
      duration,
      reason: values.reason,
      ...(values.ticket ? { ticket: values.ticket } : {}),
    }),
  );
  let gaveUp = false;
  if (values.wait) {
    const deadline = Date.now() + timeoutMs;
    while (answer.waiting && Date.now() < deadline) {
      const seconds = Math.max(1, Math.ceil(Math.min(POLL_MS, deadline - Date.now()) / 1000));
      answer = await client.json<RequestAnswer>(
        await client.call(
          'GET',
          `/requests/${answer.id}/wait?timeout=${seconds}s`,
          undefined,
          seconds * 1000 + 15_000,
        ),
      );
    }
    if (answer.waiting && answer.status === 'pending') {
      gaveUp = true;
      const res = await client.call('POST', `/requests/${answer.id}/cancel`);
      // 409: decided meanwhile; what it became is the answer.
      answer = await client.json<RequestAnswer>(
        res.status === 409 ? await client.call('GET', `/requests/${answer.id}`) : res,
      );
    }
  }
  await write(io.stdout, `${JSON.stringify(answer, null, 2)}\n`);
  const [code, line] = outcome(answer, gaveUp);
  await write(io.stderr, `${line}\n`);
  return code;
}

/** The exit code and line for the final answer; `gaveUp`: the wait ran out and withdrew it. */
function outcome(a: RequestAnswer, gaveUp: boolean): [number, string] {
  if (a.status === 'approved' && a.grant?.status === 'active')
    return [REQUEST_EXIT.granted, `granted: ${a.grant.id} until ${a.grant.expiresAt ?? '?'}`];
  if (a.status === 'approved' && a.grant && a.grant.status !== 'activating')
    return [REQUEST_EXIT.failed, `approved, but grant ${a.grant.id} is ${a.grant.status}`];
  if (gaveUp && a.status === 'cancelled')
    return [REQUEST_EXIT.undecided, `${a.id}: no decision in time, so it was withdrawn`];
  if (a.waiting)
    return [
      REQUEST_EXIT.undecided,
      `${a.id} is still ${a.status === 'pending' ? 'waiting for a decision' : 'being granted'}`,
    ];
  return [REQUEST_EXIT.denied, `${a.id} was ${a.status}`];
}
