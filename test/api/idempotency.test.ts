import type { PipelineCaller } from '../../src/core';
import { routes } from '../../src/api/routes';
import { Views } from '../../src/api/views';
import { Waiters } from '../../src/api/waiter';
import { Sealer } from '../../src/secrets/seal';
import { coreHarness, type CoreHarness } from '../support/core';
import { callApi, serveApi, type ServedApi } from './served-api';

/**
 * An Idempotency-Key is the caller's own: OIDC identities carry colons (`oidc:<issuer>:<sub>`,
 * and subs are colon-separated), so joined as text, identity `X` with key `a:b` and identity
 * `X:a` with key `b` would name one filing, and the second caller would be handed the first
 * caller's request, grant and credentials.
 */
const yaml = `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
api:
  oidc:
    ci: { issuer: 'https://ci.example.com', audience: hallpass, ownerClaims: [project] }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: prod-deploy
    name: Production deploys
    provider: hook
    maxDuration: 1h
    approvers: { users: [ULEAD] }
    pipelines:
      - oidc: ci
        claims: { project: acme/prod }
        autoApprove: { maxDuration: 30m }
  - id: sandbox
    name: Sandbox
    provider: hook
    maxDuration: 1h
    approvers: { users: [ULEAD] }
    pipelines:
      - oidc: ci
        claims: { project: 'acme/*' }
`;

const SECRET = 'test-sealing-secret';

function caller(sub: string, project: string): PipelineCaller {
  return { via: 'oidc', id: `oidc:ci:${sub}`, issuer: 'ci', claims: { sub, project } };
}

describe('Idempotency-Key across identities', () => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(yaml)));
  afterEach(() => h.close());

  it('never hands one identity the request (and credentials) another identity filed', async () => {
    const sealer = new Sealer(SECRET);
    const waiters = new Waiters(h.core);
    const create = routes({
      core: h.core,
      views: new Views(h.core, sealer),
      waiters,
      maxWaitMs: 60_000,
    }).find((r) => r.operationId === 'createRequest')!;
    const call = (who: PipelineCaller, body: Record<string, unknown>, key: string) =>
      create.handle({
        caller: who,
        params: {},
        query: new URLSearchParams(),
        body,
        headers: { 'idempotency-key': key },
        signal: new AbortController().signal,
        recheck: async () => who,
      });

    // The production pipeline files (auto-approved) with a key that contains a colon.
    const victim = caller('project:acme/prod:ref:main', 'acme/prod');
    const filed = (await call(
      victim,
      { resource: 'prod-deploy', duration: '15m', reason: 'deploying build 42 to production' },
      'ref:main:run-42',
    )) as { body: { id: string; grant: { id: string } } };
    const grantId = filed.body.grant.id;
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

    // Another pipeline, allowed only `sandbox`, whose identity ends where the victim's key begins.
    const attacker = caller('project:acme/prod:ref:main:ref:main', 'acme/sandbox');
    expect(attacker.id).not.toBe(victim.id);
    const answer = (await call(
      attacker,
      { resource: 'sandbox', duration: '15m', reason: 'just a sandbox run, nothing to see' },
      'run-42',
    )) as { body: { id: string; requester: string; grant: { credentials?: string } | null } };
    waiters.close();

    expect({
      requester: answer.body.requester,
      sameRequest: answer.body.id === filed.body.id,
      credentials: answer.body.grant?.credentials,
    }).toEqual({ requester: attacker.id, sameRequest: false, credentials: undefined });
  });
});

const tokenYaml = `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: deploy-staging
    name: Staging deploys
    provider: hook
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    pipelines:
      - token: ci:deploy-bot
        autoApprove: { maxDuration: 15m }
`;

/**
 * An Idempotency-Key names one filing: a retry sends the same body. The same identity sending the
 * same key with a different body (another duration, reason or ticket) is not a retry: it is
 * refused (409) rather than answered with the earlier request. An extension's key works the same
 * way, so a retried extension adds its time once.
 */
describe('the same Idempotency-Key with the same or another body', () => {
  let h: CoreHarness;
  let served: ServedApi;

  beforeEach(async () => {
    h = await coreHarness(tokenYaml);
    served = await serveApi(h.core, new Sealer(SECRET));
  });
  afterEach(async () => {
    await served.close();
    await h.close();
  });

  /** Records `grantId` active for `minutes` from now, as its grant call would; returns now. */
  async function activeFor(grantId: string, minutes: number): Promise<number> {
    const now = h.clock.now();
    const expiresAt = now + minutes * 60_000;
    await h.core.lifecycle.activated(grantId, {
      startsAt: now,
      expiresAt,
      state: undefined,
      elapsedMs: 1,
    });
    return now;
  }

  it('is refused with 409, not answered with the request filed for the first body', async () => {
    const { token } = await h.core.pipelines.createToken({
      identity: 'ci:deploy-bot',
      resources: ['deploy-staging'],
      actor: 'cli:test',
    });
    const first = await callApi(
      served.base,
      'POST',
      '/requests',
      token,
      { resource: 'deploy-staging', duration: '15m', reason: 'deploying build 42 to staging' },
      { 'idempotency-key': 'run-42' },
    );
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ duration: '15m', status: 'approved', autoApproved: true });

    // Not a retry: a different duration and reason, for a human to decide.
    const second = await callApi(
      served.base,
      'POST',
      '/requests',
      token,
      { resource: 'deploy-staging', duration: '4h', reason: 'a long data migration on staging' },
      { 'idempotency-key': 'run-42' },
    );
    expect({ status: second.status, code: second.body.code }).toEqual({
      status: 409,
      code: 'bad_state',
    });
    expect(await h.sql.value('SELECT count(*) FROM requests')).toBe(1);
  });

  it('adds a retried extension once, and refuses the key for another duration', async () => {
    const { token } = await h.core.pipelines.createToken({
      identity: 'ci:deploy-bot',
      resources: ['deploy-staging'],
      actor: 'cli:test',
    });
    const filed = await callApi(served.base, 'POST', '/requests', token, {
      resource: 'deploy-staging',
      duration: '5m',
      reason: 'deploying build 42 to staging',
    });
    const grantId = (filed.body.grant as { id: string }).id;
    const now = await activeFor(grantId, 5);
    const extend = (duration: string) =>
      callApi(
        served.base,
        'POST',
        `/grants/${grantId}/extend`,
        token,
        { duration, reason: 'the deploy is slower than planned' },
        { 'idempotency-key': 'run-42-more' },
      );
    const first = await extend('5m');
    const retried = await extend('5m');
    expect([first.status, retried.status]).toEqual([201, 201]);
    expect(first.body).toMatchObject({ status: 'approved', autoApproved: true });
    expect(retried.body.id).toBe(first.body.id);
    expect((await h.core.grant(grantId))!.expiresAt).toBe(now + 10 * 60_000);

    const other = await extend('10m');
    expect({ status: other.status, code: other.body.code }).toEqual({
      status: 409,
      code: 'bad_state',
    });
    expect(await h.sql.value("SELECT count(*) FROM requests WHERE kind = 'extension'")).toBe(1);
    expect((await h.core.grant(grantId))!.expiresAt).toBe(now + 10 * 60_000);
  });

  // A pipeline whose answer was lost retries after an admin lowered the resource's bounds: told
  // its duration is refused, it would think nothing was filed, and never learn of (nor give
  // back) the grant it holds.
  it('answers a retry with what it filed, after the bounds it was filed under were lowered', async () => {
    const { token } = await h.core.pipelines.createToken({
      identity: 'ci:deploy-bot',
      resources: ['deploy-staging'],
      actor: 'cli:test',
    });
    const body = { resource: 'deploy-staging', duration: '15m', reason: 'deploying build 42' };
    const key = { 'idempotency-key': 'run-43' };
    const filed = await callApi(served.base, 'POST', '/requests', token, body, key);
    const grantId = (filed.body.grant as { id: string }).id;
    await activeFor(grantId, 15);
    const more = { duration: '10m', reason: 'the deploy is slower than planned' };
    const moreKey = { 'idempotency-key': 'run-43-more' };
    const extended = await callApi(
      served.base,
      'POST',
      `/grants/${grantId}/extend`,
      token,
      more,
      moreKey,
    );
    expect([filed.status, extended.status]).toEqual([201, 201]);

    const lowered = await serveApi(
      h.withConfig(
        tokenYaml
          .replace('maxDuration: 4h', 'maxDuration: 5m')
          .replace('maxDuration: 15m', 'maxDuration: 5m'),
      ),
      new Sealer(SECRET),
    );
    try {
      const again = await callApi(lowered.base, 'POST', '/requests', token, body, key);
      expect({ status: again.status, id: again.body.id }).toEqual({
        status: 201,
        id: filed.body.id,
      });
      const extendedAgain = await callApi(
        lowered.base,
        'POST',
        `/grants/${grantId}/extend`,
        token,
        more,
        moreKey,
      );
      expect({ status: extendedAgain.status, id: extendedAgain.body.id }).toEqual({
        status: 201,
        id: extended.body.id,
      });
      const fresh = await callApi(lowered.base, 'POST', '/requests', token, body, {
        'idempotency-key': 'run-44',
      });
      expect({ status: fresh.status, code: fresh.body.code }).toEqual({
        status: 422,
        code: 'bad_duration',
      });
    } finally {
      await lowered.close();
    }
    expect(await h.sql.value('SELECT count(*) FROM requests')).toBe(2);
  });
});
