import { StaticDirectory } from '../../src/core/directory';
import { Sweeper, type Timers } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import type { GrantResult, ProviderCallContext } from '../../src/providers/types';
import { Sealer } from '../../src/secrets/seal';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { lookupOf, RecordingProvider } from '../support/recording-provider';

const JUST = 'investigating INC-42 slow queries';
const sealer = new Sealer('test-sealing-secret');

class NoTimers implements Timers {
  setTimeout(): unknown {
    return 0;
  }
  clearTimeout(): void {}
}

/** A provider that makes the access anew on every grant call: a new id and a new password. */
class RotatingProvider extends RecordingProvider {
  generation = 0;
  override async grant(ctx: ProviderCallContext<unknown>): Promise<GrantResult> {
    await super.grant(ctx);
    this.generation++;
    return {
      state: { access: `access-${this.generation}` },
      credentials: { text: `password: rotated-secret-${this.generation}` },
    };
  }
}

/**
 * After an extension the sweeper grants again, to move the provider's expiry. A provider may make
 * the access anew then, with a new id and a new password: the holder gets every password, and a
 * revoke names the access the last re-grant made, even when the grant ended meanwhile.
 */
describe('the re-grant after an extension (sqlite)', () => {
  let h: CoreHarness;
  let provider: RotatingProvider;
  let sweeper: Sweeper;
  beforeEach(async () => {
    h = await coreHarness(BASE_CONFIG, undefined, 'sqlite');
    provider = new RotatingProvider();
    sweeper = new Sweeper({
      core: h.core,
      providers: lookupOf({ hook: provider }, 1000),
      directory: new StaticDirectory({}, { UREQ: 'req@example.com' }),
      sealer,
      logger,
      timers: new NoTimers(),
      random: () => 1,
    });
  });
  afterEach(async () => {
    await sweeper.stop();
    await h.close();
  });

  async function activeGrant(): Promise<string> {
    const req = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'quorum',
      duration: '1h',
      justification: JUST,
    });
    await h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    await h.core.decide({ requestId: req.id, actor: 'UA2', decision: 'approve' });
    await sweeper.tick();
    return h.sql.value<string>('SELECT id FROM grants');
  }

  async function extend(grantId: string): Promise<void> {
    const ext = await h.core.requestExtension({
      grantId,
      actor: 'UREQ',
      duration: '1h',
      justification: 'the migration is still running',
    });
    await h.core.decide({ requestId: ext.id, actor: 'UA1', decision: 'approve' });
    await h.core.decide({ requestId: ext.id, actor: 'UA3', decision: 'approve' });
  }

  const delivered = async () =>
    (
      await h.sql.all<{ payload: string }>(
        "SELECT payload FROM outbox WHERE topic = 'credentials' ORDER BY id",
      )
    ).map(
      (row) => (JSON.parse(sealer.open(JSON.parse(row.payload).sealed)) as { text: string }).text,
    );

  /**
   * recordSynced keys the credentials `grant.credentials:<id>:<now>` and the outbox skips a key
   * queued before: two issuances for one grant in the same millisecond (two syncs, or a sync and
   * a reconciler repair, which uses the same key shape) keep only the first, and the holder is
   * left with a password the provider has already replaced.
   */
  it('hands the holder the newest password of two re-grants recorded in the same millisecond', async () => {
    const grantId = await activeGrant();
    await extend(grantId);
    await sweeper.tick();
    await extend(grantId);
    await sweeper.tick();
    expect(provider.callsOf('grant')).toHaveLength(3);
    expect(await delivered()).toContain('password: rotated-secret-3');
  });

  /**
   * recordSynced returns before recording anything when the grant is no longer active. The
   * re-grant may have made the access anew (its state says which); a revoke asked for during the
   * call then names the access of the state before it, and the new one is left behind.
   * recordDrift keeps the state of a re-grant for a grant that ended meanwhile for this reason.
   */
  it('revokes the access a re-grant made when the holder ended the grant during the re-grant', async () => {
    const grantId = await activeGrant();
    await extend(grantId);
    provider.onCall = async (call) => {
      if (call.action === 'grant') {
        provider.onCall = undefined;
        await h.core.revokeGrant({ grantId, actor: 'UREQ', reason: 'done early' });
      }
    };
    await sweeper.tick();
    expect(provider.callsOf('grant')).toHaveLength(2);
    h.clock.advance(10_000);
    await sweeper.tick();
    await sweeper.tick();
    const revokes = provider.callsOf('revoke');
    expect(revokes.length).toBeGreaterThan(0);
    // The last grant call answered access-2: that is the access that must be revoked.
    expect(revokes[revokes.length - 1]!.state).toEqual({ access: 'access-2' });
  });
});
