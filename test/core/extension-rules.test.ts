import { coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';

/** A resource only `requesters` may ask for, decided by ULEAD with a quorum of `quorum`. */
const policy = (requesters: string, quorum: number, max = '1h', maxTotal = '8h') => `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: vault
    name: Vault
    provider: hook
    maxDuration: ${max}
    maxTotalDuration: ${maxTotal}
    approvalsRequired: ${quorum}
    approvers: { users: [ULEAD] }
    requesters: { users: [${requesters}] }
`;

const WHY = 'rotating the vault unseal keys';

/**
 * More time on a grant is asked under the rules a request is filed under today: a person taken
 * out of `requesters` gets no more time, filed or decided, however many approvals it needs.
 */
describe.each(STORE_KINDS)('extensions under the rules of who may request (%s)', (kind) => {
  let h: CoreHarness;
  afterEach(() => h.close());

  async function activeGrant(quorum: number) {
    h = await coreHarness(policy('UREQ', quorum), undefined, kind);
    const request = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'vault',
      duration: '1h',
      justification: WHY,
    });
    if (quorum > 0)
      await h.core.decide({ requestId: request.id, actor: 'ULEAD', decision: 'approve' });
    const grant = (await h.core.grantOf((await h.core.request(request.id))!))!;
    await h.core.lifecycle.activated(grant.id, {
      startsAt: h.clock.now(),
      expiresAt: h.clock.now() + 3_600_000,
      state: undefined,
      elapsedMs: 1,
    });
    return grant;
  }

  const extension = (core: CoreHarness['core'], grantId: string) =>
    core.requestExtension({ grantId, actor: 'UREQ', duration: '1h', justification: WHY });

  it.each([1, 0])(
    'refuses to file one once the holder may no longer request (quorum %i)',
    async (quorum) => {
      const grant = await activeGrant(quorum);
      const now = h.withConfig(policy('UOTHER', quorum));
      await expect(extension(now, grant.id)).rejects.toMatchObject({
        code: 'not_allowed',
        message: expect.stringContaining('You are not allowed to request vault'),
      });
      expect(
        await h.sql.value<number>("SELECT count(*) FROM requests WHERE kind = 'extension'"),
      ).toBe(0);
    },
  );

  it('denies one filed before the holder was taken out of requesters, when it is decided', async () => {
    const grant = await activeGrant(1);
    const ext = await extension(h.core, grant.id);
    const now = h.withConfig(policy('UOTHER', 1));
    const outcome = await now.decide({ requestId: ext.id, actor: 'ULEAD', decision: 'approve' });
    expect(outcome.request).toMatchObject({ status: 'denied' });
    expect((await now.grant(grant.id))!.expiresAt).toBe(grant.createdAt + 3_600_000);
  });

  it('denies one that could add no time once maxTotalDuration was lowered, keeping the time granted', async () => {
    const grant = await activeGrant(1);
    const ext = await extension(h.core, grant.id);
    // Tightened below where the grant already ends (it ends an hour after its start).
    const now = h.withConfig(policy('UREQ', 1, '30m', '45m'));
    const outcome = await now.decide({ requestId: ext.id, actor: 'ULEAD', decision: 'approve' });
    expect(outcome.request).toMatchObject({
      status: 'denied',
      decidedBy: 'hallpass',
      decisionReason:
        'policy changed: vault allows 45m in all from the start of a grant, and this one already lasts that long',
    });
    expect((await now.grant(grant.id))!.expiresAt).toBe(grant.createdAt + 3_600_000);
  });
});

const autoApproving = `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: prod-db
    name: Production database
    provider: hook
    minDuration: 1m
    maxDuration: 1h
    approvers: { users: [ULEAD] }
    pipelines:
      - token: ci:deploy-bot
        autoApprove: { maxDuration: 15m }
`;

/**
 * An auto-approval bounds the whole grant. Extensions sent at the same moment (a retried job, two
 * replicas behind a load balancer) are each judged on the grant's end as they read it: only the
 * first may be applied on that reading, or each would be counted against the same old end.
 */
describe.each(STORE_KINDS)('extensions asked for at the same moment (%s)', (kind) => {
  let h: CoreHarness;
  afterEach(() => h.close());

  it('auto-approves one, refuses the others, and keeps the grant within autoApprove.maxDuration', async () => {
    h = await coreHarness(autoApproving, undefined, kind);
    const { token } = await h.core.pipelines.createToken({
      identity: 'ci:deploy-bot',
      resources: ['prod-db'],
      actor: 'cli:test',
    });
    const caller = (await h.core.pipelines.authenticate(token))!;
    const request = await h.core.createRequest({
      requester: caller.id,
      resourceId: 'prod-db',
      duration: '5m',
      justification: 'deploying build 42 to production',
      caller,
    });
    const grantId = (await h.core.grantOf(request))!.id;
    await h.core.lifecycle.activated(grantId, {
      startsAt: h.clock.now(),
      expiresAt: h.clock.now() + 5 * 60_000,
      state: undefined,
      elapsedMs: 1,
    });
    const extend = () =>
      h.core
        .requestExtension({
          grantId,
          actor: caller.id,
          duration: '10m',
          justification: 'the deploy needs more time',
          caller,
        })
        .catch((err: Error) => err);
    const outcomes = await Promise.all([extend(), extend(), extend()]);
    expect(outcomes.filter((o) => !(o instanceof Error) && o.autoApproved)).toHaveLength(1);
    for (const refused of outcomes.filter((o) => o instanceof Error))
      expect(refused.message).toMatch(
        /changed while this extension was being asked for|already waiting for approval/,
      );
    const grant = (await h.core.grant(grantId))!;
    expect(grant.expiresAt! - grant.startsAt!).toBe(15 * 60_000);
  });
});
