import { StaticDirectory } from '../../src/core/directory';
import type { Core } from '../../src/core';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import { Sealer } from '../../src/secrets/seal';
import { coreHarness, T0, type CoreHarness } from '../support/core';
import { lookupOf, RecordingProvider } from '../support/recording-provider';

const JUST = 'investigating INC-42 slow queries';
const MIN = 60_000;

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
    approvalsRequired: 0`
        : ''
    }
`;

/**
 * A booked grant ended because its resource was removed never had an email recorded; the
 * person's live grant of the same shared access still covers its revoke, and keeps the access
 * until its own expiry (docs/guarantees.md: grants of a removed resource still end at expiry).
 */
describe('a booked grant of a removed resource beside a live one', () => {
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

  it("ending the booked grant leaves the live grant's access until its own expiry", async () => {
    h = await coreHarness(config(true));
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
    const after = h.withConfig(config(false));
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
