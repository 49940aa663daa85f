import { and, asc, eq, gt, lte, ne, or, sql } from 'drizzle-orm';
import type { Db } from '../store/db';
import { grantActiveUnsynced, grantActiveUnwarned, grantInFlight } from '../store/partial-index';
import { param, preparedOn } from '../store/prepared';
import { grants } from '../store/schema';
import { backoffDelay } from './backoff';
import { change, type Change, type CoreContext, type GrantRow } from './context';

/**
 * The transitions the sweeper drives. Provider calls happen between them, never inside: each
 * state here is safe to resume after a crash because grant and revoke are idempotent.
 */

/** The sweeper's queries and updates, prepared once per connection: they run for every grant. */
const query = {
  byId: (db: Db) =>
    db
      .select()
      .from(grants)
      .where(eq(grants.id, sql.placeholder('id')))
      .prepare(),
  due: (db: Db) =>
    db
      .select()
      .from(grants)
      .where(and(grantInFlight, lte(grants.nextAttemptAt, sql.placeholder('now'))))
      .orderBy(asc(grants.nextAttemptAt))
      .limit(sql.placeholder('limit'))
      .prepare(),
  nextDue: (db: Db) =>
    db
      .select({ at: sql<number | null>`min(${grants.nextAttemptAt})` })
      .from(grants)
      .where(grantInFlight)
      .prepare(),
  covering: (db: Db) =>
    db
      .select()
      .from(grants)
      .where(
        and(
          eq(grants.userId, sql.placeholder('userId')),
          eq(grants.resourceId, sql.placeholder('resourceId')),
          ne(grants.id, sql.placeholder('id')),
          // Statuses written into the SQL: bound, SQLite (built with STAT4) re-plans this
          // query on every run, 17 µs instead of 2 µs, once per revoke.
          or(
            sql`${grants.status} = 'activating'`,
            and(sql`${grants.status} = 'active'`, gt(grants.expiresAt, sql.placeholder('now'))),
          ),
        ),
      )
      .prepare(),
  toWarn: (db: Db) =>
    db
      .select()
      .from(grants)
      .where(
        and(
          grantActiveUnwarned,
          lte(grants.expiresAt, sql.placeholder('until')),
          gt(grants.expiresAt, sql.placeholder('now')),
        ),
      )
      .limit(sql.placeholder('limit'))
      .prepare(),
  toSync: (db: Db) =>
    db.select().from(grants).where(grantActiveUnsynced).limit(sql.placeholder('limit')).prepare(),
  activated: (db: Db) =>
    db
      .update(grants)
      .set({
        status: 'active',
        startsAt: param('startsAt'),
        expiresAt: param('expiresAt'),
        providerExpiresAt: param('expiresAt'),
        nextAttemptAt: param('expiresAt'),
        providerState: param('state'),
        attempts: 0,
        lastError: null,
      })
      .where(eq(grants.id, sql.placeholder('id')))
      .prepare(),
  expired: (db: Db) =>
    db
      .update(grants)
      .set({
        status: 'revoking',
        endReason: 'expired',
        endedBy: 'hallpass',
        nextAttemptAt: param('now'),
        attempts: 0,
      })
      .where(eq(grants.id, sql.placeholder('id')))
      .prepare(),
  ended: (db: Db) =>
    db
      .update(grants)
      .set({ status: param('status'), endedAt: param('now'), nextAttemptAt: null, lastError: null })
      .where(eq(grants.id, sql.placeholder('id')))
      .prepare(),
  warned: (db: Db) =>
    db
      .update(grants)
      .set({ warnedAt: param('now') })
      .where(eq(grants.id, sql.placeholder('id')))
      .prepare(),
  synced: (db: Db) =>
    db
      .update(grants)
      .set({ providerExpiresAt: param('expiresAt') })
      .where(eq(grants.id, sql.placeholder('id')))
      .prepare(),
};

/** Grants with work due now: activation to try, expiry reached, or a revoke to retry. */
export function dueGrants(ctx: CoreContext, limit: number): GrantRow[] {
  return preparedOn(ctx.db, query.due).all({ now: ctx.clock.now(), limit });
}

/** When the next piece of grant work falls due, for an exact timer. */
export function nextDueAt(ctx: CoreContext): number | null {
  return preparedOn(ctx.db, query.nextDue).get()?.at ?? null;
}

export function getGrant(ctx: CoreContext, id: string): GrantRow | undefined {
  return preparedOn(ctx.db, query.byId).get({ id });
}

/** Another grant that still gives the same user the same resource, so revoking must wait for it. */
export function coveringGrant(ctx: CoreContext, grant: GrantRow): GrantRow | undefined {
  return preparedOn(ctx.db, query.covering).get({
    userId: grant.userId,
    resourceId: grant.resourceId,
    id: grant.id,
    now: ctx.clock.now(),
  });
}

export interface Activation {
  startsAt: number;
  expiresAt: number;
  state: unknown;
  sealedCredentials?: string;
  elapsedMs: number;
}

/** The provider gave the access: the clock starts now. False when the grant was revoked meanwhile. */
export function recordActivated(ctx: CoreContext, grantId: string, a: Activation): boolean {
  return change(ctx, (c) => {
    const grant = getGrant(ctx, grantId);
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
    const state = a.state === undefined ? null : JSON.stringify(a.state);
    preparedOn(ctx.db, query.activated).run({
      startsAt: a.startsAt,
      expiresAt: a.expiresAt,
      state,
      id: grantId,
    });
    const event = c.audit({
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
    });
    c.notify(`approver_message:${grant.requestId}:${event.seq}`, {
      topic: 'approver_message',
      requestId: grant.requestId,
    });
    c.notify(`grant.active:${grantId}:dm`, {
      topic: 'requester_dm',
      userId: grant.userId,
      event: 'grant.active',
      requestId: grant.requestId,
      grantId,
    });
    if (a.sealedCredentials) {
      c.notify(`grant.credentials:${grantId}`, {
        topic: 'credentials',
        userId: grant.userId,
        grantId,
        sealed: a.sealedCredentials,
      });
    }
    return true;
  });
}

export interface RetryPolicy {
  retryBase: number;
  retryMax: number;
  alertAfterAttempts: number;
  random?: () => number;
}

/**
 * A provider call failed. Activation gives up after `alertAfterAttempts` and moves to cleanup
 * (a revoke, in case the failed call half-worked); a revoke never gives up, it alerts and retries.
 */
export function recordAttemptFailed(
  ctx: CoreContext,
  grantId: string,
  error: string,
  retry: RetryPolicy,
): GrantRow | undefined {
  return change(ctx, (c) => {
    const grant = getGrant(ctx, grantId);
    if (!grant || (grant.status !== 'activating' && grant.status !== 'revoking')) return grant;
    const attempts = grant.attempts + 1;
    const message = error.slice(0, 1000);
    const nextAttemptAt =
      c.now + backoffDelay(attempts, retry.retryBase, retry.retryMax, retry.random);
    const call = grant.status === 'activating' ? 'grant' : 'revoke';
    const channel = ctx.policy.approverChannel(ctx.policy.resource(grant.resourceId));
    const alert = () =>
      c.notify(`alert:${grantId}:${call}:${attempts}`, {
        topic: 'alert',
        grantId,
        channel,
        admins: ctx.config.admins,
        action: call,
        attempts,
        error: message,
      });

    if (call === 'grant') {
      c.audit({
        actor: 'hallpass',
        action: 'grant.activation_failed_attempt',
        requestId: grant.requestId,
        grantId,
        details: { attempts, error: message, nextAttemptAt },
      });
      if (attempts < retry.alertAfterAttempts) {
        ctx.db
          .update(grants)
          .set({ attempts, lastError: message, nextAttemptAt })
          .where(eq(grants.id, grantId))
          .run();
        return { ...grant, attempts, lastError: message, nextAttemptAt };
      }
      const cleanup = {
        status: 'revoking' as const,
        endReason: 'activation_failed' as const,
        endedBy: 'hallpass',
        attempts: 0,
        lastError: message,
        nextAttemptAt: c.now,
        alertedAt: c.now,
      };
      ctx.db.update(grants).set(cleanup).where(eq(grants.id, grantId)).run();
      const event = c.audit({
        actor: 'hallpass',
        action: 'grant.failed',
        requestId: grant.requestId,
        grantId,
        details: { attempts, error: message },
      });
      c.notify(`approver_message:${grant.requestId}:${event.seq}`, {
        topic: 'approver_message',
        requestId: grant.requestId,
      });
      c.notify(`grant.failed:${grantId}:dm`, {
        topic: 'requester_dm',
        userId: grant.userId,
        event: 'grant.failed',
        requestId: grant.requestId,
        grantId,
      });
      alert();
      return { ...grant, ...cleanup };
    }

    const alertNow = attempts >= retry.alertAfterAttempts && grant.alertedAt === null;
    const update = {
      attempts,
      lastError: message,
      nextAttemptAt,
      alertedAt: alertNow ? c.now : grant.alertedAt,
    };
    ctx.db.update(grants).set(update).where(eq(grants.id, grantId)).run();
    c.audit({
      actor: 'hallpass',
      action: 'grant.revoke_failed_attempt',
      requestId: grant.requestId,
      grantId,
      details: { attempts, error: message, nextAttemptAt },
    });
    if (alertNow) {
      c.audit({
        actor: 'hallpass',
        action: 'grant.revoke_alerted',
        requestId: grant.requestId,
        grantId,
        details: { attempts, channel, admins: ctx.config.admins },
      });
      alert();
    }
    return { ...grant, ...update };
  });
}

/** The grant's time is up: it moves to `revoking`. No-op when it was extended or ended meanwhile. */
function expire(ctx: CoreContext, c: Change, grantId: string): GrantRow | undefined {
  const grant = getGrant(ctx, grantId);
  if (!grant || grant.status !== 'active' || grant.expiresAt === null || grant.expiresAt > c.now)
    return grant;
  preparedOn(ctx.db, query.expired).run({ now: c.now, id: grantId });
  c.audit({
    actor: 'hallpass',
    action: 'grant.revoke_requested',
    requestId: grant.requestId,
    grantId,
    details: { reason: 'expired', expiresAt: grant.expiresAt, lagMs: c.now - grant.expiresAt },
  });
  return {
    ...grant,
    status: 'revoking',
    endReason: 'expired',
    endedBy: 'hallpass',
    nextAttemptAt: c.now,
    attempts: 0,
  };
}

export function beginExpiry(ctx: CoreContext, grantId: string): GrantRow | undefined {
  return beginExpiries(ctx, [grantId])[0];
}

/**
 * Several expiries in one transaction, each a complete change with its own audit event: one
 * commit for a batch of due grants instead of one per grant. Returns each grant as it is now.
 */
export function beginExpiries(
  ctx: CoreContext,
  grantIds: readonly string[],
): (GrantRow | undefined)[] {
  if (grantIds.length === 0) return [];
  return change(ctx, (c) => grantIds.map((id) => expire(ctx, c, id)));
}

export interface Revocation {
  /** The provider was not called because this other grant still covers the same access. */
  coveredBy?: string;
  checked?: boolean;
  elapsedMs?: number;
}

export interface Revoked extends Revocation {
  grantId: string;
}

/** The provider confirmed the access is gone (or another grant still needs it, so it stays). */
function markRevoked(ctx: CoreContext, c: Change, r: Revoked): GrantRow | undefined {
  const { grantId } = r;
  const grant = getGrant(ctx, grantId);
  if (!grant || grant.status !== 'revoking') return grant;
  const status =
    grant.endReason === 'activation_failed' ? ('failed' as const) : ('revoked' as const);
  preparedOn(ctx.db, query.ended).run({ status, now: c.now, id: grantId });
  const event = c.audit({
    actor: 'hallpass',
    action: 'grant.revoked',
    requestId: grant.requestId,
    grantId,
    details: {
      reason: grant.endReason,
      endedBy: grant.endedBy,
      attempts: grant.attempts + 1,
      providerCall: r.coveredBy ? 'skipped' : 'revoke',
      coveredBy: r.coveredBy,
      checked: r.checked ?? false,
      elapsedMs: r.elapsedMs,
      overrunMs: grant.expiresAt !== null ? Math.max(0, c.now - grant.expiresAt) : undefined,
    },
  });
  c.notify(`approver_message:${grant.requestId}:${event.seq}`, {
    topic: 'approver_message',
    requestId: grant.requestId,
  });
  if (status === 'revoked') {
    c.notify(`grant.ended:${grantId}:dm`, {
      topic: 'requester_dm',
      userId: grant.userId,
      event: 'grant.ended',
      requestId: grant.requestId,
      grantId,
    });
  }
  return { ...grant, status, endedAt: c.now, nextAttemptAt: null, lastError: null };
}

export function recordRevoked(
  ctx: CoreContext,
  grantId: string,
  r: Revocation,
): GrantRow | undefined {
  return recordRevocations(ctx, [{ ...r, grantId }])[0];
}

/** Several confirmed revokes in one transaction, each a complete change with its own audit event. */
export function recordRevocations(
  ctx: CoreContext,
  revoked: readonly Revoked[],
): (GrantRow | undefined)[] {
  if (revoked.length === 0) return [];
  return change(ctx, (c) => revoked.map((r) => markRevoked(ctx, c, r)));
}

/** Active grants that end within `warnBefore` and whose holder was not warned yet. */
export function grantsToWarn(ctx: CoreContext, warnBefore: number, limit = 500): GrantRow[] {
  const now = ctx.clock.now();
  return preparedOn(ctx.db, query.toWarn).all({ now, until: now + warnBefore, limit });
}

export function recordWarned(ctx: CoreContext, grantId: string): void {
  change(ctx, (c) => {
    const grant = getGrant(ctx, grantId);
    if (!grant || grant.status !== 'active' || grant.warnedAt !== null) return;
    preparedOn(ctx.db, query.warned).run({ now: c.now, id: grantId });
    c.audit({
      actor: 'hallpass',
      action: 'grant.expiry_warned',
      requestId: grant.requestId,
      grantId,
      details: { expiresAt: grant.expiresAt },
    });
    c.notify(`grant.expiring:${grantId}:${grant.expiresAt}`, {
      topic: 'requester_dm',
      userId: grant.userId,
      event: 'grant.expiring',
      requestId: grant.requestId,
      grantId,
    });
  });
}

/** Active grants whose expiry moved (an extension) since the provider was last told. */
export function grantsToSync(ctx: CoreContext, limit = 100): GrantRow[] {
  return preparedOn(ctx.db, query.toSync).all({ limit });
}

export function recordSynced(ctx: CoreContext, grantId: string, expiresAt: number): void {
  change(ctx, (c) => {
    const grant = getGrant(ctx, grantId);
    if (!grant || grant.status !== 'active') return;
    preparedOn(ctx.db, query.synced).run({ expiresAt, id: grantId });
    c.audit({
      actor: 'hallpass',
      action: 'grant.synced',
      requestId: grant.requestId,
      grantId,
      details: { expiresAt },
    });
  });
}
