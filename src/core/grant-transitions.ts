import { backoffDelay } from './backoff';
import { change, type Change, type CoreContext, type GrantRow } from './context';
import { issueCredentials } from './credentials';
import { endEarly } from './early-end';
import { recordStep } from './steps';
import { termsOf } from './terms';

/**
 * The transitions the sweeper drives. Provider calls happen between them, never inside: each
 * state here is safe to resume after a crash because grant and revoke are idempotent.
 */

export interface Activation {
  startsAt: number;
  expiresAt: number;
  state: unknown;
  sealedCredentials?: string;
  elapsedMs: number;
  /** The email the provider was called with, if the directory gave one. */
  email?: string;
  /** The end of the lease the call held (recordGrantCall), which the answer gives back. */
  lease?: number;
}

/**
 * The account a grant call named, for its audit event: the record says which address was given
 * access (or may have been, by a failed call), even after the person's email changes.
 */
function accountNamed(email: string | null | undefined): { account?: string } {
  return email ? { account: email } : {};
}

/** The provider gave the access: the clock starts now. False when the grant was revoked meanwhile. */
export function recordActivated(
  ctx: CoreContext,
  grantId: string,
  a: Activation,
): Promise<boolean> {
  return change(ctx, async (c) => {
    const grant = await c.tx.grants.byId(grantId);
    const holder = a.lease !== undefined && grant?.fenceUntil === a.lease;
    if (!grant || grant.status !== 'activating') {
      // Ended while the call was out: its revoke, waiting for the call, is due now (unless another
      // process's call holds the grant since) and must name what the call made.
      if (grant?.status === 'revoking')
        await c.tx.grants.set(grantId, {
          ...(holder ? { fenceUntil: null, nextAttemptAt: c.now } : {}),
          ...(a.state === undefined ? {} : { providerState: JSON.stringify(a.state) }),
        });
      c.audit({
        actor: 'hallpass',
        action: 'provider.called',
        requestId: grant?.requestId,
        grantId,
        details: {
          call: 'grant',
          ok: true,
          elapsedMs: a.elapsedMs,
          late: true,
          status: grant?.status,
        },
      });
      return false;
    }
    await c.tx.grants.set(grantId, {
      status: 'active',
      activatedAt: c.now,
      startsAt: a.startsAt,
      expiresAt: a.expiresAt,
      providerExpiresAt: a.expiresAt,
      // Another process's call, holding the grant since this one's lease ran out, may still land.
      nextAttemptAt: holder ? a.expiresAt : Math.max(a.expiresAt, grant.fenceUntil ?? 0),
      providerState: a.state === undefined ? null : JSON.stringify(a.state),
      grantedEmail: a.email ?? null,
      attempts: 0,
      lastError: null,
      ...(holder ? { fenceUntil: null } : {}),
    });
    recordStep(c, {
      actor: 'hallpass',
      action: 'grant.activated',
      requestId: grant.requestId,
      grantId,
      details: {
        provider: grant.provider,
        startsAt: a.startsAt,
        expiresAt: a.expiresAt,
        attempts: grant.attempts + 1,
        elapsedMs: a.elapsedMs,
        credentialsIssued: a.sealedCredentials !== undefined,
        ...accountNamed(a.email),
      },
      redraw: grant.requestId,
      dm: {
        key: `grant.active:${grantId}:dm`,
        userId: grant.userId,
        event: 'grant.active',
        grantId,
      },
    });
    if (a.sealedCredentials) await issueCredentials(c, grant, a.sealedCredentials);
    return true;
  });
}

/**
 * Takes the grant call of an activating grant, or the re-grant of an active one (an extension's,
 * a repair's), before it is made: no process makes another, nor ends the grant, until twice the
 * provider's `timeoutMs` from the moment it is taken (the lease end returned): a call cut off by
 * a crash or by leadership moving to another replica may still land until then, and a revoke
 * made before it landed would leave access the record calls gone. An active grant's expiry waits
 * for the lease too, so it outlives its end by the lease at most. Its answer gives the call back
 * (recordActivated, recordAttemptFailed, recordSynced, recordDrift). Undefined when the grant is
 * neither activating nor active before its end, or a call (or one that timed out) may still be
 * out.
 *
 * The first call also records the email it names: an attempt cut short (a kill, an answer lost on
 * the way) may have given that address access, so the retry, and every call after it, must name
 * the same one, whatever the directory says by then.
 */
export function recordGrantCall(
  ctx: CoreContext,
  grantId: string,
  email: string | undefined,
  timeoutMs: number,
): Promise<number | undefined> {
  return change(ctx, async (c) => {
    const grant = await c.tx.grants.byId(grantId);
    // An active grant whose end has come is revoked, not granted again.
    const callable =
      grant?.status === 'activating' ||
      (grant?.status === 'active' && (grant.expiresAt ?? 0) > c.now);
    if (!grant || !callable || (grant.fenceUntil ?? 0) > c.now) return undefined;
    const until = c.now + 2 * timeoutMs;
    await c.tx.grants.set(grantId, {
      fenceUntil: until,
      nextAttemptAt: Math.max(grant.nextAttemptAt ?? c.now, until),
      ...(grant.grantedEmail === null && email !== undefined ? { grantedEmail: email } : {}),
    });
    return until;
  });
}

/**
 * Fences an ended grant before a repair revoke of its access is sent (the reconciler found the
 * access back after the end): a process that dies with that call out leaves the fence, and the
 * next activation of a shared access waits for it (`endingAlongside`). False, and no call should
 * be made, when the grant is not ended.
 */
export function recordRepairRevoke(
  ctx: CoreContext,
  grantId: string,
  until: number,
): Promise<boolean> {
  return scheduleWhile(ctx, grantId, ['revoked', 'failed'], (grant) => ({
    fenceUntil: Math.max(grant.fenceUntil ?? 0, until),
  }));
}

/**
 * Holds an activating grant's attempt back until `until`, when a revoke of another grant of the
 * same access (one access at the provider for several of a person's grants) can no longer land:
 * a grant call made before it would be undone by it, while the record says the access is there.
 * Not an attempt: nothing was called. False when the grant is no longer activating.
 */
export function recordActivationHeld(
  ctx: CoreContext,
  grantId: string,
  until: number,
): Promise<boolean> {
  return scheduleWhile(ctx, grantId, ['activating'], (grant, now) => ({
    nextAttemptAt: Math.max(grant.nextAttemptAt ?? now, until),
  }));
}

/**
 * Moves when a grant's calls may be made (its next attempt, its fence) while its status is one
 * of `statuses`; false, and nothing written, otherwise. No state change, so no audit event, as
 * for a grant call's lease.
 */
function scheduleWhile(
  ctx: CoreContext,
  grantId: string,
  statuses: readonly GrantRow['status'][],
  patch: (grant: GrantRow, now: number) => Pick<Partial<GrantRow>, 'nextAttemptAt' | 'fenceUntil'>,
): Promise<boolean> {
  return change(ctx, async (c) => {
    const grant = await c.tx.grants.byId(grantId);
    if (!grant || !statuses.includes(grant.status)) return false;
    await c.tx.grants.set(grantId, patch(grant, c.now));
    return true;
  });
}

/**
 * What a grant call's answer leaves on the grant once the call is over. The lease it held
 * (recordGrantCall) is given back: only its own fence (it timed out) is left, and what the lease
 * held back is due again, an active grant's expiry at its end (or the fence), an ended grant's
 * revoke now. A lease another process took since this one's ran out is kept, and the fence added
 * to it.
 */
export async function answered(
  c: Change,
  grant: GrantRow,
  lease: number | undefined,
  fenceUntil: number | null,
): Promise<Pick<GrantRow, 'fenceUntil' | 'nextAttemptAt'>> {
  if (lease === undefined || grant.fenceUntil !== lease) return fence(c, grant, fenceUntil);
  const due = grant.status === 'active' ? (grant.expiresAt ?? c.now) : c.now;
  const update = { fenceUntil, nextAttemptAt: Math.max(due, fenceUntil ?? 0) };
  await c.tx.grants.set(grant.id, update);
  return update;
}

/**
 * A grant still to be activated whose resource was removed from the configuration since it was
 * approved (a grant booked to start later, or waiting to retry): it is not started, as nobody can
 * grant that resource any more, and ends like any early end, so the revoke removes anything a
 * timed-out attempt may have set up. False when it is no longer activating.
 */
export function endForRemovedResource(ctx: CoreContext, grantId: string): Promise<boolean> {
  return change(ctx, async (c) => {
    const grant = await c.tx.grants.byId(grantId);
    if (!grant || grant.status !== 'activating') return false;
    await endEarly(c, grant, {
      reason: 'resource_removed',
      by: 'hallpass',
      note: null,
      details: { resourceId: grant.resourceId },
    });
    return true;
  });
}

export interface RetryPolicy {
  retryBase: number;
  retryMax: number;
  alertAfterAttempts: number;
  random?: () => number;
}

/** Where a grant's approvers are: as recorded on the grant, else as configured, else the default. */
export function approverChannelOf(ctx: CoreContext, grant: GrantRow): string {
  const recorded = termsOf(grant)?.approverChannel;
  if (recorded) return recorded;
  const resource = ctx.policy.findResource(grant.resourceId);
  return resource ? ctx.policy.approverChannel(resource) : ctx.config.requests.approverChannel;
}

/** Tells the approver channel and the admins that a provider keeps failing for a grant. */
function alert(
  ctx: CoreContext,
  c: Change,
  grant: GrantRow,
  call: 'grant' | 'revoke',
  attempts: number,
  error: string,
) {
  c.notify(`alert:${grant.id}:${call}:${attempts}`, {
    topic: 'alert',
    grantId: grant.id,
    channel: approverChannelOf(ctx, grant),
    admins: ctx.config.admins,
    action: call,
    attempts,
    error,
  });
}

/**
 * A grant call failed. Activation retries with backoff and gives up after `alertAfterAttempts`,
 * moving to cleanup (a revoke, in case the failed call half-worked).
 */
async function activationFailed(
  ctx: CoreContext,
  c: Change,
  grant: GrantRow,
  error: string,
  retry: RetryPolicy,
  fenceUntil: number | null,
): Promise<GrantRow> {
  const attempts = grant.attempts + 1;
  const nextAttemptAt =
    c.now + backoffDelay(attempts, retry.retryBase, retry.retryMax, retry.random);
  c.audit({
    actor: 'hallpass',
    action: 'grant.activation_failed_attempt',
    requestId: grant.requestId,
    grantId: grant.id,
    details: { attempts, error, nextAttemptAt, ...accountNamed(grant.grantedEmail) },
  });
  if (attempts < retry.alertAfterAttempts) {
    // A call that timed out is waited for: no second call of this grant while one may be out.
    const update = {
      attempts,
      lastError: error,
      nextAttemptAt: Math.max(nextAttemptAt, fenceUntil ?? 0),
      fenceUntil,
    };
    await c.tx.grants.set(grant.id, update);
    return { ...grant, ...update };
  }
  // The cleanup revoke waits out the fence: a grant call that timed out may still land.
  const cleanup = {
    status: 'revoking' as const,
    endReason: 'activation_failed' as const,
    endedBy: 'hallpass',
    endAskedAt: c.now,
    attempts: 0,
    lastError: error,
    nextAttemptAt: Math.max(c.now, fenceUntil ?? 0),
    alertedAt: c.now,
    fenceUntil,
  };
  await c.tx.grants.set(grant.id, cleanup);
  recordStep(c, {
    actor: 'hallpass',
    action: 'grant.failed',
    requestId: grant.requestId,
    grantId: grant.id,
    details: { attempts, error, ...accountNamed(grant.grantedEmail) },
    redraw: grant.requestId,
    dm: {
      key: `grant.failed:${grant.id}:dm`,
      userId: grant.userId,
      event: 'grant.failed',
      grantId: grant.id,
    },
  });
  alert(ctx, c, grant, 'grant', attempts, error);
  return { ...grant, ...cleanup };
}

/**
 * A grant call failed after the grant was already ending (someone revoked it while the call was
 * out), or an active grant's re-grant for an extension failed: neither is a failed revoke. Its
 * fence holds any revoke back (an expiry too: it is due no earlier) until the call can no longer
 * land.
 */
async function lateGrantFailed(
  c: Change,
  grant: GrantRow,
  error: string,
  fenceUntil: number | null,
  lease: number | undefined,
): Promise<GrantRow> {
  const update = await answered(c, grant, lease, fenceUntil);
  c.audit({
    actor: 'hallpass',
    action: 'provider.called',
    requestId: grant.requestId,
    grantId: grant.id,
    details: {
      call: 'grant',
      ok: false,
      ...(grant.status === 'revoking' ? { late: true } : {}),
      status: grant.status,
      error,
      fenceUntil: update.fenceUntil,
    },
  });
  return { ...grant, ...update };
}

/**
 * Holds back whatever is next due on the grant (its revoke, an expiry) until `fenceUntil`, when a
 * grant call that timed out can no longer land.
 */
export async function fence(
  c: Change,
  grant: GrantRow,
  fenceUntil: number | null,
): Promise<Pick<GrantRow, 'fenceUntil' | 'nextAttemptAt'>> {
  const update = {
    fenceUntil: Math.max(grant.fenceUntil ?? 0, fenceUntil ?? 0) || null,
    nextAttemptAt: Math.max(grant.nextAttemptAt ?? c.now, fenceUntil ?? 0),
  };
  await c.tx.grants.set(grant.id, update);
  return update;
}

/**
 * A revoke failed. It never gives up: it retries with backoff, and alerts once it has failed often.
 * One that timed out may still land until `fenceUntil`, kept on the grant past its end: another
 * grant of the same access is not activated before it (`endingAlongside`). Its own retry need not
 * wait: a second revoke crossing it takes away nothing more.
 */
async function revokeFailed(
  ctx: CoreContext,
  c: Change,
  grant: GrantRow,
  error: string,
  retry: RetryPolicy,
  fenceUntil: number | null,
): Promise<GrantRow> {
  const attempts = grant.attempts + 1;
  const nextAttemptAt =
    c.now + backoffDelay(attempts, retry.retryBase, retry.retryMax, retry.random);
  const alertNow = attempts >= retry.alertAfterAttempts && grant.alertedAt === null;
  const update = {
    attempts,
    lastError: error,
    nextAttemptAt,
    alertedAt: alertNow ? c.now : grant.alertedAt,
    fenceUntil,
  };
  await c.tx.grants.set(grant.id, update);
  c.audit({
    actor: 'hallpass',
    action: 'grant.revoke_failed_attempt',
    requestId: grant.requestId,
    grantId: grant.id,
    details: { attempts, error, nextAttemptAt, ...accountNamed(grant.grantedEmail) },
  });
  if (alertNow) {
    c.audit({
      actor: 'hallpass',
      action: 'grant.revoke_alerted',
      requestId: grant.requestId,
      grantId: grant.id,
      details: {
        attempts,
        channel: approverChannelOf(ctx, grant),
        admins: ctx.config.admins,
      },
    });
    alert(ctx, c, grant, 'revoke', attempts, error);
  }
  return { ...grant, ...update };
}

/** How a failed call may still land, and the lease it held (recordGrantCall). */
export interface FailedCall {
  /** The call timed out and may still land until then, so nothing may be concluded before it. */
  fenceUntil?: number;
  /** A grant call's lease: while the grant still names it, no other call can be out. */
  lease?: number;
}

/** A provider call failed: activation and revoke each have their own retry rule. */
export function recordAttemptFailed(
  ctx: CoreContext,
  grantId: string,
  call: 'grant' | 'revoke',
  error: string,
  retry: RetryPolicy,
  { fenceUntil, lease }: FailedCall = {},
): Promise<GrantRow | undefined> {
  const message = `${call}: ${error}`.slice(0, 1000);
  return change(ctx, async (c) => {
    const grant = await c.tx.grants.byId(grantId);
    // The lease's holder gives it back: only its own fence (it timed out) is left. A lease taken
    // by another process since (this one's ran out) is kept.
    const holder = lease !== undefined && grant?.fenceUntil === lease;
    const until = holder
      ? (fenceUntil ?? null)
      : Math.max(grant?.fenceUntil ?? 0, fenceUntil ?? 0) || null;
    if (grant?.status === 'activating' && call === 'grant')
      return activationFailed(ctx, c, grant, message, retry, until);
    if (grant?.status === 'revoking' && call === 'grant')
      return lateGrantFailed(c, grant, message, fenceUntil ?? null, lease);
    // A re-grant failed: its lease is given back, and if it timed out, its fence holds back a
    // revoke, in any process.
    if (grant?.status === 'active' && call === 'grant' && (holder || until !== null))
      return lateGrantFailed(c, grant, message, fenceUntil ?? null, lease);
    if (grant?.status === 'revoking') return revokeFailed(ctx, c, grant, message, retry, until);
    return grant;
  });
}

/** Moves every grant of `grants` to `status` at once; all of them must still be in `from`. */
async function moveAll(
  c: Change,
  grants: readonly GrantRow[],
  patch: Partial<GrantRow>,
  from: GrantRow['status'],
): Promise<void> {
  const changed = await c.tx.grants.updateMany(
    grants.map((g) => g.id),
    patch,
    from,
  );
  // Read under the change's lock, so nothing else can have moved them: the batch is all or nothing.
  if (changed !== grants.length)
    throw new Error(`${grants.length - changed} of ${grants.length} grants left ${from} meanwhile`);
}

/**
 * How long before its moment the sweeper may take due work: it books a mass expiry (the move to
 * `revoking`, the audit events) while access is still live, then makes every call on the
 * moment, so the booking no longer delays the calls that end access. A second books ten thousand
 * grants on two cores, on SQLite or PostgreSQL, where a quarter of one left a quarter or more to
 * be booked between the calls (docs/performance-journal.md). An extension approved in this last
 * stretch is refused, as it would be once the revoke began.
 */
export const TAKE_AHEAD_MS = 1_000;

/**
 * Several expiries in one transaction, each a complete change with its own audit event: one
 * commit and one statement for a batch of due grants instead of a read and a write per grant.
 * A grant is taken up to TAKE_AHEAD_MS before it expires; one extended or ended meanwhile, or
 * gone, is left out. Returns the grants it moved to `revoking`, in the order of `grantIds`.
 */
export async function beginExpiries(
  ctx: CoreContext,
  grantIds: readonly string[],
): Promise<GrantRow[]> {
  if (grantIds.length === 0) return [];
  return change(ctx, async (c) => {
    const ids = [...new Set(grantIds)];
    // next_attempt_at stays at expires_at, already due: the revoke is owed at once either way,
    // and a grant keeps its place in the sweeper's listing, so a pass paging past the grants it
    // moved does not read them again, and the due index is not rewritten for each of them.
    const ended = {
      status: 'revoking' as const,
      endReason: 'expired' as const,
      endedBy: 'hallpass',
      endAskedAt: c.now,
      attempts: 0,
    };
    const place = new Map(ids.map((id, i) => [id, i]));
    const expired = (await c.tx.grants.expire(ids, c.now + TAKE_AHEAD_MS, ended)).sort(
      (a, b) => place.get(a.id)! - place.get(b.id)!,
    );
    for (const grant of expired) {
      c.audit({
        actor: 'hallpass',
        action: 'grant.revoke_requested',
        requestId: grant.requestId,
        grantId: grant.id,
        details: {
          reason: 'expired',
          expiresAt: grant.expiresAt,
          // Negative when the expiry was booked ahead of its moment (TAKE_AHEAD_MS).
          lagMs: c.now - grant.expiresAt!,
        },
      });
    }
    return expired;
  });
}

export interface Revocation {
  /** The provider was not called because this other grant still covers the same access. */
  coveredBy?: string;
  checked?: boolean;
  elapsedMs?: number;
  /** What the provider saw done with the access (statements run, sessions), for the audit. */
  activity?: { summary: string; details: unknown };
  /**
   * When the provider confirmed the access gone (or the cover was found): the grant ended then,
   * though its record may be written later with others. The moment of recording when absent.
   */
  confirmedAt?: number;
}

export interface Revoked extends Revocation {
  grantId: string;
}

/** Whether the provider said what the access was used for: the event and the grant both record it. */
const reportsActivity = (r: Revocation): boolean => Boolean(r.activity);

/** The provider confirmed the access is gone (or another grant still needs it, so it stays). */
function recordRevoked(
  c: Change,
  grant: GrantRow,
  r: Revoked,
  status: GrantRow['status'],
  endedAt: number,
): void {
  recordStep(c, {
    actor: 'hallpass',
    action: 'grant.revoked',
    requestId: grant.requestId,
    grantId: grant.id,
    details: {
      reason: grant.endReason,
      endedBy: grant.endedBy,
      attempts: grant.attempts + 1,
      providerCall: r.coveredBy ? 'skipped' : 'revoke',
      coveredBy: r.coveredBy,
      checked: r.checked ?? false,
      elapsedMs: r.elapsedMs,
      overrunMs: grant.expiresAt !== null ? Math.max(0, endedAt - grant.expiresAt) : undefined,
      ...(reportsActivity(r) ? { activity: r.activity } : {}),
    },
    redraw: grant.requestId,
    dm:
      status === 'revoked'
        ? {
            key: `grant.ended:${grant.id}:dm`,
            userId: grant.userId,
            event: 'grant.ended',
            grantId: grant.id,
          }
        : undefined,
  });
}

/**
 * Several confirmed revokes in one transaction, each a complete change with its own audit event:
 * the grants are read in one statement and ended in one per final status and moment of
 * confirmation. Each ends when its revoke was confirmed, not when the batch is written. A grant
 * no longer revoking (ended by another call meanwhile) is left as it is. Returns each grant as it
 * is now.
 */
export async function recordRevocations(
  ctx: CoreContext,
  revoked: readonly Revoked[],
): Promise<(GrantRow | undefined)[]> {
  if (revoked.length === 0) return [];
  return change(ctx, async (c) => {
    const now = new Map(
      (await c.tx.grants.byIds(revoked.map((r) => r.grantId))).map((g) => [g.id, g]),
    );
    // Read back again after the end: a call that answered late, or someone re-adding the access
    // by hand, shows up there.
    const first = ctx.config.reconcile.recheckAfter[0];
    const endedAt = (r: Revoked) => Math.min(r.confirmedAt ?? c.now, c.now);
    const ended = (at: number, r: Revoked) => ({
      endedAt: at,
      endRecordedAt: c.now,
      activityReported: reportsActivity(r),
      nextAttemptAt: null,
      lastError: null,
      recheckAt: first === undefined ? null : at + first,
      rechecks: 0,
    });
    const ending: { grant: GrantRow; r: Revoked; status: 'revoked' | 'failed'; at: number }[] = [];
    // One statement per final status, moment and activity: grants confirmed in the same
    // millisecond share it.
    const moves = new Map<string, typeof ending>();
    for (const r of revoked) {
      const grant = now.get(r.grantId);
      if (!grant || grant.status !== 'revoking') continue;
      const status = grant.endReason === 'activation_failed' ? 'failed' : 'revoked';
      const at = endedAt(r);
      const e = { grant, r, status, at } as const;
      ending.push(e);
      const key = `${status}@${at}@${reportsActivity(r)}`;
      const same = moves.get(key);
      if (same) same.push(e);
      else moves.set(key, [e]);
      now.set(grant.id, { ...grant, ...ended(at, r), status });
    }
    for (const same of moves.values()) {
      const { status, at, r } = same[0]!;
      await moveAll(
        c,
        same.map((e) => e.grant),
        { ...ended(at, r), status },
        'revoking',
      );
    }
    // Credentials kept for a pipeline to fetch are no use once the access is gone.
    await c.tx.pipelineCredentials.drop(ending.map((e) => e.grant.id));
    for (const { grant, r, status, at } of ending) recordRevoked(c, grant, r, status, at);
    return revoked.map((r) => now.get(r.grantId));
  });
}

/**
 * The holder is warned that their grant ends soon, once per end: `expiresAt` is the end the
 * warning was listed for.
 */
export function recordWarned(
  ctx: CoreContext,
  grantId: string,
  expiresAt: number | null,
): Promise<void> {
  return change(ctx, async (c) => {
    const grant = await c.tx.grants.byId(grantId);
    if (!grant || grant.status !== 'active' || grant.warnedAt !== null) return;
    // Listed for an end an extension has since moved: the warning waits for the new end.
    if (grant.expiresAt !== expiresAt) return;
    await c.tx.grants.set(grantId, { warnedAt: c.now });
    recordStep(c, {
      actor: 'hallpass',
      action: 'grant.expiry_warned',
      requestId: grant.requestId,
      grantId,
      details: { expiresAt: grant.expiresAt },
      dm: {
        key: `grant.expiring:${grantId}:${grant.expiresAt}`,
        userId: grant.userId,
        event: 'grant.expiring',
        grantId,
      },
    });
  });
}

/**
 * The provider was told of an extension. The state the re-grant answered with is what later calls
 * name: a provider may have made the access anew, and new credentials it issued go to the holder.
 * The re-grant's `lease` (recordGrantCall) is given back, so the expiry is due at its end again.
 */
export function recordSynced(
  ctx: CoreContext,
  grantId: string,
  expiresAt: number,
  state: unknown,
  sealedCredentials?: string,
  lease?: number,
): Promise<void> {
  return change(ctx, async (c) => {
    const grant = await c.tx.grants.byId(grantId);
    if (!grant) return;
    const live = grant.status === 'active' || grant.status === 'revoking';
    if (live && lease !== undefined) await answered(c, grant, lease, null);
    // Ended while the re-grant was out: its revoke must still name the access the re-grant made.
    if (grant.status === 'revoking' && state !== undefined)
      await c.tx.grants.set(grantId, { providerState: JSON.stringify(state) });
    if (grant.status !== 'active') return;
    await c.tx.grants.set(grantId, {
      providerExpiresAt: expiresAt,
      ...(state === undefined ? {} : { providerState: JSON.stringify(state) }),
    });
    c.audit({
      actor: 'hallpass',
      action: 'grant.synced',
      requestId: grant.requestId,
      grantId,
      details: { expiresAt, credentialsIssued: sealedCredentials !== undefined },
    });
    if (sealedCredentials) await issueCredentials(c, grant, sealedCredentials, true);
  });
}
