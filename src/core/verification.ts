import { backoffDelay } from './backoff';
import { change, type CoreContext, type GrantRow } from './context';
import { answered, approverChannelOf } from './grant-transitions';
import { issueCredentials } from './credentials';
import { recordStep } from './steps';

/**
 * What the record says about a grant against what the target system holds, read back with the
 * provider's `check` by the reconciler. A grant that is active must be present; one that ended
 * must be absent. Agreement is bookkeeping; disagreement is drift: audited, alerted, repaired.
 */

export type Expected = 'present' | 'absent';

/** What a grant's record says its access should be right now. */
export function expectedOf(grant: GrantRow): Expected | undefined {
  if (grant.status === 'active') return 'present';
  if (grant.status === 'revoked' || grant.status === 'failed') return 'absent';
  return undefined;
}

/** When an ended grant is read back next: each of `recheckAfter` after its end, then never. */
export function nextRecheck(ctx: CoreContext, grant: GrantRow, done: number): number | null {
  const after = ctx.config.reconcile.recheckAfter[done];
  if (after === undefined || grant.endedAt === null) return null;
  return grant.endedAt + after;
}

/** An active grant was read back and is there. */
export async function recordVerified(ctx: CoreContext, grantId: string): Promise<void> {
  await ctx.store.grants.update(grantId, { verifiedAt: ctx.clock.now() }, 'active');
}

/**
 * What a read-back of an ended grant came to: gone, as recorded; not readable (its provider has
 * no check); or not read back because another live grant holds the same access (`coveredBy`),
 * which that grant's own revoke reads back when it ends.
 */
export type Recheck = { readable: boolean } | { coveredBy: string };

/**
 * An ended grant's read-back: audited (as `by`, when an operator ran it, else as the bot), and
 * the next one scheduled, if any is left.
 */
export function recordRechecked(
  ctx: CoreContext,
  grantId: string,
  recheck: Recheck,
  by = 'hallpass',
): Promise<void> {
  return change(ctx, async (c) => {
    const grant = await c.tx.grants.byId(grantId);
    if (!grant || grant.recheckAt === null || expectedOf(grant) !== 'absent') return;
    const rechecks = grant.rechecks + 1;
    const readBack = 'readable' in recheck && recheck.readable;
    const recheckAt = readBack ? nextRecheck(ctx, grant, rechecks) : null;
    await c.tx.grants.set(grantId, { rechecks, recheckAt });
    c.audit({
      actor: by,
      action: 'grant.rechecked',
      requestId: grant.requestId,
      grantId,
      details:
        'coveredBy' in recheck
          ? { coveredBy: recheck.coveredBy, why: 'another grant holds the same access' }
          : readBack
            ? { present: false, rechecks, sinceEndMs: c.now - (grant.endedAt ?? c.now) }
            : { readable: false, why: 'its provider has no check' },
    });
  });
}

export interface Drift {
  /** What the record says (present for an active grant, absent for an ended one). */
  expected: Expected;
  /** Whether the repair (a re-grant, or another revoke confirmed by a check) worked. */
  repaired: boolean;
  error?: string;
  /** New credentials a re-grant issued, sealed, for the holder's DM. */
  sealedCredentials?: string;
  /** The state a re-grant answered with: what later calls name. */
  state?: unknown;
  /**
   * The repair timed out and may still land until then: a re-grant's holds back the grant's
   * revoke, a revoke's the activation of another grant of the same access.
   */
  fenceUntil?: number;
  /** The lease the re-grant held (recordGrantCall), which its outcome gives back. */
  lease?: number;
  /** Who had it read back and repaired, when not the bot on its own schedule (`cli:<os user>`). */
  by?: string;
}

/**
 * A read-back disagreed with the record: access that should be there was missing, or access
 * that ended came back. Audited, alerted to the approver channel and the admins, and the grant
 * kept under watch: an ended one is read back again (soon after a failed repair, on the usual
 * schedule after a good one); an active one is verified again at once.
 */
export function recordDrift(
  ctx: CoreContext,
  grantId: string,
  drift: Drift,
  attempt: number,
): Promise<GrantRow | undefined> {
  return change(ctx, async (c) => {
    const grant = await c.tx.grants.byId(grantId);
    // Kept even if the grant ended meanwhile: its revoke must name the access the re-grant made,
    // and wait for one that may still land; the re-grant's lease is given back either way.
    const live = grant?.status === 'active' || grant?.status === 'revoking';
    if (live && drift.state !== undefined)
      await c.tx.grants.set(grantId, { providerState: JSON.stringify(drift.state) });
    if (live && (drift.lease !== undefined || drift.fenceUntil !== undefined))
      await answered(c, grant, drift.lease, drift.fenceUntil ?? null);
    // An ended grant has nothing due to hold back: its fence is only read by other grants.
    else if (grant && drift.fenceUntil !== undefined)
      await c.tx.grants.set(grantId, {
        fenceUntil: Math.max(grant.fenceUntil ?? 0, drift.fenceUntil),
      });
    if (!grant || expectedOf(grant) !== drift.expected) return grant;
    const { retryBase, retryMax } = ctx.config.sweeper;
    const update =
      drift.expected === 'present'
        ? { verifiedAt: drift.repaired ? c.now : grant.verifiedAt }
        : {
            rechecks: 0,
            recheckAt: drift.repaired
              ? c.now + (ctx.config.reconcile.recheckAfter[0] ?? retryBase)
              : c.now + backoffDelay(attempt, retryBase, retryMax),
          };
    await c.tx.grants.set(grantId, update);
    const found = drift.expected === 'present' ? 'absent' : 'present';
    recordStep(c, {
      actor: drift.by ?? 'hallpass',
      action: 'grant.drift',
      requestId: grant.requestId,
      grantId,
      details: {
        expected: drift.expected,
        found,
        repaired: drift.repaired,
        ...(drift.error ? { error: drift.error.slice(0, 1000) } : {}),
      },
      redraw: grant.requestId,
    });
    c.notify(`drift:${grantId}:${c.now}`, {
      topic: 'drift',
      grantId,
      channel: approverChannelOf(ctx, grant),
      admins: ctx.config.admins,
      expected: drift.expected,
      repaired: drift.repaired,
      ...(drift.error ? { error: drift.error.slice(0, 1000) } : {}),
    });
    if (drift.sealedCredentials) await issueCredentials(c, grant, drift.sealedCredentials, true);
    return { ...grant, ...update };
  });
}
