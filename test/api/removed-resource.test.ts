import { Sealer } from '../../src/secrets/seal';
import { coreHarness, type CoreHarness } from '../support/core';
import { callApi, serveApi, type ServedApi } from './served-api';

/**
 * A caller learns nothing of resources it may not request (docs/api.md). Extending a grant whose
 * resource was removed from the configuration is refused for what it is, a grant of a resource
 * that is gone, never with the closest id among all resources as a hint.
 */
const resource = (id: string, pipelines: string) => `
  - id: ${id}
    name: ${id}
    provider: hook
    maxDuration: 1h
    approvers: { users: [ULEAD] }
${pipelines}`;
const head = `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:`;
const mine = `    pipelines:
      - token: ci:deploy-bot
        autoApprove: { maxDuration: 1h }`;
const theirs = `    pipelines:
      - token: ci:payments-bot`;
const before = head + resource('billing-old', mine) + resource('billing-core', theirs);
const after = head + resource('billing-core', theirs);

describe('extending a grant whose resource was removed', () => {
  let h: CoreHarness;
  const served: ServedApi[] = [];

  beforeEach(async () => {
    h = await coreHarness(before);
  });
  afterEach(async () => {
    for (const s of served.splice(0)) await s.close();
    await h.close();
  });

  it('does not name, as the closest id, a resource the caller may not request', async () => {
    const sealer = new Sealer('removed-resource-sealing-secret');
    const old = await serveApi(h.core, sealer);
    served.push(old);
    const { token } = await h.core.pipelines.createToken({
      identity: 'ci:deploy-bot',
      resources: ['billing-old'],
      actor: 'cli:test',
    });
    const filed = await callApi(old.base, 'POST', '/requests', token, {
      resource: 'billing-old',
      duration: '15m',
      reason: 'nightly billing export job',
    });
    expect(filed.body).toMatchObject({ status: 'approved' });
    const grantId = String((filed.body.grant as { id: string }).id);
    await h.core.lifecycle.activated(grantId, {
      startsAt: h.clock.now(),
      expiresAt: h.clock.now() + 900_000,
      state: undefined,
      elapsedMs: 1,
    });

    // billing-old is removed from hallpass.yml; billing-core was never this caller's.
    const now = await serveApi(h.withConfig(after), sealer);
    served.push(now);
    expect((await callApi(now.base, 'GET', '/resources', token)).body).toEqual({ resources: [] });
    const extend = await callApi(now.base, 'POST', `/grants/${grantId}/extend`, token, {
      duration: '15m',
      reason: 'the export runs late tonight',
    });
    expect(extend.status).toBe(409);
    expect(extend.body).toMatchObject({
      code: 'bad_state',
      detail: expect.stringContaining('no longer in Hallpass'),
    });
    expect(JSON.stringify(extend.body)).not.toContain('billing-core');
    expect(await h.sql.value("SELECT count(*) FROM requests WHERE kind = 'extension'")).toBe(0);
  });
});
