import { StaticDirectory } from '../../src/core/directory';
import type { Core } from '../../src/core';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import { Sealer } from '../../src/secrets/seal';
import { grantLine } from '../../src/slack/ui/status-lines';
import { coreHarness, T0, type CoreHarness } from '../support/core';
import { lookupOf, RecordingProvider } from '../support/recording-provider';
import { STORE_KINDS } from '../support/stores';

const JUST = 'investigating INC-42 slow queries';
const HOUR = 3_600_000;

const config = (withVault: boolean) => `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: sandbox
    name: Sandbox
    provider: hook
    maxDuration: 1h
    approvalsRequired: 0${
      withVault
        ? `
  - id: vault
    name: Vault
    provider: hook
    maxDuration: 1h
    approvalsRequired: 1
    approvers: { users: [ULEAD] }`
        : ''
    }
`;

/**
 * Nobody can grant a resource removed from the configuration: a grant approved before and booked
 * to start later is not started at its moment. It ends instead, and its revoke clears whatever an
 * attempt may have set up.
 */
describe.each(STORE_KINDS)('a grant whose resource is removed before it starts (%s)', (kind) => {
  let h: CoreHarness;
  afterEach(() => h.close());

  function sweeperOn(core: Core, provider: RecordingProvider) {
    return new Sweeper({
      core,
      providers: lookupOf({ hook: provider }),
      directory: new StaticDirectory(),
      sealer: new Sealer('test-sealing-secret'),
      logger,
      random: () => 1,
    });
  }

  it('is not granted at its start; it ends, audited, and its revoke is confirmed', async () => {
    h = await coreHarness(config(true), undefined, kind);
    const request = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'vault',
      duration: '1h',
      justification: JUST,
      startAt: T0 + 3 * HOUR,
    });
    await h.core.decide({ requestId: request.id, actor: 'ULEAD', decision: 'approve' });
    const grant = (await h.core.grantOf((await h.core.request(request.id))!))!;
    expect(grant.status).toBe('activating');

    // The vault is taken out of hallpass.yml and the bot restarted, before the booked start.
    const after = h.withConfig(config(false));
    const provider = new RecordingProvider();
    const sweeper = sweeperOn(after, provider);
    h.clock.set(T0 + 3 * HOUR);
    await sweeper.tick();
    const ending = (await after.grant(grant.id))!;
    expect(ending).toMatchObject({
      status: 'revoking',
      endReason: 'resource_removed',
      endedBy: 'hallpass',
    });
    expect(grantLine(ending, { now: h.clock.now(), timezone: 'UTC' })).toBe(
      '⏳ Its resource was removed from the configuration before it started; removing anything set up…',
    );
    await sweeper.tick();
    await sweeper.stop();

    expect(provider.callsOf('grant')).toEqual([]);
    expect(provider.callsOf('revoke')).toHaveLength(1);
    const ended = (await after.grant(grant.id))!;
    expect(ended.status).toBe('revoked');
    expect(grantLine(ended, { now: h.clock.now(), timezone: 'UTC' })).toMatch(
      /^⚪ Its resource was removed from the configuration before it started; not started, ended at /,
    );
    const asked = await h.sql.value<string>(
      "SELECT details FROM audit_events WHERE grant_id = ? AND action = 'grant.revoke_requested'",
      grant.id,
    );
    expect(JSON.parse(asked)).toMatchObject({
      reason: 'resource_removed',
      from: 'activating',
      resourceId: 'vault',
    });
  });
});
