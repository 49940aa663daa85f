import { extensionRoom, extendModal } from '../../src/slack/ui/modals';
import { coreHarness, type CoreHarness } from '../support/core';

/**
 * The Extend button and form offer what the core will accept: the room under the smaller of the
 * `maxTotalDuration` the grant was made with and today's (`extensionCeiling`), not today's alone.
 */
const policy = (maxTotal: string) => `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: vault
    name: Vault
    provider: hook
    maxDuration: 1h
    maxTotalDuration: ${maxTotal}
    approvalsRequired: 0
`;
const WHY = 'rotating the vault unseal keys';

describe('what the Extend form offers and what the core accepts', () => {
  let h: CoreHarness;
  afterEach(() => h.close());

  it('offers no more time than requestExtension will accept, after maxTotalDuration was raised', async () => {
    h = await coreHarness(policy('2h'));
    const request = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'vault',
      duration: '1h',
      justification: WHY,
    });
    const grant = (await h.core.grantOf((await h.core.request(request.id))!))!;
    // Made with 2h in all, and already extended to it.
    await h.core.lifecycle.activated(grant.id, {
      startsAt: h.clock.now(),
      expiresAt: h.clock.now() + 2 * 3_600_000,
      state: undefined,
      elapsedMs: 1,
    });
    // hallpass.yml: vault now allows 4h in all.
    const now = h.withConfig(policy('4h'));
    const live = (await now.grant(grant.id))!;
    const resource = now.policy.resource('vault');

    // The core: no more time for this grant (the smaller of 2h recorded and 4h today).
    await expect(
      now.requestExtension({
        grantId: grant.id,
        actor: 'UREQ',
        duration: '30m',
        justification: WHY,
      }),
    ).rejects.toMatchObject({
      code: 'bad_duration',
      message: expect.stringContaining('no more time'),
    });

    // Slack offers what the core accepts: nothing more.
    const text = JSON.stringify(
      extendModal({ grant: live, resource, metadata: { grantId: grant.id, fromHome: false } }),
    );
    expect(text).not.toMatch(/You can add up to 1 ?h/);
    expect(extensionRoom(live, resource)).toEqual({ room: 0, whole: 2 * 3_600_000 });
  });
});
