import type { GrantRow } from '../core';
import type { Directory } from '../core/directory';
import { InOrder } from './in-order';
import { grantedEmailAnswer, type ProviderLookup } from './provider-call';

/**
 * Turns on one person's shared access, taken by every job that calls a provider on it. On a
 * provider where a person's grants share one access, a revoke (the sweeper's, or the
 * reconciler's repair of an ended grant) and a later grant's activation of that access must not
 * cross at the provider: whichever took its turn first finishes before the other starts, so a
 * revoke cannot land after the grant call of a grant approved meanwhile. A revoke that timed out
 * gives its turn back while it may still land: the activation waits for its fence then (the
 * sweeper's `heldForRevoke`).
 */
/** Whether two grants reach one account cannot be told now (the directory did not answer). */
export class AccountUnknown extends Error {}

export class AccessTurns {
  private readonly line = new InOrder();

  constructor(private readonly providers: ProviderLookup) {}

  /**
   * The line of turns `grant` takes; undefined where each grant has an access of its own. One
   * line per person and provider instance: grants of two resources (or of a renamed one) may
   * name the same target there (`oneAccess`), and taking turns with the person's other grants
   * at that provider costs them nothing but order.
   */
  accessOf(grant: GrantRow): string | undefined {
    const isolation = this.providers.get(grant.provider)?.provider.guarantees.isolation;
    // Provider names hold no newline (config schema), so the key splits one way only: at its last.
    return isolation === 'shared' ? `${grant.userId}\n${grant.provider}` : undefined;
  }

  /**
   * Whether two grants of one person at one place (the core's `sameAccess`) are one access at
   * the provider: of the same resource, unless the provider tells accesses apart by target alone
   * (`sharedBy`); and of the same account: always where the access is the Slack user's
   * (`sharedPer`), else when the emails they were (or will be, for one not recorded yet) granted
   * to are the same, so grants to two addresses are two accesses. Throws AccountUnknown where
   * the directory did not answer a lookup that would tell.
   */
  async oneAccess(a: GrantRow, b: GrantRow, directory: Directory): Promise<boolean> {
    const provider = this.providers.get(a.provider)?.provider;
    if (provider?.sharedBy !== 'target' && a.resourceId !== b.resourceId) return false;
    if (provider?.sharedPer === 'slack-user') return true;
    if (a.grantedEmail !== null && a.grantedEmail === b.grantedEmail) return true;
    const [was, is] = await Promise.all([
      grantedEmailAnswer(directory, a),
      grantedEmailAnswer(directory, b),
    ]);
    // A lookup that did not answer tells nothing: guessing "two" lets a revoke take a live
    // grant's access, "one" lets a revoke be skipped for an access on another account.
    if (!was.answered || !is.answered) {
      throw new AccountUnknown(
        `the directory did not answer for ${a.userId}'s email: cannot tell whether grants ${a.id} and ${b.id} are one account; trying again`,
      );
    }
    // Where no address is known for either (a pipeline has none), the grants' one Slack user is
    // all that tells the account: the same.
    return was.value === is.value;
  }

  /** Runs `work` in its turn on `access`, after every piece of work handed in before it. */
  run<T>(access: string, work: () => Promise<T>): Promise<T> {
    return this.line.run(access, work);
  }
}
