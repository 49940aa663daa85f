import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { jwtHeader, signRs256, verifyRs256 } from './jwt';

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const PROJECT_NUMBER = '123456789012';
const POOL_PROVIDER = `projects/${PROJECT_NUMBER}/locations/global/workloadIdentityPools/hallpass/providers/ci`;
/** What the workload identity file names as `audience`, and what STS expects to be asked for. */
const STS_AUDIENCE = `//iam.googleapis.com/${POOL_PROVIDER}`;
/** The default allowed audience of an OIDC provider, which its tokens must carry in `aud`. */
const OIDC_AUDIENCE = `https://iam.googleapis.com/${POOL_PROVIDER}`;
const OIDC_ISSUER = 'https://oidc.hallpass.test';
const BASIC_ROLES = new Set(['roles/owner', 'roles/editor', 'roles/viewer']);
const TIME_CONDITION = /^request\.time < timestamp\("([^"]+)"\)$/;

let keyPairs: Record<'serviceAccount' | 'oidc', ReturnType<typeof rsaKeyPair>> | undefined;

function rsaKeyPair() {
  return generateKeyPairSync('rsa', { modulusLength: 2048 });
}

/** RSA keys are slow to make, so every fake of a test file shares the same two. */
function testKeys() {
  keyPairs ??= { serviceAccount: rsaKeyPair(), oidc: rsaKeyPair() };
  return keyPairs;
}

export interface IamCondition {
  title?: string;
  description?: string;
  expression: string;
}

export interface IamBinding {
  role: string;
  members: string[];
  condition?: IamCondition;
}

interface StoredPolicy {
  etag: string;
  bindings: IamBinding[];
}

export type GcpEndpoint = 'getIamPolicy' | 'setIamPolicy' | 'sts';

/** How the fake meets the next call to an endpoint instead of only answering it. */
export type GcpFault =
  | { kind: 'error'; status: number; code: string; message: string }
  /** Never answers; the connection stays open until the caller gives up or the fake stops. */
  | { kind: 'hang' }
  /** Another writer changes the stored policy just before this call is handled. */
  | { kind: 'concurrent-change'; change: (bindings: IamBinding[]) => IamBinding[] };

export interface GcpCall {
  endpoint: GcpEndpoint;
  resource?: string;
  body: Record<string, unknown>;
  /** How the caller proved who it is: a service account's self-signed JWT or an STS token. */
  auth?: 'self-signed-jwt' | 'sts-token';
}

/**
 * Google Cloud on loopback, as far as the gcp-iam provider reaches it: Cloud Resource Manager
 * v3's getIamPolicy and setIamPolicy (projects, folders, organizations), with IAM's etag check,
 * version-3 rule for conditions and error bodies; the STS token exchange of workload identity
 * federation; and a service account whose key file it writes. Requests are authorised the way
 * Google does: a self-signed JWT checked against the service account's public key, or an access
 * token STS issued.
 */
export class FakeGcp {
  readonly calls: GcpCall[] = [];
  readonly serviceAccount = {
    email: 'hallpass@hallpass-test.iam.gserviceaccount.com',
    keyId: randomBytes(20).toString('hex'),
  };
  private readonly keys = testKeys().serviceAccount;
  private readonly oidcKeys = testKeys().oidc;
  private readonly policies = new Map<string, StoredPolicy>();
  private readonly faults = new Map<GcpEndpoint, GcpFault[]>();
  private readonly stsTokens = new Map<string, number>();
  private hung: ServerResponse[] = [];
  private server?: Server;
  private etagCounter = 0;

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('FakeGcp is not started');
    return `http://127.0.0.1:${address.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () =>
        this.handle(req.method ?? '', req.url ?? '', req.headers, Buffer.concat(chunks), res),
      );
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

  /** A resource (`projects/x`, `folders/1`, `organizations/1`) with the bindings it starts with. */
  addResource(name: string, bindings: IamBinding[] = []): void {
    this.policies.set(name, { etag: this.nextEtag(), bindings: structuredClone(bindings) });
  }

  /** The resource's bindings as IAM holds them now (a copy). */
  bindings(resource: string): IamBinding[] {
    return structuredClone(this.stored(resource).bindings);
  }

  etag(resource: string): string {
    return this.stored(resource).etag;
  }

  /** Someone else edits the policy (the console, Terraform): new bindings, new etag. */
  changeOutOfBand(resource: string, change: (bindings: IamBinding[]) => IamBinding[]): void {
    const policy = this.stored(resource);
    policy.bindings = change(structuredClone(policy.bindings));
    policy.etag = this.nextEtag();
  }

  /**
   * What IAM decides for `member` asking with `role` at `at`: a binding of the role naming the
   * member whose condition, if any, holds at that time. Only the time condition is understood.
   */
  allows(resource: string, member: string, role: string, at: Date): boolean {
    return this.stored(resource).bindings.some((binding) => {
      if (binding.role !== role) return false;
      if (!binding.members.some((m) => m.toLowerCase() === member.toLowerCase())) return false;
      if (!binding.condition) return true;
      const expiry = conditionExpiry(binding.condition.expression);
      if (!expiry) throw new Error(`FakeGcp cannot evaluate ${binding.condition.expression}`);
      return at.getTime() < expiry.getTime();
    });
  }

  /** The next call to `endpoint` meets `fault`. */
  fail(endpoint: GcpEndpoint, fault: GcpFault): void {
    this.faults.set(endpoint, [...(this.faults.get(endpoint) ?? []), fault]);
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

  callsTo(endpoint: GcpEndpoint): GcpCall[] {
    return this.calls.filter((call) => call.endpoint === endpoint);
  }

  /** A service account key file as the Cloud console downloads it; returns its path. */
  writeServiceAccountKey(dir: string): string {
    const path = join(dir, 'service-account.json');
    const key = {
      type: 'service_account',
      project_id: 'hallpass-test',
      private_key_id: this.serviceAccount.keyId,
      private_key: this.keys.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      client_email: this.serviceAccount.email,
      client_id: '109876543210987654321',
      auth_uri: 'https://accounts.google.com/o/oauth2/auth',
      token_uri: 'https://oauth2.googleapis.com/token',
      universe_domain: 'googleapis.com',
    };
    writeFileSync(path, JSON.stringify(key, null, 2), { mode: 0o600 });
    return path;
  }

  /**
   * A workload identity federation file (`gcloud iam workload-identity-pools create-cred-config`
   * with a file-sourced OIDC token) whose token_url is this fake's STS, and the OIDC token it
   * reads, signed by the workload's identity provider (or by `signer`, to test a refusal).
   */
  writeWorkloadIdentityConfig(dir: string, signer: KeyObject = this.oidcKeys.privateKey): string {
    const tokenPath = join(dir, 'oidc-token.jwt');
    const now = Math.floor(Date.now() / 1000);
    const oidcToken = signRs256(
      {
        iss: OIDC_ISSUER,
        aud: OIDC_AUDIENCE,
        sub: 'system:serviceaccount:ops:hallpass',
        iat: now,
        exp: now + 3600,
      },
      signer,
    );
    writeFileSync(tokenPath, oidcToken, { mode: 0o600 });
    const path = join(dir, 'workload-identity.json');
    const config = {
      type: 'external_account',
      audience: STS_AUDIENCE,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: `${this.url}/v1/token`,
      credential_source: { file: tokenPath, format: { type: 'text' } },
      universe_domain: 'googleapis.com',
    };
    writeFileSync(path, JSON.stringify(config, null, 2), { mode: 0o600 });
    return path;
  }

  private stored(resource: string): StoredPolicy {
    const policy = this.policies.get(resource);
    if (!policy) throw new Error(`FakeGcp has no ${resource}`);
    return policy;
  }

  private nextEtag(): string {
    this.etagCounter += 1;
    return Buffer.from(`BwY${this.etagCounter.toString(16).padStart(5, '0')}`).toString('base64');
  }

  private handle(
    method: string,
    url: string,
    headers: IncomingHttpHeaders,
    raw: Buffer,
    res: ServerResponse,
  ): void {
    if (method === 'POST' && url === '/v1/token') return this.exchangeToken(raw, headers, res);
    const match =
      /^\/v3\/((?:projects|folders|organizations)\/[^/:]+):(getIamPolicy|setIamPolicy)$/.exec(url);
    if (method !== 'POST' || !match) {
      return googleError(res, 404, 'NOT_FOUND', `Method not found: ${method} ${url}`);
    }
    const [, resource, endpoint] = match as unknown as [
      string,
      string,
      'getIamPolicy' | 'setIamPolicy',
    ];
    const auth = this.authenticate(headers.authorization);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      return googleError(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    }
    this.calls.push({ endpoint, resource, body, ...(auth ? { auth } : {}) });
    if (!auth) {
      return googleError(
        res,
        401,
        'UNAUTHENTICATED',
        'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.',
      );
    }
    if (!String(headers['content-type']).startsWith('application/json')) {
      return googleError(res, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
    }
    if (this.meetFault(endpoint, resource, res)) return;
    if (!this.policies.has(resource)) {
      // Google does not tell an unknown resource from one the caller may not see.
      return googleError(res, 403, 'PERMISSION_DENIED', 'The caller does not have permission');
    }
    if (endpoint === 'getIamPolicy') return this.getPolicy(resource, body, res);
    return this.setPolicy(resource, body, res);
  }

  /** True when a fault answered (or is holding) the call. */
  private meetFault(
    endpoint: GcpEndpoint,
    resource: string | undefined,
    res: ServerResponse,
  ): boolean {
    const fault = this.faults.get(endpoint)?.shift();
    if (!fault) return false;
    if (fault.kind === 'hang') {
      this.hung.push(res);
      return true;
    }
    if (fault.kind === 'error') {
      googleError(res, fault.status, fault.code, fault.message);
      return true;
    }
    if (resource) this.changeOutOfBand(resource, fault.change);
    return false;
  }

  private getPolicy(resource: string, body: Record<string, unknown>, res: ServerResponse): void {
    const requested = (body.options as { requestedPolicyVersion?: unknown } | undefined)
      ?.requestedPolicyVersion;
    if (requested !== undefined && ![0, 1, 3].includes(requested as number)) {
      return googleError(res, 400, 'INVALID_ARGUMENT', 'Invalid requested policy version.');
    }
    const policy = this.stored(resource);
    const conditional = policy.bindings.some((b) => b.condition);
    if (conditional && requested !== 3) {
      return googleError(
        res,
        400,
        'INVALID_ARGUMENT',
        'The policy has conditional role bindings; requestedPolicyVersion must be 3.',
      );
    }
    send(res, 200, policyAnswer(policy));
  }

  private setPolicy(resource: string, body: Record<string, unknown>, res: ServerResponse): void {
    const policy = body.policy as
      { version?: unknown; etag?: unknown; bindings?: unknown } | undefined;
    if (!policy || typeof policy !== 'object') {
      return googleError(
        res,
        400,
        'INVALID_ARGUMENT',
        'Request contains an invalid argument: policy is required.',
      );
    }
    const current = this.stored(resource);
    // Without an etag IAM overwrites blindly, as documented; with one it must match.
    if (policy.etag !== undefined && policy.etag !== current.etag) {
      return googleError(
        res,
        409,
        'ABORTED',
        `There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff. The request's ETag '"${String(policy.etag)}"' did not match the current policy's ETag '"${current.etag}"'.`,
      );
    }
    const bindings = (policy.bindings ?? []) as IamBinding[];
    const problem = bindingsProblem(bindings);
    if (problem) return googleError(res, 400, 'INVALID_ARGUMENT', problem);
    const conditional =
      bindings.some((b) => b.condition) || current.bindings.some((b) => b.condition);
    if (conditional && policy.version !== 3) {
      return googleError(
        res,
        400,
        'INVALID_ARGUMENT',
        'Policy version 3 is required to set or remove conditional role bindings.',
      );
    }
    current.bindings = structuredClone(bindings);
    current.etag = this.nextEtag();
    send(res, 200, policyAnswer(current));
  }

  private authenticate(header: string | undefined): GcpCall['auth'] | undefined {
    const token = /^Bearer (\S+)$/.exec(header ?? '')?.[1];
    if (!token) return undefined;
    const stsExpiry = this.stsTokens.get(token);
    if (stsExpiry !== undefined) return stsExpiry > Date.now() ? 'sts-token' : undefined;
    try {
      if (jwtHeader(token).kid !== this.serviceAccount.keyId) return undefined;
      const { payload } = verifyRs256(token, this.keys.publicKey);
      const email = this.serviceAccount.email;
      if (payload.iss !== email || payload.sub !== email) return undefined;
      if (
        !String(payload.scope ?? '')
          .split(' ')
          .includes(CLOUD_PLATFORM)
      )
        return undefined;
      if (Number(payload.exp) - Number(payload.iat) > 3600) return undefined;
      return 'self-signed-jwt';
    } catch {
      return undefined;
    }
  }

  /** STS `POST /v1/token`: RFC 8693 token exchange of the workload's OIDC token. */
  private exchangeToken(raw: Buffer, headers: IncomingHttpHeaders, res: ServerResponse): void {
    const form = new URLSearchParams(raw.toString('utf8'));
    const body = Object.fromEntries(form);
    this.calls.push({ endpoint: 'sts', body });
    if (this.meetFault('sts', undefined, res)) return;
    const refuse = (error: string, description: string) =>
      send(res, 400, { error, error_description: description });
    if (!String(headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
      return refuse('invalid_request', 'The request must be form-encoded.');
    }
    if (body.grant_type !== 'urn:ietf:params:oauth:grant-type:token-exchange') {
      return refuse('unsupported_grant_type', `Unsupported grant type: ${body.grant_type}`);
    }
    if (body.audience !== STS_AUDIENCE)
      return refuse(
        'invalid_target',
        'The target service indicated by the "audience" parameters is invalid.',
      );
    if (
      !String(body.scope ?? '')
        .split(' ')
        .includes(CLOUD_PLATFORM)
    )
      return refuse('invalid_scope', 'The scope is invalid.');
    if (body.requested_token_type !== 'urn:ietf:params:oauth:token-type:access_token') {
      return refuse('invalid_request', 'Invalid value for "requested_token_type".');
    }
    if (body.subject_token_type !== 'urn:ietf:params:oauth:token-type:jwt') {
      return refuse('invalid_request', 'Invalid value for "subject_token_type".');
    }
    try {
      const { payload } = verifyRs256(body.subject_token ?? '', this.oidcKeys.publicKey);
      if (payload.iss !== OIDC_ISSUER) throw new Error('issuer');
      if (payload.aud !== OIDC_AUDIENCE) throw new Error('audience');
    } catch (err) {
      return refuse('invalid_grant', `The subject token is invalid (${(err as Error).message}).`);
    }
    const token = `ya29.sts-${randomBytes(24).toString('base64url')}`;
    this.stsTokens.set(token, Date.now() + 3600_000);
    send(res, 200, {
      access_token: token,
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      token_type: 'Bearer',
      expires_in: 3599,
    });
  }
}

/** The time in `request.time < timestamp("…")`, or null for any other expression. */
export function conditionExpiry(expression: string): Date | null {
  const at = TIME_CONDITION.exec(expression)?.[1];
  return at ? new Date(at) : null;
}

function policyAnswer(policy: StoredPolicy): Record<string, unknown> {
  const conditional = policy.bindings.some((b) => b.condition);
  return {
    version: conditional ? 3 : 1,
    etag: policy.etag,
    ...(policy.bindings.length > 0 ? { bindings: policy.bindings } : {}),
  };
}

function bindingsProblem(bindings: IamBinding[]): string | undefined {
  for (const binding of bindings) {
    if (
      typeof binding.role !== 'string' ||
      !/^(roles|projects|organizations)\//.test(binding.role)
    ) {
      return `Role ${String(binding.role)} is not valid.`;
    }
    if (!Array.isArray(binding.members) || binding.members.length === 0) {
      return `Binding for ${binding.role} has no members.`;
    }
    const condition = binding.condition;
    if (!condition) continue;
    if (BASIC_ROLES.has(binding.role)) {
      return `Conditions are not supported for basic role ${binding.role}.`;
    }
    if (!condition.title || condition.title.length > 100) return 'Condition title is invalid.';
    if ((condition.description ?? '').length > 256) return 'Condition description is too long.';
    if (!condition.expression) return 'Condition expression is empty.';
  }
  return undefined;
}

function googleError(res: ServerResponse, status: number, code: string, message: string): void {
  send(res, status, { error: { code: status, message, status: code } });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify(body));
}
