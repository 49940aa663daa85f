import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApi, type Api } from '../../src/api';
import { logger } from '../../src/log';
import { Sealer } from '../../src/secrets/seal';
import { coreHarness, type CoreHarness } from '../support/core';
import { TestIssuer } from '../support/oidc-issuer';

/**
 * Cancel and revoke need the identity only, so their answers carry no credentials: an extension
 * request's view embeds the grant it extends, and a job of the same identity that the rule refuses
 * (another workflow in the same GitHub environment) must not read them by cancelling it.
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

describe('giving back reads nothing the rule refuses', () => {
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

  it("cancelling another job's pending extension does not hand out the grant's credentials", async () => {
    const deploy = await issuer.sign(job);
    const base = await serve(h.core);
    const filed = await call(base, 'POST', '/requests', deploy, {
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
    const ext = await call(base, 'POST', `/grants/${grantId}/extend`, deploy, {
      duration: '15m',
      reason: 'migration is slower than expected',
    });
    expect(ext.status).toBe(201);
    expect(ext.body.status).toBe('pending');

    // Another workflow in the same environment: same sub, refused by the pipelines rule.
    const lint = await issuer.sign({ ...job, workflow: 'lint', run_id: '2222222222' });
    expect((await call(base, 'GET', `/grants/${grantId}`, lint)).status).toBe(404);
    expect((await call(base, 'GET', `/requests/${String(ext.body.id)}`, lint)).status).toBe(404);

    const cancel = await call(base, 'POST', `/requests/${String(ext.body.id)}/cancel`, lint);
    // Whatever the status, the credentials it may not read must not be in the answer.
    expect(JSON.stringify(cancel.body)).not.toContain('hunter2-secret');
  });
});
