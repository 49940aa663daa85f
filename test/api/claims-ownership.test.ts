import { Sealer } from '../../src/secrets/seal';
import { coreHarness, type CoreHarness } from '../support/core';
import { TestIssuer } from '../support/oidc-issuer';
import { callApi, serveApi, type ServedApi } from './served-api';

/**
 * Two callers can share an identity: GitHub's `sub` for a job in an environment is
 * `repo:<r>:environment:<env>` whatever branch or workflow runs it, and tokens of one identity are
 * bound to different resources. What a caller may read and act on is decided by the same rules as
 * what it may request (the claims, the token's resources), not by the identity alone.
 */
const AUDIENCE = 'hallpass-test';
const SECRET = 'claims-ownership-sealing-secret';

const yaml = (issuerUrl: string) => `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
api:
  oidc:
    github: { issuer: '${issuerUrl}', audience: ${AUDIENCE} }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: prod-db
    name: Production database
    provider: hook
    maxDuration: 1h
    approvers: { users: [ULEAD] }
    pipelines:
      # Only the deploy workflow, from main, in the production environment.
      - oidc: github
        claims: { repository: acme/app, environment: production, ref: refs/heads/main, workflow: deploy }
        autoApprove: { maxDuration: 15m }
      - token: ci:deploy-bot
        autoApprove: { maxDuration: 15m }
  - id: sandbox
    name: Sandbox
    provider: hook
    maxDuration: 1h
    approvers: { users: [ULEAD] }
    pipelines:
      - oidc: github
        claims: { repository: acme/app }
      - token: ci:deploy-bot
`;

/** A GitHub Actions job that uses an environment: its `sub` names the environment, not the ref. */
function environmentJob(ref: string, workflow: string) {
  return {
    sub: 'repo:acme/app:environment:production',
    repository: 'acme/app',
    repository_owner: 'acme',
    environment: 'production',
    ref,
    ref_type: 'branch',
    workflow,
    event_name: 'push',
    run_id: ref === 'refs/heads/main' ? '1111111111' : '2222222222',
  };
}

describe('what an API caller may read and act on follows the rules it may request by', () => {
  let h: CoreHarness;
  let issuer: TestIssuer;
  let served: ServedApi;
  const sealer = new Sealer(SECRET);

  beforeEach(async () => {
    issuer = await new TestIssuer(AUDIENCE).start();
    h = await coreHarness(yaml(issuer.url));
    served = await serveApi(h.core, sealer);
  });
  afterEach(async () => {
    await served.close();
    await issuer.stop();
    await h.close();
  });

  const call = (
    method: string,
    path: string,
    bearer: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => callApi(served.base, method, path, bearer, body, headers);

  /** Files prod-db as `bearer` (auto-approved), activates the grant, and seals its password. */
  async function prodGrant(bearer: string, key: string): Promise<{ id: string; grantId: string }> {
    const filed = await call(
      'POST',
      '/requests',
      bearer,
      { resource: 'prod-db', duration: '15m', reason: 'deploying build 42 to production' },
      { 'idempotency-key': key },
    );
    expect(filed.status).toBe(201);
    expect(filed.body).toMatchObject({ status: 'approved', autoApproved: true });
    const grantId = String((filed.body.grant as { id: string }).id);
    await h.core.lifecycle.activated(grantId, {
      startsAt: h.clock.now(),
      expiresAt: h.clock.now() + 900_000,
      state: undefined,
      elapsedMs: 1,
    });
    await h.store.pipelineCredentials.put(
      grantId,
      sealer.seal(JSON.stringify({ text: 'PGPASSWORD=prod-secret' })),
      h.clock.now(),
    );
    return { id: String(filed.body.id), grantId };
  }

  it("an ID token whose claims no rule of prod-db matches cannot read its identity's prod-db grant", async () => {
    const deploy = await issuer.sign(environmentJob('refs/heads/main', 'deploy'));
    const victim = await prodGrant(deploy, 'run-1111111111');

    // A job of another workflow on a feature branch, in the same environment: same `sub`.
    const other = await issuer.sign(environmentJob('refs/heads/feature-x', 'lint'));
    const refused = await call('POST', '/requests', other, {
      resource: 'prod-db',
      duration: '15m',
      reason: 'a feature branch asks for production',
    });
    // The policy says no to it...
    expect(refused.status).toBe(403);

    // ...so it may not read the grant, with its password, nor the request, nor extend it.
    const read = await call('GET', `/grants/${victim.grantId}`, other);
    expect({ status: read.status, credentials: read.body.credentials }).toEqual({
      status: 404,
      credentials: undefined,
    });
    expect((await call('GET', `/requests/${victim.id}`, other)).status).toBe(404);
    const extend = await call('POST', `/grants/${victim.grantId}/extend`, other, {
      duration: '15m',
      reason: 'a feature branch wants more production time',
    });
    expect(extend.status).toBe(404);
    // The deploy job itself still reads it.
    const own = await call('GET', `/grants/${victim.grantId}`, deploy);
    expect({ status: own.status, credentials: own.body.credentials }).toEqual({
      status: 200,
      credentials: 'PGPASSWORD=prod-secret',
    });
  });

  it('refuses an Idempotency-Key used for another resource rather than answer with that request', async () => {
    const deploy = await issuer.sign(environmentJob('refs/heads/main', 'deploy'));
    const victim = await prodGrant(deploy, 'run-1111111111');

    // The key the docs suggest is $GITHUB_RUN_ID, which anyone reading the repository sees.
    const other = await issuer.sign(environmentJob('refs/heads/feature-x', 'lint'));
    const replay = await call(
      'POST',
      '/requests',
      other,
      { resource: 'sandbox', duration: '15m', reason: 'just a sandbox run, nothing to see' },
      { 'idempotency-key': 'run-1111111111' },
    );
    expect(replay).toEqual({
      status: 409,
      body: expect.objectContaining({
        code: 'bad_state',
        detail:
          'That idempotency key was already used to ask for prod-db; a request for sandbox needs a key of its own.',
      }),
    });
    expect(JSON.stringify(replay.body)).not.toContain(victim.id);
  });

  it('an API token bound only to sandbox cannot read a prod-db grant another token of its identity got', async () => {
    const prodToken = (
      await h.core.pipelines.createToken({
        identity: 'ci:deploy-bot',
        resources: ['prod-db'],
        actor: 'cli:test',
      })
    ).token;
    const sandboxToken = (
      await h.core.pipelines.createToken({
        identity: 'ci:deploy-bot',
        resources: ['sandbox'],
        actor: 'cli:test',
      })
    ).token;
    const victim = await prodGrant(prodToken, 'build-42');
    const refused = await call('POST', '/requests', sandboxToken, {
      resource: 'prod-db',
      duration: '15m',
      reason: 'the sandbox token asks for production',
    });
    expect(refused.status).toBe(403);
    expect(refused.body.detail).toMatch(/is not bound to prod-db/);

    const read = await call('GET', `/grants/${victim.grantId}`, sandboxToken);
    expect({ status: read.status, credentials: read.body.credentials }).toEqual({
      status: 404,
      credentials: undefined,
    });
  });
});

/**
 * A long-poll (`GET /requests/{id}/wait`, up to api.maxWait) answers as a new call would: a token
 * revoked while it waited (a leaked one, revoked the default way that leaves access running)
 * does not collect the grant's credentials.
 */
describe('a wait that outlives its token', () => {
  let h: CoreHarness;
  let served: ServedApi;
  const sealer = new Sealer('revoked-wait-secret');

  beforeEach(async () => {
    // The token rule of prod-db auto-approves; no ID token is used here.
    h = await coreHarness(yaml('https://token.example.com'));
    served = await serveApi(h.core, sealer);
  });
  afterEach(async () => {
    await served.close();
    await h.close();
  });

  it('a wait started before its token was revoked answers without the credentials', async () => {
    const { token, info } = await h.core.pipelines.createToken({
      identity: 'ci:deploy-bot',
      resources: ['prod-db'],
      actor: 'cli:test',
    });
    const filed = await callApi(served.base, 'POST', '/requests', token, {
      resource: 'prod-db',
      duration: '15m',
      reason: 'deploying build 42 to production',
    });
    // Auto-approved; the grant is being set up by the provider.
    expect(filed.body).toMatchObject({ status: 'approved', waiting: true });
    const grantId = String((filed.body.grant as { id: string }).id);

    const waiting = callApi(
      served.base,
      'GET',
      `/requests/${String(filed.body.id)}/wait?timeout=30s`,
      token,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));

    // The token leaked: an admin revokes it. From now on it is refused...
    await h.core.pipelines.revokeToken(info.id, 'cli:admin');
    expect((await callApi(served.base, 'GET', `/grants/${grantId}`, token)).status).toBe(401);

    // ...and the provider finishes: the grant is active, its password sealed for the pipeline.
    await h.store.pipelineCredentials.put(
      grantId,
      sealer.seal(JSON.stringify({ text: 'PGPASSWORD=prod-secret' })),
      h.clock.now(),
    );
    await h.core.lifecycle.activated(grantId, {
      startsAt: h.clock.now(),
      expiresAt: h.clock.now() + 900_000,
      state: undefined,
      elapsedMs: 1,
    });

    const answer = await waiting;
    // The revoked token must not be the one that collects the password.
    expect(JSON.stringify(answer.body)).not.toContain('PGPASSWORD=prod-secret');
  });
});
