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
