import { StaticDirectory } from '../../src/core/directory';
import { AccessTurns } from '../../src/jobs/access-turns';
import { ProviderCalls } from '../../src/jobs/provider-calls';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import { measuredProviders } from '../../src/metrics';
import { Instruments } from '../../src/metrics/instruments';
import { Sealer } from '../../src/secrets/seal';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { lookupOf, RecordingProvider } from '../support/recording-provider';

const MIN = 60_000;

/**
 * The bot hands the sweeper, the reconciler and AccessTurns its providers wrapped for metrics
 * (measuredProviders): the wrapper must carry `sharedPer`, or slack-channel's access would count
 * as the account's, and an email change would make the old grant's revoke take the live one's.
 */
describe('sharedPer through the measured providers the bot runs with', () => {
  let h: CoreHarness;
  beforeEach(async () => {
    h = await coreHarness(BASE_CONFIG, undefined, 'sqlite');
  });
  afterEach(async () => {
    await h.close();
  });

  it('keeps sharedPer on the measured provider', () => {
    const providers = measuredProviders(
      lookupOf({ hook: new RecordingProvider() }),
      new Instruments(),
    );
    expect(providers.get('hook')!.provider.sharedPer).toBe('slack-user');
  });

  it("an email change on a slack-user provider keeps the live grant's access (measured providers)", async () => {
    const provider = new RecordingProvider(); // sharedPer: 'slack-user', like slack-channel
    const providers = measuredProviders(lookupOf({ hook: provider }), new Instruments());
    const emails: Record<string, string> = { UREQ: 'old@example.com' };
    const sweeper = new Sweeper({
      core: h.core,
      providers,
      directory: new StaticDirectory({}, emails),
      sealer: new Sealer('test-sealing-secret'),
      logger,
      busy: new Set<string>(),
      calls: new ProviderCalls(),
      turns: new AccessTurns(providers),
      random: () => 1,
    });
    const request = async () => {
      const req = await h.core.createRequest({
        requester: 'UREQ',
        resourceId: 'auto',
        duration: '30m',
        justification: 'investigating INC-42 slow queries',
      });
      return h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
    };
    const a = await request();
    await sweeper.tick();
    h.clock.advance(10 * MIN);
    emails.UREQ = 'new@example.com';
    const b = await request();
    await sweeper.tick();
    h.clock.advance(20 * MIN);
    await sweeper.tick();
    expect((await h.core.grant(a))!.status).toBe('revoked');
    expect((await h.core.grant(b))!.status).toBe('active');
    expect(provider.present.has('UREQ/auto')).toBe(true);
    await sweeper.stop();
  });
});
