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
const MIN = 60_000;
const HOUR = 60 * MIN;

/** With `vault` (decided by ULEAD, or auto-approved with a quorum of 0) or without it. */
const config = (withVault: boolean, quorum = 1) => `
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
    approvalsRequired: ${quorum}
    approvers: { users: [ULEAD] }`
        : ''
    }
`;

/**
 * Nobody can grant a resource removed from the configuration: a grant approved before and booked
 * to start later is not started at its moment. It ends instead, and its revoke clears whatever an
 * attempt may have set up; a live grant of the same shared access still covers that revoke and
 * keeps the access until its own expiry.
 */
describe.each(STORE_KINDS)('a grant whose resource is removed before it starts (%s)', (kind) => {
  let h: CoreHarness;
  afterEach(() => h.close());

  function sweeperOn(core: Core, provider: RecordingProvider) {
    return new Sweeper({
      core,
      providers: lookupOf({ hook: provider }),
      directory: new StaticDirectory({}, { UREQ: 'req@example.com' }),
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

  it("ending the booked grant leaves the live grant's access until its own expiry", async () => {
    h = await coreHarness(config(true, 0), undefined, kind);
    const provider = new RecordingProvider(); // shared
    const before = sweeperOn(h.core, provider);
    const live = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'vault',
      duration: '1h',
      justification: JUST,
    });
    await before.tick();
    const a = (await h.core.grantOf((await h.core.request(live.id))!))!;
    expect((await h.core.grant(a.id))!).toMatchObject({
      status: 'active',
      grantedEmail: 'req@example.com',
    });
    const booked = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'vault',
      duration: '1h',
      justification: JUST,
      startAt: T0 + 30 * MIN,
    });
    const b = (await h.core.grantOf((await h.core.request(booked.id))!))!;
    await before.stop();

    // vault is removed from hallpass.yml; a still runs to its end at T0 + 1h.
    const after = h.withConfig(config(false, 0));
    const sweeper = sweeperOn(after, provider);
    h.clock.set(T0 + 30 * MIN);
    await sweeper.tick();
    await sweeper.tick();
    expect((await after.grant(b.id))!).toMatchObject({
      status: 'revoked',
      endReason: 'resource_removed',
    });
    expect((await after.grant(a.id))!.status).toBe('active');
    expect(provider.present.has('UREQ/vault')).toBe(true);
    await sweeper.stop();
  });
});
