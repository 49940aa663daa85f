import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { formatIssues } from '../../src/config/load';
import { gcpIamAdapter, type GcpIamTarget } from '../../src/providers/gcp-iam/adapter';
import type { Provider, ProviderCallContext } from '../../src/providers/types';
import { conditionExpiry, FakeGcp, type IamBinding } from '../support/fake-gcp';
import { tempDir } from '../support/tmp';
import { callContext, providerContract } from './contract';

const PROJECT = 'projects/hallpass-test';
const FOLDER = 'folders/246813579';
const ORGANIZATION = 'organizations/135792468';
const ROLE = 'roles/bigquery.dataViewer';
const TARGET: GcpIamTarget = { resource: PROJECT, role: ROLE };
const HOUR = 3_600_000;

function gcpIam(fake: FakeGcp, extra: Record<string, unknown> = {}): Provider<GcpIamTarget> {
  const config = gcpIamAdapter.configSchema.parse({ apiEndpoint: fake.url, ...extra });
  return gcpIamAdapter.create(config, { configDir: __dirname });
}

function ours(fake: FakeGcp, resource: string, grantId: string): IamBinding[] {
  return fake.bindings(resource).filter((b) => b.condition?.title === `hallpass ${grantId}`);
}

function memberOf(ctx: ProviderCallContext<GcpIamTarget>): string {
  return `user:${ctx.user.email!.toLowerCase()}`;
}

type Env = Record<string, string | undefined>;

/** Sets (or, for undefined, removes) variables and returns what they were. */
function setEnv(vars: Env): Env {
  const before = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  for (const [name, value] of Object.entries(vars)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  return before;
}

/** Points Application Default Credentials at a file; the returned function undoes it. */
function useCredentials(path: string): () => void {
  const before = setEnv({ GOOGLE_APPLICATION_CREDENTIALS: path });
  return () => setEnv(before);
}

providerContract('gcp-iam', async () => {
  const fake = await new FakeGcp().start();
  fake.addResource(PROJECT);
  const tmp = tempDir();
  const restore = useCredentials(fake.writeServiceAccountKey(tmp.dir));
  return {
    provider: gcpIam(fake),
    target: TARGET,
    held: async (ctx) =>
      ours(fake, PROJECT, ctx.grantId).filter((b) => b.members.includes(memberOf(ctx))).length,
    expiryHeld: async (ctx) => {
      const [binding] = ours(fake, PROJECT, ctx.grantId);
      return binding?.condition ? conditionExpiry(binding.condition.expression) : null;
    },
    stalled: async () => {
      for (let i = 0; i < 3; i++) fake.fail('getIamPolicy', { kind: 'hang' });
      return { provider: gcpIam(fake), release: async () => fake.clearFaults() };
    },
    stop: async () => {
      await fake.stop();
      restore();
      tmp.cleanup();
    },
  };
});

describe('gcp-iam provider', () => {
  let fake: FakeGcp;
  let provider: Provider<GcpIamTarget>;
  let tmp: ReturnType<typeof tempDir>;
  let restore: () => void;

  beforeEach(async () => {
    fake = await new FakeGcp().start();
    fake.addResource(PROJECT, [{ role: 'roles/owner', members: ['user:admin@example.com'] }]);
    fake.addResource(FOLDER);
    fake.addResource(ORGANIZATION);
    tmp = tempDir();
    restore = useCredentials(fake.writeServiceAccountKey(tmp.dir));
    provider = gcpIam(fake);
  });
  afterEach(async () => {
    await fake.stop();
    restore();
    tmp.cleanup();
  });

  it('binds the role to user:<email> under a time condition that IAM enforces by itself', async () => {
    const ctx = callContext(TARGET, {
      user: { slackId: 'U0ALICE', email: 'Alice@Example.com' },
    });
    await provider.grant(ctx);
    expect(ours(fake, PROJECT, ctx.grantId)).toEqual([
      {
        role: ROLE,
        members: ['user:alice@example.com'],
        condition: {
          title: `hallpass ${ctx.grantId}`,
          description: `Hallpass grant ${ctx.grantId} (request ${ctx.requestId}) for Slack user U0ALICE; Google ends it at the time in the expression`,
          expression: `request.time < timestamp("${ctx.expiresAt.toISOString()}")`,
        },
      },
    ]);
    const member = 'user:alice@example.com';
    expect(fake.allows(PROJECT, member, ROLE, new Date(ctx.expiresAt.getTime() - 1))).toBe(true);
    expect(fake.allows(PROJECT, member, ROLE, ctx.expiresAt)).toBe(false);
  });

  it('reads version 3, writes version 3 with the etag it read, signed as the service account', async () => {
    await provider.grant(callContext(TARGET));
    const [read] = fake.callsTo('getIamPolicy');
    const [write] = fake.callsTo('setIamPolicy');
    expect(read?.body).toEqual({ options: { requestedPolicyVersion: 3 } });
    expect(write?.body.policy).toMatchObject({ version: 3, etag: expect.any(String) });
    expect(fake.calls.every((call) => call.auth === 'self-signed-jwt')).toBe(true);
  });

  it('writes nothing when the binding is already right, and an extension rewrites the condition', async () => {
    const ctx = callContext(TARGET);
    await provider.grant(ctx);
    await provider.grant(ctx);
    expect(fake.callsTo('setIamPolicy')).toHaveLength(1);

    const later = new Date(ctx.expiresAt.getTime() + 2 * HOUR);
    await provider.grant({ ...ctx, expiresAt: later });
    expect(fake.callsTo('setIamPolicy')).toHaveLength(2);
    const bindings = ours(fake, PROJECT, ctx.grantId);
    expect(bindings).toHaveLength(1);
    expect(bindings[0]?.condition?.expression).toBe(
      `request.time < timestamp("${later.toISOString()}")`,
    );
  });

  it('retries when another writer changes the policy between its read and its write, keeping their binding', async () => {
    const theirs: IamBinding = { role: 'roles/storage.admin', members: ['group:sre@example.com'] };
    fake.fail('setIamPolicy', { kind: 'concurrent-change', change: (b) => [...b, theirs] });
    const ctx = callContext(TARGET);
    await provider.grant(ctx);

    expect(fake.callsTo('getIamPolicy')).toHaveLength(2);
    expect(fake.callsTo('setIamPolicy')).toHaveLength(2);
    expect(fake.bindings(PROJECT)).toEqual(
      expect.arrayContaining([theirs, ...ours(fake, PROJECT, ctx.grantId)]),
    );
    expect(ours(fake, PROJECT, ctx.grantId)).toHaveLength(1);

    const later: IamBinding = { role: 'roles/pubsub.viewer', members: ['user:bob@example.com'] };
    fake.fail('setIamPolicy', { kind: 'concurrent-change', change: (b) => [...b, later] });
    await provider.revoke(ctx);
    expect(ours(fake, PROJECT, ctx.grantId)).toEqual([]);
    expect(fake.bindings(PROJECT)).toEqual(expect.arrayContaining([theirs, later]));
  });

  it('gives up after maxConflictRetries with an error that says why', async () => {
    const limited = gcpIam(fake, { maxConflictRetries: 1 });
    for (let i = 0; i < 2; i++) {
      fake.fail('setIamPolicy', {
        kind: 'concurrent-change',
        change: (b) => [
          ...b,
          { role: 'roles/logging.viewer', members: [`user:w${i}@example.com`] },
        ],
      });
    }
    const ctx = callContext(TARGET);
    await expect(limited.grant(ctx)).rejects.toThrow(
      `gcp-iam: the IAM policy of ${PROJECT} changed during each of 2 read-modify-write attempts (409 ABORTED); the call is retried later`,
    );
    expect(ours(fake, PROJECT, ctx.grantId)).toEqual([]);
    expect(fake.bindings(PROJECT).filter((b) => b.role === 'roles/logging.viewer')).toHaveLength(2);
  });

  it('never touches bindings it did not write, even an unconditional one of the same role and member', async () => {
    const ctx = callContext(TARGET);
    const member = memberOf(ctx);
    const foreign: IamBinding[] = [
      { role: 'roles/owner', members: ['user:admin@example.com'] },
      { role: ROLE, members: [member] },
      {
        role: ROLE,
        members: [member, 'user:carol@example.com'],
        condition: {
          title: 'break-glass',
          expression: 'request.time < timestamp("2031-01-01T00:00:00.000Z")',
        },
      },
      { role: 'roles/storage.admin', members: ['group:sre@example.com'] },
    ];
    fake.changeOutOfBand(PROJECT, () => foreign);

    await provider.grant(ctx);
    expect(fake.bindings(PROJECT).slice(0, foreign.length)).toEqual(foreign);
    expect(ours(fake, PROJECT, ctx.grantId)).toHaveLength(1);

    await provider.grant({ ...ctx, expiresAt: new Date(ctx.expiresAt.getTime() + HOUR) });
    await provider.revoke(ctx);
    expect(fake.bindings(PROJECT)).toEqual(foreign);
    expect(await provider.check!(ctx)).toBe(false);
  });

  it('fails clearly for a user without an email, writing nothing; revoking needs no email', async () => {
    const nameless = callContext(TARGET, { user: { slackId: 'U0NOMAIL' } });
    await expect(provider.grant(nameless)).rejects.toThrow(
      `gcp-iam cannot grant ${ROLE} to Slack user U0NOMAIL: Slack gave no email for them`,
    );
    expect(fake.calls).toEqual([]);

    const ctx = callContext(TARGET);
    await provider.grant(ctx);
    await provider.revoke({ ...ctx, user: { slackId: ctx.user.slackId } });
    expect(ours(fake, PROJECT, ctx.grantId)).toEqual([]);
  });

  it.each([FOLDER, ORGANIZATION])('grants, checks and revokes on %s', async (resource) => {
    const target: GcpIamTarget = { resource, role: 'roles/resourcemanager.folderViewer' };
    const ctx = callContext(target);
    await provider.grant(ctx);
    expect(ours(fake, resource, ctx.grantId)).toHaveLength(1);
    expect(await provider.check!(ctx)).toBe(true);
    await provider.revoke(ctx);
    expect(await provider.check!(ctx)).toBe(false);
    expect(fake.bindings(resource)).toEqual([]);
    expect(new Set(fake.calls.map((call) => call.resource))).toEqual(new Set([resource]));
  });

  it('names the permissions to add on 403 PERMISSION_DENIED, and for a resource that does not exist', async () => {
    fake.fail('getIamPolicy', {
      kind: 'error',
      status: 403,
      code: 'PERMISSION_DENIED',
      message: 'The caller does not have permission',
    });
    await expect(provider.grant(callContext(TARGET))).rejects.toThrow(
      `gcp-iam getIamPolicy on ${PROJECT} failed: 403 PERMISSION_DENIED (The caller does not have permission; the credentials need resourcemanager.projects.getIamPolicy and resourcemanager.projects.setIamPolicy on ${PROJECT}, which must exist)`,
    );
    const missing = callContext({ resource: 'folders/999', role: ROLE });
    await expect(provider.check!(missing)).rejects.toThrow(
      /^gcp-iam getIamPolicy on folders\/999 failed: 403 PERMISSION_DENIED .*resourcemanager\.folders\.setIamPolicy/,
    );
  });

  it('fails on 429 RESOURCE_EXHAUSTED without writing, and the retry succeeds', async () => {
    fake.fail('setIamPolicy', {
      kind: 'error',
      status: 429,
      code: 'RESOURCE_EXHAUSTED',
      message:
        "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute'",
    });
    const ctx = callContext(TARGET);
    await expect(provider.grant(ctx)).rejects.toThrow(
      /^gcp-iam setIamPolicy on projects\/hallpass-test failed: 429 RESOURCE_EXHAUSTED \(Quota exceeded.*; quota exceeded, retried later\)$/,
    );
    expect(ours(fake, PROJECT, ctx.grantId)).toEqual([]);
    await provider.grant(ctx);
    expect(ours(fake, PROJECT, ctx.grantId)).toHaveLength(1);
  });

  it('times out a write that hangs, and a later revoke cleans up whatever it did', async () => {
    fake.fail('setIamPolicy', { kind: 'hang' });
    const ctx = callContext(TARGET, { signal: AbortSignal.timeout(300) });
    await expect(provider.grant(ctx)).rejects.toThrow(
      `gcp-iam setIamPolicy on ${PROJECT} timed out`,
    );
    fake.clearFaults();
    await provider.revoke({ ...ctx, signal: new AbortController().signal });
    expect(ours(fake, PROJECT, ctx.grantId)).toEqual([]);
  });

  it('reports a key Google does not know as refused credentials', async () => {
    const path = fake.writeServiceAccountKey(tmp.dir);
    const key = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    key.private_key = privateKey.export({ type: 'pkcs8', format: 'pem' });
    writeFileSync(path, JSON.stringify(key));
    const error = await gcpIam(fake)
      .grant(callContext(TARGET))
      .catch((err: Error) => err);
    expect((error as Error).message).toMatch(
      /^gcp-iam getIamPolicy on projects\/hallpass-test failed: 401 UNAUTHENTICATED \(.*; Google refused the credentials\)$/,
    );
    expect((error as Error).message).not.toContain('PRIVATE KEY');
  });

  it('never quotes a credentials file that is not valid JSON', async () => {
    const path = fake.writeServiceAccountKey(tmp.dir);
    writeFileSync(path, readFileSync(path, 'utf8').slice(0, 200));
    const error = await gcpIam(fake)
      .grant(callContext(TARGET))
      .catch((err: Error) => err);
    expect((error as Error).message).toBe(
      `gcp-iam getIamPolicy on ${PROJECT}: the credentials file is not valid JSON`,
    );
  });

  it('says where credentials come from when there are none, and names a missing key file', async () => {
    // No variable, no gcloud file under HOME, and not on Google Cloud.
    const saved = setEnv({
      GOOGLE_APPLICATION_CREDENTIALS: undefined,
      HOME: tmp.dir,
      CLOUDSDK_CONFIG: tmp.dir,
      METADATA_SERVER_DETECTION: 'none',
    });
    try {
      await expect(gcpIam(fake).check!(callContext(TARGET))).rejects.toThrow(
        `gcp-iam getIamPolicy on ${PROJECT}: no Google credentials found (Application Default Credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service account key or workload identity file, or run on Google Cloud with a service account attached)`,
      );
      setEnv({ GOOGLE_APPLICATION_CREDENTIALS: `${tmp.dir}/missing.json` });
      await expect(gcpIam(fake).check!(callContext(TARGET))).rejects.toThrow(
        `gcp-iam getIamPolicy on ${PROJECT}: getting a Google access token failed: ENOENT: no such file or directory, lstat '${tmp.dir}/missing.json'`,
      );
    } finally {
      setEnv(saved);
    }
    expect(fake.calls).toEqual([]);
  });
});

describe('gcp-iam with workload identity federation', () => {
  let fake: FakeGcp;
  let tmp: ReturnType<typeof tempDir>;
  let restore: () => void;

  // google-auth-library makes the STS call with a Gaxios of its own, which loads node-fetch 3 with
  // a dynamic import() that Jest's CommonJS runtime cannot run; Gaxios takes a browser's
  // window.fetch instead when there is one, so Node's own fetch is offered that way here.
  // With no project id to go by, the library would look for one on a metadata server (a request
  // to 169.254.169.254) and then with projects.get; deployments set it, as docs/providers.md says.
  let saved: Env;
  beforeAll(() => {
    Object.defineProperty(globalThis, 'window', { value: { fetch }, configurable: true });
    saved = setEnv({ GOOGLE_CLOUD_PROJECT: 'hallpass-test' });
  });
  afterAll(() => {
    delete (globalThis as { window?: unknown }).window;
    setEnv(saved);
  });

  beforeEach(async () => {
    fake = await new FakeGcp().start();
    fake.addResource(PROJECT);
    tmp = tempDir();
    restore = () => undefined;
  });
  afterEach(async () => {
    await fake.stop();
    restore();
    tmp.cleanup();
  });

  it('exchanges the workload OIDC token at STS and calls the API with the token it got', async () => {
    restore = useCredentials(fake.writeWorkloadIdentityConfig(tmp.dir));
    const provider = gcpIam(fake);
    const ctx = callContext(TARGET);
    await provider.grant(ctx);
    expect(await provider.check!(ctx)).toBe(true);

    const [exchange, ...more] = fake.callsTo('sts');
    expect(more).toEqual([]);
    expect(exchange?.body).toMatchObject({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      scope: 'https://www.googleapis.com/auth/cloud-platform',
    });
    const apiCalls = fake.calls.filter((call) => call.endpoint !== 'sts');
    expect(apiCalls.every((call) => call.auth === 'sts-token')).toBe(true);
  });

  it('fails clearly when STS refuses the workload token', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    restore = useCredentials(fake.writeWorkloadIdentityConfig(tmp.dir, privateKey));
    const ctx = callContext(TARGET);
    await expect(gcpIam(fake).grant(ctx)).rejects.toThrow(
      /^gcp-iam getIamPolicy on projects\/hallpass-test: getting a Google access token failed: .*invalid_grant/,
    );
    expect(fake.callsTo('getIamPolicy')).toEqual([]);
  });
});

describe('gcp-iam settings and targets', () => {
  const problems = (schema: 'config' | 'target', value: unknown) => {
    const parsed = (
      schema === 'config' ? gcpIamAdapter.configSchema : gcpIamAdapter.targetSchema
    ).safeParse(value);
    return parsed.success ? [] : formatIssues(parsed.error.issues);
  };

  it('defaults to Google’s endpoint and five conflict retries', () => {
    expect(gcpIamAdapter.configSchema.parse({})).toEqual({
      apiEndpoint: 'https://cloudresourcemanager.googleapis.com',
      maxConflictRetries: 5,
    });
  });

  it('names each bad setting', () => {
    expect(
      problems('config', {
        apiEndpoint: 'http://crm.example.com',
        maxConflictRetries: -1,
        key: 'x',
      }),
    ).toEqual([
      'apiEndpoint: must be https (plain http only to a loopback address)',
      'maxConflictRetries: Too small: expected number to be >=0',
      'key: unknown key',
    ]);
    expect(problems('config', { apiEndpoint: 'https://crm.example.com/v3' })).toEqual([
      'apiEndpoint: must be the bare origin, like https://cloudresourcemanager.googleapis.com, without a path or query',
    ]);
  });

  it('takes projects, folders and organizations, and refuses basic roles', () => {
    for (const resource of ['projects/my-project-1', 'projects/123456', FOLDER, ORGANIZATION]) {
      expect(problems('target', { resource, role: ROLE })).toEqual([]);
    }
    expect(
      problems('target', { resource: PROJECT, role: 'projects/my-project-1/roles/jitReader' }),
    ).toEqual([]);
    expect(problems('target', { resource: 'billingAccounts/1', role: 'roles/editor' })).toEqual([
      'resource: must be projects/<project id or number>, folders/<number> or organizations/<number>',
      'role: IAM allows no conditions on the basic roles owner, editor and viewer: use a predefined or custom role',
    ]);
    expect(problems('target', { resource: PROJECT, role: 'bigquery.dataViewer' })).toEqual([
      'role: must be a role like roles/bigquery.dataViewer or projects/<id>/roles/<custom role>',
    ]);
  });
});
