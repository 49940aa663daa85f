import { StaticDirectory } from '../../src/core/directory';
import { OffboardingCheck } from '../../src/jobs/offboarding';
import { logger } from '../../src/log';
import { coreHarness, T0, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';

const HOUR = 3_600_000;

/**
 * The offboarding check looks up at most 1,000 people a run (Slack's users.info rate): with more
 * holding access or waiting on a request, each run must go on from where the last one stopped,
 * or whoever sorts after the first 1,000 is never looked up again.
 */
describe.each(STORE_KINDS)('the offboarding check with more than 1,000 people (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(undefined, undefined, kind)));
  afterEach(() => h.close());

  it('still finds a deactivated holder whose user id sorts last', async () => {
    // 1,000 colleagues each wait on a request (ids U0000…U0999 sort before UZGONE).
    for (let i = 0; i < 1000; i++) {
      await h.core.createRequest({
        requester: `U${String(i).padStart(4, '0')}`,
        resourceId: 'prod-db',
        duration: '1h',
        justification: 'routine maintenance window work',
      });
    }
    // UZGONE holds live access; Slack's user_change event for their deactivation was lost.
    const request = await h.core.createRequest({
      requester: 'UZGONE',
      resourceId: 'auto',
      duration: '1h',
      justification: 'routine maintenance window work',
    });
    const grant = (await h.core.grantOf(request))!;
    await h.core.lifecycle.activated(grant.id, {
      startsAt: T0,
      expiresAt: T0 + HOUR,
      state: null,
      elapsedMs: 5,
    });

    const directory = new StaticDirectory({}, {}, { UZGONE: 'deactivated' });
    const check = new OffboardingCheck({ core: h.core, directory, logger });
    // The first run looks up the first 1,000; the second goes on from there.
    expect(await check.run()).toBe(0);
    expect(await check.run()).toBe(1);

    expect((await h.core.grant(grant.id))?.status).toBe('revoking');
    expect((await h.core.grant(grant.id))?.endReason).toBe('offboarded');
  }, 120_000);
});
