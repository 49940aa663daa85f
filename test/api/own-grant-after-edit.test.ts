import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApi, type Api } from '../../src/api';
import { logger } from '../../src/log';
import { Sealer } from '../../src/secrets/seal';
import { coreHarness, type CoreHarness } from '../support/core';
import { TestIssuer } from '../support/oidc-issuer';

/**
 * Giving access back needs the identity only: after a resource's rule is narrowed (a workflow
 * renamed, a branch rule tightened), the pipeline that holds a live grant can still end it early,
 * though it may no longer read it.
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

describe('the holder of a live API grant after its rule was edited', () => {
  let h: CoreHarness;
  let issuer: TestIssuer;
  const apis: { api: Api; server: Server; base: string }[] = [];

  async function serve(core: CoreHarness['core']): Promise<string> {
    const api = createApi({ core, sealer: new Sealer('s'), logger });
    const server = createServer((req, res) => api.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
    apis.push({ api, server, base });
    return base;
  }

  beforeEach(async () => {
    issuer = await new TestIssuer(AUDIENCE).start();
    h = await coreHarness(yaml(issuer.url, 'deploy'));
  });
  afterEach(async () => {
    for (const { api, server } of apis.splice(0)) {
      api.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await issuer.stop();
    await h.close();
  });

  async function call(base: string, method: string, path: string, bearer: string, body?: unknown) {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${bearer}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('the identity that filed a live grant can still give it back early after the rule is narrowed', async () => {
    const token = await issuer.sign(job);
    const before = await serve(h.core);
    const filed = await call(before, 'POST', '/requests', token, {
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
    const revoke = await call(after, 'POST', `/grants/${grantId}/revoke`, token, {
      reason: 'deploy done',
    });
    expect(revoke.status).toBe(200);
    expect((await h.core.grant(grantId))!.status).toBe('revoking');
  });
});
