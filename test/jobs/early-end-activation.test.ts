import { StaticDirectory } from '../../src/core/directory';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import type { GrantResult, Provider, ProviderCallContext } from '../../src/providers/types';
import { Sealer } from '../../src/secrets/seal';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { lookupOf } from '../support/recording-provider';
import { STORE_KINDS, type StoreKind } from '../support/stores';

const JUST = 'investigating INC-42 slow queries';
const sealer = new Sealer('test-sealing-secret');

/**
 * A grant ended early (by its holder, offboarding or a revoked token's grants) while its
 * activation looks up the person's email must not be granted with an address the record does
 * not keep: its revoke would name another one, or none, and leave the access in place.
 */
describe.each(STORE_KINDS)('an early end during activation (%s)', (kind: StoreKind) => {
  let h: CoreHarness;
  beforeEach(async () => {
    h = await coreHarness(BASE_CONFIG, undefined, kind);
  });
  afterEach(async () => {
    await h.close();
  });

  it('makes no grant call once the grant left activating during the email lookup', async () => {
    /** A provider keyed on email (a webhook that adds the address to a group). */
    class EmailProvider implements Provider {
      readonly guarantees = {
        enforcesExpiry: false,
        endsOpenSessions: true,
        isolation: 'per-grant' as const,
      };
      readonly present = new Set<string>();
      readonly calls: { action: string; email?: string; state: unknown }[] = [];
      async grant(ctx: ProviderCallContext<unknown>): Promise<GrantResult> {
        this.calls.push({ action: 'grant', email: ctx.user.email, state: ctx.state });
        this.present.add(`${ctx.user.email}`);
        return { state: { member: ctx.user.email } };
      }
      async revoke(ctx: ProviderCallContext<unknown>): Promise<void> {
        this.calls.push({ action: 'revoke', email: ctx.user.email, state: ctx.state });
        this.present.delete(`${ctx.user.email}`);
      }
      async check(ctx: ProviderCallContext<unknown>): Promise<boolean> {
        this.calls.push({ action: 'check', email: ctx.user.email, state: ctx.state });
        return this.present.has(`${ctx.user.email}`);
      }
    }
    /** A directory whose first lookup is held until the test lets it go. */
    class SlowDirectory extends StaticDirectory {
      email = 'old@example.com';
      held?: () => void;
      asked = false;
      override async emailOf(): Promise<string | undefined> {
        if (!this.asked) {
          this.asked = true;
          await new Promise<void>((resolve) => (this.held = resolve));
        }
        return this.email;
      }
    }
    const provider = new EmailProvider();
    const directory = new SlowDirectory();
    const sweeper = new Sweeper({
      core: h.core,
      providers: lookupOf({ hook: provider }),
      directory,
      sealer,
      logger,
      random: () => 1,
    });
    const req = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    const id = await h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
    const pass = sweeper.tick();
    while (!directory.held) await new Promise((r) => setTimeout(r, 5));
    // The holder (or offboarding, or a token's endGrants) ends it while activation is under way.
    await h.core.revokeGrant({ grantId: id, actor: 'UREQ' });
    directory.held();
    await pass;
    expect(provider.calls.filter((c) => c.action === 'grant')).toEqual([]);

    // The person's email changes before the revoke (or the directory is down): nothing was
    // granted under the old one, so nothing is left behind.
    directory.email = 'new@example.com';
    await sweeper.tick();
    expect((await h.core.grant(id))!.status).toBe('revoked');
    expect(provider.present.size).toBe(0);
    await sweeper.stop();
  });
});
