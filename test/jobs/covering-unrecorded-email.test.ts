import { StaticDirectory } from '../../src/core/directory';
import { AccessTurns } from '../../src/jobs/access-turns';
import { ProviderCalls } from '../../src/jobs/provider-calls';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import type { GrantResult, Provider, ProviderCallContext } from '../../src/providers/types';
import { Sealer } from '../../src/secrets/seal';
import { BASE_CONFIG, coreHarness, T0, type CoreHarness } from '../support/core';
import { lookupOf } from '../support/recording-provider';
import { STORE_KINDS } from '../support/stores';

const MIN = 60_000;

/** Shared access keyed on the account (okta-group, ldap-group, AWS): sharedPer defaults to 'account'. */
class AccountProvider implements Provider {
  readonly guarantees = {
    enforcesExpiry: false,
    endsOpenSessions: false,
    isolation: 'shared' as const,
  };
  readonly present = new Set<string>();
  async grant(ctx: ProviderCallContext<unknown>): Promise<GrantResult> {
    this.present.add(ctx.user.email!);
    return {};
  }
  async revoke(ctx: ProviderCallContext<unknown>): Promise<void> {
    this.present.delete(ctx.user.email!);
  }
  async check(ctx: ProviderCallContext<unknown>): Promise<boolean> {
    return this.present.has(ctx.user.email!);
  }
}

/**
 * An activating grant whose email is not recorded yet will be granted to the email the directory
 * gives now: when that is a new address, it does not cover the expiring grant to the old one,
 * whose revoke must still reach the old account.
 */
describe.each(STORE_KINDS)('an unrecorded email on an account-keyed provider (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => {
    h = await coreHarness(BASE_CONFIG, undefined, kind);
  });
  afterEach(async () => {
    await h.close();
  });

  it('an activation due in the same pass, to a new address, does not cover the expiring grant to the old one', async () => {
    const provider = new AccountProvider();
    const providers = lookupOf({ hook: provider });
    const emails: Record<string, string> = { UREQ: 'old@example.com' };
    const deps = {
      core: h.core,
      providers,
      directory: new StaticDirectory({}, emails),
      sealer: new Sealer('test-sealing-secret'),
      logger,
      busy: new Set<string>(),
      calls: new ProviderCalls(),
      turns: new AccessTurns(providers),
    };
    const sweeper = new Sweeper({ ...deps, random: () => 1 });
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
    expect((await h.core.grant(a))!).toMatchObject({
      status: 'active',
      grantedEmail: 'old@example.com',
    });

    // The person's email changes in Slack; a minute before a ends they ask again, and the next
    // pass both activates b (to new@) and ends a (granted to old@).
    emails.UREQ = 'new@example.com';
    h.clock.set(T0 + 29 * MIN);
    const b = await request();
    h.clock.set(T0 + 30 * MIN);
    await sweeper.tick();
    expect((await h.core.grant(b))!).toMatchObject({
      status: 'active',
      grantedEmail: 'new@example.com',
    });
    expect((await h.core.grant(a))!.status).toBe('revoked');

    // b holds new@; nothing holds old@ any more: a's revoke must reach it, not be skipped as
    // covered (the reconciler would only find it later as drift, and never where the provider
    // has no check).
    const ended = await h.sql.value<string>(
      "SELECT details FROM audit_events WHERE grant_id = ? AND action = 'grant.revoked'",
      a,
    );
    expect(JSON.parse(ended)).not.toHaveProperty('coveredBy');
    expect([...provider.present]).toEqual(['new@example.com']);
    await sweeper.stop();
  });
});
