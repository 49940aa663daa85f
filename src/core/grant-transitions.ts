import { backoffDelay } from './backoff';
import { change, type Change, type CoreContext, type GrantRow } from './context';
import { issueCredentials } from './credentials';
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
}

/** The provider gave the access: the clock starts now. False when the grant was revoked meanwhile. */
export function recordActivated(
  ctx: CoreContext,
  grantId: string,
  a: Activation,
): Promise<boolean> {
  return change(ctx, async (c) => {
    const grant = await c.tx.grants.byId(grantId);
    if (!grant || grant.status !== 'activating') {
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
    await c.tx.grants.update(grantId, {
      status: 'active',
      startsAt: a.startsAt,
      expiresAt: a.expiresAt,
      providerExpiresAt: a.expiresAt,
      nextAttemptAt: a.expiresAt,
      providerState: a.state === undefined ? null : JSON.stringify(a.state),
      attempts: 0,
      lastError: null,
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
      },
      redraw: grant.requestId,
      dm: {
        key: `grant.active:${grantId}:dm`,
        userId: grant.userId,
        event: 'grant.active',
        grantId,
      },
    });
    if (a.sealedCredentials)
      await issueCredentials(c, grant, a.sealedCredentials, `grant.credentials:${grantId}`);
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
    details: { attempts, error, nextAttemptAt },
  });
  if (attempts < retry.alertAfterAttempts) {
    const update = { attempts, lastError: error, nextAttemptAt, fenceUntil };
    await c.tx.grants.update(grant.id, update);
    return { ...grant, ...update };
  }
  // The cleanup revoke waits out the fence: a grant call that timed out may still land.
  const cleanup = {
    status: 'revoking' as const,
    endReason: 'activation_failed' as const,
    endedBy: 'hallpass',
    attempts: 0,
    lastError: error,
    nextAttemptAt: Math.max(c.now, fenceUntil ?? 0),
    alertedAt: c.now,
    fenceUntil,
  };
  await c.tx.grants.update(grant.id, cleanup);
  recordStep(c, {
    actor: 'hallpass',
    action: 'grant.failed',
    requestId: grant.requestId,
    grantId: grant.id,
    details: { attempts, error },
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
 * out): not a failed revoke. Its fence holds the revoke back until the call can no longer land.
 */
async function lateGrantFailed(
  c: Change,
  grant: GrantRow,
  error: string,
  fenceUntil: number | null,
): Promise<GrantRow> {
  const update = {
    fenceUntil,
    nextAttemptAt: Math.max(grant.nextAttemptAt ?? c.now, fenceUntil ?? 0),
  };
  await c.tx.grants.update(grant.id, update);
  c.audit({
    actor: 'hallpass',
    action: 'provider.called',
    requestId: grant.requestId,
    grantId: grant.id,
    details: { call: 'grant', ok: false, late: true, status: grant.status, error, fenceUntil },
  });
  return { ...grant, ...update };
}

/** A revoke failed. It never gives up: it retries with backoff, and alerts once it has failed often. */
async function revokeFailed(
  ctx: CoreContext,
  c: Change,
  grant: GrantRow,
  error: string,
  retry: RetryPolicy,
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
  };
  await c.tx.grants.update(grant.id, update);
  c.audit({
    actor: 'hallpass',
    action: 'grant.revoke_failed_attempt',
    requestId: grant.requestId,
    grantId: grant.id,
    details: { attempts, error, nextAttemptAt },
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

/**
 * A provider call failed: activation and revoke each have their own retry rule. `fenceUntil`:
 * the call timed out and may still land until then, so nothing may be concluded before it.
 */
export function recordAttemptFailed(
  ctx: CoreContext,
  grantId: string,
  call: 'grant' | 'revoke',
  error: string,
  retry: RetryPolicy,
  fenceUntil?: number,
): Promise<GrantRow | undefined> {
  const message = `${call}: ${error}`.slice(0, 1000);
  return change(ctx, async (c) => {
    const grant = await c.tx.grants.byId(grantId);
    const fence = Math.max(grant?.fenceUntil ?? 0, fenceUntil ?? 0) || null;
    if (grant?.status === 'activating' && call === 'grant')
      return activationFailed(ctx, c, grant, message, retry, fence);
    if (grant?.status === 'revoking' && call === 'grant')
      return lateGrantFailed(c, grant, message, fence);
    if (grant?.status === 'revoking') return revokeFailed(ctx, c, grant, message, retry);
    return grant;
  });
}

/** The grant's time is up: it moves to `revoking`. No-op when it was extended or ended meanwhile. */
async function expire(c: Change, grantId: string): Promise<GrantRow | undefined> {
  const grant = await c.tx.grants.byId(grantId);
  if (!grant || grant.status !== 'active' || grant.expiresAt === null || grant.expiresAt > c.now)
    return grant;
  const ended = {
    status: 'revoking' as const,
    endReason: 'expired' as const,
    endedBy: 'hallpass',
    nextAttemptAt: c.now,
    attempts: 0,
  };
  await c.tx.grants.update(grantId, ended);
  c.audit({
    actor: 'hallpass',
    action: 'grant.revoke_requested',
    requestId: grant.requestId,
    grantId,
    details: { reason: 'expired', expiresAt: grant.expiresAt, lagMs: c.now - grant.expiresAt },
  });
  return { ...grant, ...ended };
}

/**
 * Several expiries in one transaction, each a complete change with its own audit event: one
 * commit for a batch of due grants instead of one per grant. Returns each grant as it is now.
 */
export async function beginExpiries(
  ctx: CoreContext,
  grantIds: readonly string[],
): Promise<(GrantRow | undefined)[]> {
  if (grantIds.length === 0) return [];
  return change(ctx, async (c) => {
    const out: (GrantRow | undefined)[] = [];
    for (const id of grantIds) out.push(await expire(c, id));
    return out;
  });
}

export interface Revocation {
  /** The provider was not called because this other grant still covers the same access. */
  coveredBy?: string;
  checked?: boolean;
  elapsedMs?: number;
  /** What the provider saw done with the access (statements run, sessions), for the audit. */
  activity?: { summary: string; details: unknown };
}

export interface Revoked extends Revocation {
  grantId: string;
}

/** The provider confirmed the access is gone (or another grant still needs it, so it stays). */
async function markRevoked(ctx: CoreContext, c: Change, r: Revoked): Promise<GrantRow | undefined> {
  const grant = await c.tx.grants.byId(r.grantId);
  if (!grant || grant.status !== 'revoking') return grant;
  const status =
    grant.endReason === 'activation_failed' ? ('failed' as const) : ('revoked' as const);
  // Read back again after the end: a call that answered late, or someone re-adding the access
  // by hand, shows up there.
  const first = ctx.config.reconcile.recheckAfter[0];
  const ended = {
    status,
    endedAt: c.now,
    nextAttemptAt: null,
    lastError: null,
    recheckAt: first === undefined ? null : c.now + first,
    rechecks: 0,
  };
  await c.tx.grants.update(grant.id, ended);
  await c.tx.pipelineCredentials.drop(grant.id);
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
      overrunMs: grant.expiresAt !== null ? Math.max(0, c.now - grant.expiresAt) : undefined,
      ...(r.activity ? { activity: r.activity } : {}),
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
  return { ...grant, ...ended };
}

/** Several confirmed revokes in one transaction, each a complete change with its own audit event. */
export async function recordRevocations(
  ctx: CoreContext,
  revoked: readonly Revoked[],
): Promise<(GrantRow | undefined)[]> {
  if (revoked.length === 0) return [];
  return change(ctx, async (c) => {
    const out: (GrantRow | undefined)[] = [];
    for (const r of revoked) out.push(await markRevoked(ctx, c, r));
    return out;
  });
}

export function recordWarned(ctx: CoreContext, grantId: string): Promise<void> {
  return change(ctx, async (c) => {
    const grant = await c.tx.grants.byId(grantId);
    if (!grant || grant.status !== 'active' || grant.warnedAt !== null) return;
    await c.tx.grants.update(grantId, { warnedAt: c.now });
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

export function recordSynced(ctx: CoreContext, grantId: string, expiresAt: number): Promise<void> {
  return change(ctx, async (c) => {
    const grant = await c.tx.grants.byId(grantId);
    if (!grant || grant.status !== 'active') return;
    await c.tx.grants.update(grantId, { providerExpiresAt: expiresAt });
    c.audit({
      actor: 'hallpass',
      action: 'grant.synced',
      requestId: grant.requestId,
      grantId,
      details: { expiresAt },
    });
  });
}
