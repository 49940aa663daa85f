import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Core, PipelineCaller } from '../core';
import { DomainError } from '../core/errors';
import { formatIssues } from '../config/load';
import type { Logger } from '../log';
import { isStoreBusy } from '../store/errors';
import type { Authenticator } from './auth';
import { ApiProblem, problemOf, writeProblem } from './problem';
import type { RateLimiter } from './rate-limit';
import type { Route } from './route';
import { API_PREFIX } from './routes';

/** Bodies are small JSON objects; anything bigger is not a call to this API. */
const MAX_BODY_BYTES = 64 * 1024;

interface Compiled {
  route: Route;
  pattern: RegExp;
  names: string[];
}

function compile(route: Route): Compiled {
  const names: string[] = [];
  const source = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    names.push(name);
    return '([A-Za-z0-9_-]{1,64})';
  });
  return { route, pattern: new RegExp(`^${source}$`), names };
}

const tooLarge = () =>
  new ApiProblem(413, 'too_large', `A body is at most ${MAX_BODY_BYTES} bytes.`);

/**
 * The body, up to MAX_BODY_BYTES. Past that it stops reading and rejects, leaving the socket
 * whole: the caller gets its 413, and the connection is closed after it (`handle`).
 */
function readBody(req: IncomingMessage): Promise<string> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES)
    return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.off('data', onData);
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function parseBody(req: IncomingMessage, route: Route): Promise<unknown> {
  if (!route.body) return undefined;
  const raw = await readBody(req);
  if (raw.trim() === '' && route.bodyOptional) return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new ApiProblem(415, 'unsupported_media_type', 'Send the body as application/json.');
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new ApiProblem(400, 'not_json', 'The body is not valid JSON.');
  }
  const parsed = route.body.safeParse(json);
  if (!parsed.success) {
    const errors = formatIssues(parsed.error.issues);
    throw new ApiProblem(422, 'invalid_body', errors.join('; '), { errors });
  }
  return parsed.data;
}

export interface ApiServerDeps {
  core: Core;
  routes: readonly Route[];
  auth: Authenticator;
  limiter: RateLimiter;
  logger: Logger;
}

/**
 * Serves the routes under /api/v1: authenticates, limits the rate per caller, parses the body
 * and answers JSON, or a problem document that says what went wrong.
 */
export class ApiServer {
  private readonly compiled: Compiled[];

  constructor(private readonly deps: ApiServerDeps) {
    this.compiled = deps.routes.map(compile);
  }

  /** Whether a request is for the API (and so handled here rather than by Slack's receiver). */
  static owns(req: IncomingMessage): boolean {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    return path === API_PREFIX || path.startsWith(`${API_PREFIX}/`);
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    void this.serve(req, res, abort.signal).catch((err: unknown) => {
      const problem = this.problemFor(err);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      // The rest of a body too large was not read: the connection cannot carry another call.
      if (problem.status === 413) res.setHeader('connection', 'close');
      writeProblem(res, problem);
    });
  }

  private async serve(req: IncomingMessage, res: ServerResponse, signal: AbortSignal) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.slice(API_PREFIX.length) || '/';
    const matches = this.compiled
      .map((c) => ({ c, match: c.pattern.exec(path) }))
      .filter((m) => m.match !== null);
    if (matches.length === 0)
      throw new ApiProblem(
        404,
        'no_route',
        `No endpoint ${url.pathname}; see ${API_PREFIX}/openapi.json.`,
      );
    const found = matches.find((m) => m.c.route.method === req.method);
    if (!found) {
      res.setHeader('allow', matches.map((m) => m.c.route.method).join(', '));
      throw new ApiProblem(
        405,
        'method_not_allowed',
        `${req.method} is not allowed on ${url.pathname}.`,
      );
    }
    const { route, names } = found.c;
    const params = Object.fromEntries(names.map((name, i) => [name, found.match![i + 1]!]));
    const first = route.authenticated ? await this.deps.auth.caller(req) : undefined;
    if (first) this.limit(first);
    const body = await parseBody(req, route);
    // A body may take its time to come in: the call is authenticated again once it has, so a
    // token revoked (or an ID token run out) meanwhile files nothing.
    const caller = first && route.body ? await this.deps.auth.caller(req) : first;
    const answer = await route.handle({
      caller: caller as PipelineCaller,
      params,
      query: url.searchParams,
      body,
      headers: req.headers,
      signal,
      recheck: () => this.deps.auth.caller(req),
    });
    if (signal.aborted) return;
    res.writeHead(route.ok.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(JSON.stringify(answer.body));
  }

  private limit(caller: PipelineCaller): void {
    const taken = this.deps.limiter.take(caller.id, this.deps.core.now());
    if (taken.ok) return;
    throw new ApiProblem(
      429,
      'rate_limited',
      `${caller.id} made too many calls; try again in ${taken.retryAfterSeconds}s.`,
      { retryAfterSeconds: taken.retryAfterSeconds },
    );
  }

  private problemFor(err: unknown): ApiProblem {
    if (err instanceof ApiProblem) return err;
    if (err instanceof DomainError) return problemOf(err);
    if (isStoreBusy(err)) {
      this.deps.logger.warn('database busy; the api call was not recorded', { error: err });
      return new ApiProblem(
        503,
        'unavailable',
        "Hallpass's database is busy or out of reach; nothing was changed. Try again in a minute.",
        { retryAfterSeconds: 5 },
      );
    }
    this.deps.logger.error('api call failed', { error: err });
    return new ApiProblem(
      500,
      'internal',
      'Hallpass failed to handle this call; its logs say why.',
    );
  }
}
