import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwtHeader, keyOfJwk, rsaThumbprint, verifyRs256 } from './jwt';

export interface OktaUser {
  id: string;
  status: 'ACTIVE' | 'SUSPENDED' | 'DEPROVISIONED';
  created: string;
  lastUpdated: string;
  profile: { login: string; email: string; firstName: string; lastName: string };
}

interface OktaGroup {
  id: string;
  /** Member user ids, in the order they were added (the order Okta pages them in). */
  members: string[];
}

export type OktaRoute =
  'getUser' | 'searchUsers' | 'addMember' | 'removeMember' | 'listMembers' | 'token';

/** Text of a fault's answer, possibly built from the request's Authorization header. */
type Echo = string | ((authorization: string) => string);

/** How the fake meets the next call to a route instead of answering it. */
export type OktaFault =
  /** Never answers; the connection stays open until the caller gives up or the fake stops. */
  | { kind: 'hang' }
  /** 429 E0000047 with X-Rate-Limit-Reset that many seconds ahead. */
  | { kind: 'rate-limit'; resetInSeconds: number }
  /** An Okta error body. */
  | { kind: 'error'; status: number; errorCode: string; errorSummary: Echo }
  /** Something that is not JSON: a proxy's error page. */
  | { kind: 'text'; status: number; body: Echo };

/** An API service app that signs in with a private key (client credentials, private_key_jwt). */
export interface OktaServiceApp {
  clientId: string;
  publicKey: KeyObject;
  scopes: string[];
  /** "Require Demonstrating Proof of Possession (DPoP) header in token requests". */
  requireDpop: boolean;
}

export interface OktaCall {
  route: OktaRoute | 'unknown';
  method: string;
  path: string;
  query: Record<string, string>;
  auth?: 'ssws' | 'bearer' | 'dpop';
}

interface IssuedToken {
  scopes: string[];
  /** For a DPoP-bound token: the thumbprint of the key every proof must be signed with. */
  jkt?: string;
  expiresAt: number;
}

/** The scopes that allow each route, for OAuth access tokens. */
const ROUTE_SCOPES: Record<Exclude<OktaRoute, 'token'>, string[]> = {
  getUser: ['okta.users.read', 'okta.users.manage'],
  searchUsers: ['okta.users.read', 'okta.users.manage'],
  addMember: ['okta.groups.manage'],
  removeMember: ['okta.groups.manage'],
  listMembers: ['okta.groups.read', 'okta.groups.manage'],
};

const DEFAULT_PAGE = 1000;
const RATE_LIMIT = 600;

/**
 * Okta's Management API on loopback, as far as the okta-group provider and the directory's
 * `oktaGroups` reach it: users by id,
 * login or email search; group membership add, remove and list, paginated with Link headers;
 * API tokens (SSWS) and OAuth service apps (client credentials with a signed client assertion,
 * DPoP with a server nonce), with scopes; Okta's error bodies, rate-limit headers and 429s.
 */
export class FakeOkta {
  readonly calls: OktaCall[] = [];
  readonly users = new Map<string, OktaUser>();
  private readonly groups = new Map<string, OktaGroup>();
  private readonly apps = new Map<string, OktaServiceApp>();
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly faults = new Map<OktaRoute, OktaFault[]>();
  private readonly seenProofs = new Set<string>();
  private dpopNonce = randomBytes(16).toString('base64url');
  private hung: ServerResponse[] = [];
  private server?: Server;

  /** `maxPageSize` caps `limit`, as Okta caps it, so pagination shows with few members. */
  constructor(
    readonly apiToken: string,
    private readonly maxPageSize = DEFAULT_PAGE,
  ) {}

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('FakeOkta is not started');
    return `http://127.0.0.1:${address.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => this.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.clearFaults();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  addUser(login: string, email = login, status: OktaUser['status'] = 'ACTIVE'): OktaUser {
    const now = new Date().toISOString();
    const user: OktaUser = {
      id: oktaId('00u'),
      status,
      created: now,
      lastUpdated: now,
      profile: { login, email, firstName: login.split('@')[0] ?? login, lastName: 'Test' },
    };
    this.users.set(user.id, user);
    return user;
  }

  addGroup(): string {
    const id = oktaId('00g');
    this.groups.set(id, { id, members: [] });
    return id;
  }

  addServiceApp(app: Omit<OktaServiceApp, 'clientId'>): string {
    const clientId = oktaId('0oa');
    this.apps.set(clientId, { clientId, ...app });
    return clientId;
  }

  members(groupId: string): string[] {
    return [...(this.groups.get(groupId)?.members ?? [])];
  }

  /** Adds a member the way an admin would in the console. */
  addMember(groupId: string, userId: string): void {
    const group = this.groups.get(groupId);
    if (group && !group.members.includes(userId)) group.members.push(userId);
  }

  /** Removes a member the way an admin would in the console. */
  removeMember(groupId: string, userId: string): void {
    const group = this.groups.get(groupId);
    if (group) group.members = group.members.filter((id) => id !== userId);
  }

  /** Deletes a group (its membership goes with it): it answers 404 E0000007 from then on. */
  deleteGroup(groupId: string): void {
    this.groups.delete(groupId);
  }

  /** The next call to `route` meets `fault`. */
  fail(route: OktaRoute, fault: OktaFault): void {
    this.faults.set(route, [...(this.faults.get(route) ?? []), fault]);
  }

  /**
   * The target answers again: faults not yet met are dropped (a call that timed out before
   * reaching this server leaves its fault behind) and hung calls are cut.
   */
  clearFaults(): void {
    this.faults.clear();
    for (const res of this.hung) res.destroy();
    this.hung = [];
  }

  callsTo(route: OktaRoute): OktaCall[] {
    return this.calls.filter((call) => call.route === route);
  }

  private handle(req: IncomingMessage, body: string, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    const method = req.method ?? 'GET';
    const { route, params } = routeOf(method, url.pathname);
    const call: OktaCall = {
      route,
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
    };
    this.calls.push(call);
    res.setHeader('X-Okta-Request-Id', randomBytes(12).toString('base64url'));
    if (route === 'token') return this.issueToken(req.headers, body, res);
    if (route === 'unknown') {
      return oktaError(
        res,
        404,
        'E0000022',
        'The endpoint does not support the provided HTTP method',
      );
    }

    const auth = this.authenticate(req.headers, method, url);
    if (typeof auth === 'string') {
      res.setHeader(
        'WWW-Authenticate',
        `Bearer error="invalid_token", error_description="${auth}"`,
      );
      return oktaError(res, 401, 'E0000011', 'Invalid token provided');
    }
    call.auth = auth.kind;
    if (auth.scopes && !ROUTE_SCOPES[route].some((scope) => auth.scopes!.includes(scope))) {
      res.setHeader('WWW-Authenticate', 'Bearer error="insufficient_scope"');
      return oktaError(
        res,
        403,
        'E0000006',
        'You do not have permission to perform the requested action',
      );
    }
    this.rateLimitHeaders(res, RATE_LIMIT - 1, 60);
    if (this.meetFault(route, req.headers.authorization ?? '', res)) return;

    switch (route) {
      case 'getUser':
        return this.getUser(params[0] ?? '', res);
      case 'searchUsers':
        return this.searchUsers(url, res);
      case 'addMember':
      case 'removeMember':
        return this.changeMembership(route, params[0] ?? '', params[1] ?? '', res);
      case 'listMembers':
        return this.listMembers(params[0] ?? '', url, res);
    }
  }

  private meetFault(route: OktaRoute, authorization: string, res: ServerResponse): boolean {
    const fault = this.faults.get(route)?.shift();
    if (!fault) return false;
    const echo = (text: Echo) => (typeof text === 'string' ? text : text(authorization));
    switch (fault.kind) {
      case 'hang':
        this.hung.push(res);
        break;
      case 'rate-limit':
        this.rateLimitHeaders(res, 0, fault.resetInSeconds);
        oktaError(res, 429, 'E0000047', 'API call exceeded rate limit due to too many requests.');
        break;
      case 'error':
        oktaError(res, fault.status, fault.errorCode, echo(fault.errorSummary));
        break;
      case 'text':
        res.writeHead(fault.status, { 'Content-Type': 'text/html' });
        res.end(echo(fault.body));
    }
    return true;
  }

  private rateLimitHeaders(res: ServerResponse, remaining: number, resetInSeconds: number): void {
    res.setHeader('X-Rate-Limit-Limit', String(RATE_LIMIT));
    res.setHeader('X-Rate-Limit-Remaining', String(remaining));
    res.setHeader('X-Rate-Limit-Reset', String(Math.floor(Date.now() / 1000) + resetInSeconds));
  }

  /** Who is calling: the kind of credential and, for OAuth tokens, their scopes; or why not. */
  private authenticate(
    headers: IncomingHttpHeaders,
    method: string,
    url: URL,
  ): { kind: 'ssws' | 'bearer' | 'dpop'; scopes?: string[] } | string {
    const [scheme, credential] = (headers.authorization ?? '').split(' ', 2);
    if (scheme === 'SSWS') return credential === this.apiToken ? { kind: 'ssws' } : 'bad API token';
    const issued = credential ? this.tokens.get(credential) : undefined;
    if (!issued || issued.expiresAt < Date.now()) return 'unknown or expired access token';
    if (scheme === 'Bearer' && !issued.jkt) return { kind: 'bearer', scopes: issued.scopes };
    if (scheme !== 'DPoP' || !issued.jkt) return 'wrong authorization scheme for this token';
    const problem = this.proofProblem(headers.dpop, method, `${url.origin}${url.pathname}`, {
      jkt: issued.jkt,
      accessToken: credential!,
    });
    return problem ?? { kind: 'dpop', scopes: issued.scopes };
  }

  /**
   * Checks a DPoP proof (RFC 9449): typ, RS256 signature by the embedded public key, method and
   * URL, freshness, a jti never seen before, and for resource calls the key binding and `ath`.
   */
  private proofProblem(
    proof: string | string[] | undefined,
    method: string,
    htu: string,
    bound?: { jkt: string; accessToken: string },
    nonce?: string,
  ): string | undefined {
    if (typeof proof !== 'string') return 'missing DPoP proof';
    try {
      const header = jwtHeader(proof);
      if (header.typ !== 'dpop+jwt') return 'DPoP proof typ is not dpop+jwt';
      const jwk = header.jwk as Record<string, unknown>;
      const { payload } = verifyRs256(proof, keyOfJwk(jwk), { requireExp: false });
      if (payload.htm !== method) return 'DPoP htm does not match';
      if (payload.htu !== htu) return 'DPoP htu does not match';
      if (Math.abs(Date.now() / 1000 - Number(payload.iat)) > 300) return 'DPoP proof is stale';
      if (typeof payload.jti !== 'string' || this.seenProofs.has(payload.jti)) {
        return 'DPoP jti reused';
      }
      this.seenProofs.add(payload.jti);
      if (nonce !== undefined && payload.nonce !== nonce) return 'nonce';
      if (bound) {
        if (rsaThumbprint(jwk) !== bound.jkt) return 'DPoP key does not match the token';
        const ath = createHash('sha256').update(bound.accessToken).digest('base64url');
        if (payload.ath !== ath) return 'DPoP ath does not match';
      }
      return undefined;
    } catch (err) {
      return `bad DPoP proof (${(err as Error).message})`;
    }
  }

  /** `POST /oauth2/v1/token`: client credentials for a service app. */
  private issueToken(headers: IncomingHttpHeaders, body: string, res: ServerResponse): void {
    const form = Object.fromEntries(new URLSearchParams(body));
    const refuse = (status: number, error: string, description: string) =>
      send(res, status, { error, error_description: description });
    if (this.meetFault('token', headers.authorization ?? '', res)) return;
    if (form.grant_type !== 'client_credentials') {
      return refuse(
        400,
        'unsupported_grant_type',
        'The authorization grant type is not supported.',
      );
    }
    if (form.client_assertion_type !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
      return refuse(401, 'invalid_client', 'Client authentication failed.');
    }
    const tokenUrl = `${this.url}/oauth2/v1/token`;
    let app: OktaServiceApp | undefined;
    try {
      const assertion = form.client_assertion ?? '';
      const claimed = JSON.parse(
        Buffer.from(assertion.split('.')[1] ?? '', 'base64url').toString('utf8'),
      ) as { iss?: string };
      app = this.apps.get(claimed.iss ?? '');
      if (!app) throw new Error('unknown client');
      const { payload } = verifyRs256(assertion, app.publicKey);
      if (payload.sub !== app.clientId) throw new Error('sub');
      if (payload.aud !== tokenUrl) throw new Error('aud');
      if (Number(payload.exp) - Number(payload.iat) > 3600) throw new Error('lifetime');
    } catch {
      return refuse(401, 'invalid_client', 'The client_assertion signature is invalid.');
    }
    const asked = (form.scope ?? '').split(' ').filter(Boolean);
    const refused = asked.filter((scope) => !app!.scopes.includes(scope));
    if (asked.length === 0 || refused.length > 0) {
      return refuse(
        400,
        'invalid_scope',
        `The following scopes are not allowed: ${refused.join(', ')}`,
      );
    }
    let jkt: string | undefined;
    if (app.requireDpop) {
      const problem = this.proofProblem(headers.dpop, 'POST', tokenUrl, undefined, this.dpopNonce);
      if (problem === 'nonce') {
        res.setHeader('DPoP-Nonce', this.dpopNonce);
        return refuse(400, 'use_dpop_nonce', 'Authorization server requires nonce in DPoP proof.');
      }
      if (problem) return refuse(400, 'invalid_dpop_proof', problem);
      jkt = rsaThumbprint(jwtHeader(headers.dpop as string).jwk as Record<string, unknown>);
    }
    const accessToken = randomBytes(32).toString('base64url');
    this.tokens.set(accessToken, { scopes: asked, jkt, expiresAt: Date.now() + 3600_000 });
    send(res, 200, {
      token_type: jkt ? 'DPoP' : 'Bearer',
      expires_in: 3600,
      access_token: accessToken,
      scope: asked.join(' '),
    });
  }

  private findUser(idOrLogin: string): OktaUser | undefined {
    const wanted = idOrLogin.toLowerCase();
    const all = [...this.users.values()];
    return (
      this.users.get(idOrLogin) ??
      all.find((user) => user.profile.login.toLowerCase() === wanted) ??
      // A login's short name works too, when only one login has it.
      unique(all.filter((user) => user.profile.login.toLowerCase().split('@')[0] === wanted))
    );
  }

  private getUser(idOrLogin: string, res: ServerResponse): void {
    const user = this.findUser(idOrLogin);
    if (!user) return notFound(res, idOrLogin, 'User');
    send(res, 200, this.userJson(user));
  }

  private searchUsers(url: URL, res: ServerResponse): void {
    const search = url.searchParams.get('search') ?? '';
    const match = /^profile\.(email|login) eq "((?:[^"\\]|\\.)*)"$/.exec(search);
    if (!match) return oktaError(res, 400, 'E0000031', 'Invalid search criteria.');
    const field = match[1] as 'email' | 'login';
    const value = (match[2] ?? '').replace(/\\(.)/g, '$1').toLowerCase();
    const found = [...this.users.values()].filter(
      (user) => user.profile[field].toLowerCase() === value,
    );
    this.page(
      res,
      url,
      found.map((user) => user.id),
      (id) => this.userJson(this.users.get(id)!),
    );
  }

  private changeMembership(
    route: 'addMember' | 'removeMember',
    groupId: string,
    userId: string,
    res: ServerResponse,
  ): void {
    const group = this.groups.get(groupId);
    if (!group) return notFound(res, groupId, 'UserGroup');
    if (!this.users.has(userId)) return notFound(res, userId, 'User');
    if (route === 'addMember') this.addMember(groupId, userId);
    else this.removeMember(groupId, userId);
    res.writeHead(204);
    res.end();
  }

  private listMembers(groupId: string, url: URL, res: ServerResponse): void {
    const group = this.groups.get(groupId);
    if (!group) return notFound(res, groupId, 'UserGroup');
    this.page(res, url, group.members, (id) => this.userJson(this.users.get(id)!));
  }

  /** One page of ids after the `after` cursor, with Link headers for self and, if more, next. */
  private page(
    res: ServerResponse,
    url: URL,
    ids: string[],
    render: (id: string) => unknown,
  ): void {
    const asked = Number(url.searchParams.get('limit') ?? DEFAULT_PAGE);
    const limit = Math.min(asked > 0 ? asked : DEFAULT_PAGE, this.maxPageSize);
    const after = url.searchParams.get('after');
    const start = after ? ids.indexOf(after) + 1 : 0;
    const slice = ids.slice(start, start + limit);
    const links = [`<${url.origin}${url.pathname}?${url.searchParams}>; rel="self"`];
    const last = slice[slice.length - 1];
    if (last && start + limit < ids.length) {
      const next = new URLSearchParams(url.searchParams);
      next.set('after', last);
      next.set('limit', String(limit));
      links.push(`<${url.origin}${url.pathname}?${next}>; rel="next"`);
    }
    res.setHeader('Link', links);
    send(res, 200, slice.map(render));
  }

  private userJson(user: OktaUser): Record<string, unknown> {
    return {
      ...user,
      type: { id: 'oty1default' },
      credentials: { provider: { type: 'OKTA', name: 'OKTA' } },
      _links: { self: { href: `${this.url}/api/v1/users/${user.id}` } },
    };
  }
}

function routeOf(method: string, path: string): { route: OktaCall['route']; params: string[] } {
  const parts = path.split('/').slice(1).map(decodeURIComponent);
  const at = (i: number) => parts[i] ?? '';
  if (method === 'POST' && path === '/oauth2/v1/token') return { route: 'token', params: [] };
  if (at(0) !== 'api' || at(1) !== 'v1') return { route: 'unknown', params: [] };
  if (at(2) === 'users' && method === 'GET') {
    if (parts.length === 3) return { route: 'searchUsers', params: [] };
    if (parts.length === 4) return { route: 'getUser', params: [at(3)] };
  }
  if (at(2) === 'groups' && at(4) === 'users') {
    if (parts.length === 5 && method === 'GET') return { route: 'listMembers', params: [at(3)] };
    if (parts.length === 6 && method === 'PUT')
      return { route: 'addMember', params: [at(3), at(5)] };
    if (parts.length === 6 && method === 'DELETE') {
      return { route: 'removeMember', params: [at(3), at(5)] };
    }
  }
  return { route: 'unknown', params: [] };
}

/** An Okta object id: a type prefix and 17 letters and digits. */
function oktaId(prefix: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let id = prefix;
  for (const byte of randomBytes(17)) id += alphabet[byte % alphabet.length];
  return id;
}

function unique<T>(items: T[]): T | undefined {
  return items.length === 1 ? items[0] : undefined;
}

function notFound(res: ServerResponse, id: string, type: string): void {
  oktaError(res, 404, 'E0000007', `Not found: Resource not found: ${id} (${type})`);
}

function oktaError(res: ServerResponse, status: number, code: string, summary: string): void {
  send(res, status, {
    errorCode: code,
    errorSummary: summary,
    errorLink: code,
    errorId: `oae${randomBytes(11).toString('base64url')}`,
    errorCauses: [],
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}
