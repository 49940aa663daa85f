import { StaticDirectory } from '../../src/core/directory';
import { AccessTurns } from '../../src/jobs/access-turns';
import { ProviderCalls } from '../../src/jobs/provider-calls';
import { Reconciler } from '../../src/jobs/reconciler';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import type { Core } from '../../src/core';
import { Sealer } from '../../src/secrets/seal';
import { BASE_CONFIG, coreHarness, T0, type CoreHarness } from '../support/core';
import { lookupOf, RecordingProvider } from '../support/recording-provider';
import { STORE_KINDS } from '../support/stores';

const JUST = 'investigating INC-42 slow queries';
const MIN = 60_000;
const sealer = new Sealer('test-sealing-secret');

/**
 * Grants to two addresses of one person are two accesses only where the access is the account's
 * and both addresses are known: an email not recorded yet is not a different one, and on a
 * provider keyed on the Slack user a new email is the same access.
 */
describe.each(STORE_KINDS)('shared covering and the granted email (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => {
    h = await coreHarness(BASE_CONFIG, undefined, kind);
  });
  afterEach(async () => {
    await h.close();
  });

  function jobs(core: Core, provider: RecordingProvider, emails: Record<string, string>) {
    const providers = lookupOf({ hook: provider });
    const deps = {
      core,
      providers,
      directory: new StaticDirectory({}, emails),
      sealer,
      logger,
      busy: new Set<string>(),
      calls: new ProviderCalls(),
      turns: new AccessTurns(providers),
    };
    return { sweeper: new Sweeper({ ...deps, random: () => 1 }), reconciler: new Reconciler(deps) };
  }

  async function request(core: Core): Promise<string> {
    const req = await core.createRequest({
      requester: 'UREQ',
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    return h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
  }

  it('a grant activated in the same pass as the expiry of the same access (same email) keeps its access', async () => {
    const provider = new RecordingProvider(); // shared, keyed on the Slack user
    const { sweeper } = jobs(h.core, provider, { UREQ: 'req@example.com' });
    const a = await request(h.core);
    await sweeper.tick();
    expect((await h.core.grant(a))!).toMatchObject({
      status: 'active',
      grantedEmail: 'req@example.com',
    });

    // A minute before a ends, the person asks again (auto-approved); the sweeper's next pass
    // activates it and ends a, in that order (b is due first).
    h.clock.set(T0 + 29 * MIN);
    const b = await request(h.core);
    h.clock.set(T0 + 30 * MIN);
    await sweeper.tick();

    expect((await h.core.grant(b))!).toMatchObject({
      status: 'active',
      grantedEmail: 'req@example.com',
    });
    expect((await h.core.grant(a))!.status).toBe('revoked');
    // b is active: the person must still have the access.
    expect(provider.present.has('UREQ/auto')).toBe(true);
    await sweeper.stop();
  });

  it('on a provider keyed on the Slack user (slack-channel), a new email does not make a new access', async () => {
    const provider = new RecordingProvider(); // shared, keyed on the Slack user like slack-channel
    const emails: Record<string, string> = { UREQ: 'old@example.com' };
    const { sweeper } = jobs(h.core, provider, emails);
    const a = await request(h.core);
    await sweeper.tick();
    h.clock.advance(10 * MIN);
    emails.UREQ = 'new@example.com';
    const b = await request(h.core);
    await sweeper.tick();
    expect((await h.core.grant(b))!.status).toBe('active');

    h.clock.advance(20 * MIN);
    await sweeper.tick();
    expect((await h.core.grant(a))!.status).toBe('revoked');
    expect((await h.core.grant(b))!.status).toBe('active');
    // One channel membership for both grants: the live grant must keep it.
    expect(provider.present.has('UREQ/auto')).toBe(true);
    await sweeper.stop();
  });

  it('a grant activated before granted_email was recorded is covered by a live grant of the same person', async () => {
    const provider = new RecordingProvider();
    const { sweeper } = jobs(h.core, provider, { UREQ: 'req@example.com' });
    const a = await request(h.core);
    await sweeper.tick();
    // As a grant activated by a Hallpass older than the granted_email migration.
    await h.sql.run('UPDATE grants SET granted_email = NULL WHERE id = ?', a);
    h.clock.advance(10 * MIN);
    const b = await request(h.core);
    await sweeper.tick();
    h.clock.advance(20 * MIN);
    await sweeper.tick();
    expect((await h.core.grant(a))!.status).toBe('revoked');
    expect((await h.core.grant(b))!.status).toBe('active');
    expect(provider.present.has('UREQ/auto')).toBe(true);
    await sweeper.stop();
  });
});
