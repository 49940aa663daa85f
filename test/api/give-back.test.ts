import { Sealer } from '../../src/secrets/seal';
import { coreHarness, type CoreHarness } from '../support/core';
import { TestIssuer } from '../support/oidc-issuer';
import { callApi, serveApi, type ServedApi } from './served-api';

/**
 * Giving access back (cancel, revoke) needs the identity only: after a resource's rule is
 * narrowed (a workflow renamed, a branch rule tightened), the pipeline that holds a live grant can
 * still end it early, though it may no longer read it. So those answers carry no credentials: an
 * extension request's view embeds the grant it extends, and a job of the same identity that the
 * rule refuses (another workflow in the same GitHub environment) must not read them by cancelling.
 */
const AUDIENCE = 'hallpass-test';
const yaml = (issuerUrl: string, workflow: string) => `
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
      - oidc: github
        claims: { repository: acme/app, environment: production, workflow: ${workflow} }
        autoApprove: { maxDuration: 15m }
`;

const job = {
  sub: 'repo:acme/app:environment:production',
  repository: 'acme/app',
  repository_owner: 'acme',
  environment: 'production',
  ref: 'refs/heads/main',
  ref_type: 'branch',
  workflow: 'deploy',
  event_name: 'push',
  run_id: '1111111111',
};

describe('giving API access back', () => {
  let h: CoreHarness;
  let issuer: TestIssuer;
  const served: ServedApi[] = [];

  /** The API of `core`: a second one serves the same database under an edited configuration. */
  async function serve(core: CoreHarness['core']): Promise<string> {
    const api = await serveApi(core, new Sealer('s'));
    served.push(api);
    return api.base;
  }

  beforeEach(async () => {
    issuer = await new TestIssuer(AUDIENCE).start();
    h = await coreHarness(yaml(issuer.url, 'deploy'));
  });
  afterEach(async () => {
    for (const api of served.splice(0)) await api.close();
    await issuer.stop();
    await h.close();
  });

  it('the identity that filed a live grant can still give it back early after the rule is narrowed', async () => {
    const token = await issuer.sign(job);
    const before = await serve(h.core);
    const filed = await callApi(before, 'POST', '/requests', token, {
      resource: 'prod-db',
      duration: '15m',
      reason: 'deploying build 42 to production',
    });
    expect(filed.status).toBe(201);
    const grantId = String((filed.body.grant as { id: string }).id);
    await h.core.lifecycle.activated(grantId, {
      startsAt: h.clock.now(),
      expiresAt: h.clock.now() + 900_000,
      state: undefined,
      elapsedMs: 1,
    });

    // hallpass.yml edited while the deploy runs: the workflow is now called "release".
    const after = await serve(h.withConfig(yaml(issuer.url, 'release')));
    // The deploy's last step gives the access back (`if: always()`), as the docs suggest.
    const revoke = await callApi(after, 'POST', `/grants/${grantId}/revoke`, token, {
      reason: 'deploy done',
    });
    expect(revoke.status).toBe(200);
    expect((await h.core.grant(grantId))!.status).toBe('revoking');
  });

  it("cancelling another job's pending extension does not hand out the grant's credentials", async () => {
    const deploy = await issuer.sign(job);
    const base = await serve(h.core);
    const filed = await callApi(base, 'POST', '/requests', deploy, {
      resource: 'prod-db',
      duration: '15m',
      reason: 'deploying build 42 to production',
    });
    expect(filed.status).toBe(201);
    const grantId = String((filed.body.grant as { id: string }).id);
    await h.core.lifecycle.activated(grantId, {
      startsAt: h.clock.now(),
      expiresAt: h.clock.now() + 900_000,
      state: undefined,
      sealedCredentials: new Sealer('s').seal(JSON.stringify({ text: 'password: hunter2-secret' })),
      elapsedMs: 1,
    });
    // The deploy asks for more time beyond autoApprove: pending, waiting for ULEAD.
    const ext = await callApi(base, 'POST', `/grants/${grantId}/extend`, deploy, {
      duration: '15m',
      reason: 'migration is slower than expected',
    });
    expect(ext.status).toBe(201);
    expect(ext.body.status).toBe('pending');

    // Another workflow in the same environment: same sub, refused by the pipelines rule.
    const lint = await issuer.sign({ ...job, workflow: 'lint', run_id: '2222222222' });
    expect((await callApi(base, 'GET', `/grants/${grantId}`, lint)).status).toBe(404);
    expect((await callApi(base, 'GET', `/requests/${String(ext.body.id)}`, lint)).status).toBe(404);

    const cancel = await callApi(base, 'POST', `/requests/${String(ext.body.id)}/cancel`, lint);
    // Whatever the status, the credentials it may not read must not be in the answer.
    expect(JSON.stringify(cancel.body)).not.toContain('hunter2-secret');
  });
});
