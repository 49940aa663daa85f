import { StaticDirectory, type PersonStatus } from '../../src/core/directory';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';

/**
 * An extension is decided before its grant ends or not at all. A grant still `active` in the
 * record but past its end (the sweeper has not reached it, or the directory took that long to
 * answer) has nothing left to extend: an auto-approved extension must not lengthen access that
 * ended.
 */
const JUST = 'investigating INC-42 slow queries';
const MIN = 60_000;
const AUTO = BASE_CONFIG.replace(
  '    approvers: { users: [UA1, UA2, UA3] }\n',
  '    approvers: { users: [UA1, UA2, UA3] }\n    autoApprove: [{ users: [UREQ], maxDuration: 2h }]\n',
);

describe.each(STORE_KINDS)('an extension of a grant whose end has passed (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(AUTO, undefined, kind)));
  afterEach(() => h.close());

  async function activeGrant(core = h.core) {
    const req = await core.createRequest({
      requester: 'UREQ',
      resourceId: 'quorum',
      duration: '30m',
      justification: JUST,
    });
    expect(req).toMatchObject({ status: 'approved', autoApproved: true });
    const grant = (await core.grantOf(req))!;
    const now = h.clock.now();
    await core.lifecycle.activated(grant.id, {
      startsAt: now,
      expiresAt: now + 30 * MIN,
      state: undefined,
      elapsedMs: 5,
    });
    return (await core.grant(grant.id))!;
  }

  it('is refused when asked after the end, before the sweeper got to the grant', async () => {
    const grant = await activeGrant();
    h.clock.set(grant.expiresAt! + MIN);
    await expect(
      h.core.requestExtension({
        grantId: grant.id,
        actor: 'UREQ',
        duration: '30m',
        justification: JUST,
      }),
    ).rejects.toThrow(/has reached its end/);
    expect((await h.core.grant(grant.id))!.expiresAt).toBe(grant.expiresAt);
  });

  it('is refused when the grant ran out while the directory was answering (judged at the moment it is recorded)', async () => {
    const slow: { answer?: () => void } = {};
    /** A directory whose answer takes long: the grant's end passes meanwhile. */
    const directory = new (class extends StaticDirectory {
      override async statusOf(userId: string): Promise<PersonStatus> {
        slow.answer?.();
        return super.statusOf(userId);
      }
    })();
    const core = h.withConfig(AUTO, directory);
    const grant = await activeGrant(core);
    h.clock.set(grant.expiresAt! - 1000);
    slow.answer = () => h.clock.set(grant.expiresAt! + 5 * MIN);
    await expect(
      core.requestExtension({
        grantId: grant.id,
        actor: 'UREQ',
        duration: '30m',
        justification: JUST,
      }),
    ).rejects.toThrow(/has reached its end/);
    // Ended at its end: not lengthened 25 minutes past it.
    expect((await h.core.grant(grant.id))!.expiresAt).toBe(grant.expiresAt);
  });
});
