import { and, eq } from 'drizzle-orm';
import { formatDuration } from '../config/duration';
import { grants, requests, type END_REASONS } from '../store/schema';

type EndReason = (typeof END_REASONS)[number];
import { change, type CoreContext, type GrantRow, type RequestRow } from './context';
import { DomainError } from './errors';
import { newId } from './ids';
import { approveRequest, checkDuration, checkJustification } from './requests';

export interface RevokeInput {
  grantId: string;
  actor: string;
  reason?: string;
  /** Break-glass from the CLI: the operator has the database file, so admin rights are implied. */
  viaCli?: boolean;
}

export function findGrant(ctx: CoreContext, grantId: string): GrantRow {
  const grant = ctx.db.select().from(grants).where(eq(grants.id, grantId)).get();
  if (!grant) throw new DomainError('not_found', `No grant ${grantId}. \`/jit list\` shows yours.`);
  return grant;
}

/**
 * Ends a grant early: the holder or an admin asks, the grant moves to `revoking` and the sweeper
 * takes the access away. Asking again for a grant already ending changes nothing.
 */
export function revokeGrant(ctx: CoreContext, input: RevokeInput): GrantRow {
  return change(ctx, (c) => {
    const grant = findGrant(ctx, input.grantId);
    const admin = input.viaCli === true || ctx.policy.isAdmin(input.actor);
    if (grant.userId !== input.actor && !admin) {
      throw new DomainError(
        'not_yours',
        `Grant ${grant.id} belongs to someone else; only they or an admin can revoke it.`,
      );
    }
    if (grant.status !== 'active' && grant.status !== 'activating') return grant;
    const endReason: EndReason =
      grant.userId === input.actor && !input.viaCli ? 'revoked_by_user' : 'revoked_by_admin';
    const ended = {
      status: 'revoking' as const,
      endReason,
      endedBy: input.actor,
      endNote: input.reason?.trim().slice(0, 500) || null,
      nextAttemptAt: c.now,
      attempts: 0,
      lastError: null,
      alertedAt: null,
    };
    ctx.db.update(grants).set(ended).where(eq(grants.id, grant.id)).run();
    const event = c.audit({
      actor: input.actor,
      action: 'grant.revoke_requested',
      requestId: grant.requestId,
      grantId: grant.id,
      details: {
        reason: endReason,
        note: ended.endNote,
        via: input.viaCli ? 'cli' : 'slack',
        from: grant.status,
      },
    });
    c.notify(`approver_message:${grant.requestId}:${event.seq}`, {
      topic: 'approver_message',
      requestId: grant.requestId,
    });
    return { ...grant, ...ended };
  });
}

export interface ExtensionInput {
  grantId: string;
  actor: string;
  duration: string | number;
  justification: string;
}

/** The holder asks for more time; the ask goes through the same approval rules as the grant. */
export async function requestExtension(
  ctx: CoreContext,
  input: ExtensionInput,
): Promise<RequestRow> {
  const grant = findGrant(ctx, input.grantId);
  if (grant.userId !== input.actor)
    throw new DomainError('not_yours', `Grant ${grant.id} is not yours to extend.`);
  if (grant.status !== 'active' || grant.startsAt === null || grant.expiresAt === null) {
    throw new DomainError(
      'bad_state',
      `Grant ${grant.id} is ${grant.status}; only active grants can be extended.`,
    );
  }
  const resource = ctx.policy.resource(grant.resourceId);
  const durationMs = checkDuration(resource, input.duration);
  const room = grant.startsAt + resource.maxTotalDuration - grant.expiresAt;
  if (durationMs > room) {
    const most = room >= 1000 ? `at most ${formatDuration(room)} more` : 'no more time';
    throw new DomainError(
      'bad_duration',
      `${resource.id} allows ${formatDuration(resource.maxTotalDuration)} in all from the start of a grant, so you can ask for ${most}.`,
      'duration',
    );
  }
  const justification = checkJustification(ctx, input.justification);
  return change(ctx, (c) => {
    const open = ctx.db
      .select({ id: requests.id })
      .from(requests)
      .where(and(eq(requests.grantId, grant.id), eq(requests.status, 'pending')))
      .get();
    if (open)
      throw new DomainError(
        'bad_state',
        `An extension of ${grant.id} is already waiting for approval (${open.id}).`,
      );
    const row: RequestRow = {
      id: newId('req'),
      kind: 'extension',
      grantId: grant.id,
      requester: input.actor,
      resourceId: grant.resourceId,
      durationMs,
      justification,
      ticket: null,
      status: 'pending',
      approvalsRequired: resource.approvalsRequired,
      autoApproved: false,
      createdAt: c.now,
      pendingUntil: Math.min(c.now + ctx.config.requests.pendingTimeout, grant.expiresAt!),
      decidedAt: null,
      decidedBy: null,
      decisionReason: null,
      clientKey: null,
    };
    ctx.db.insert(requests).values(row).run();
    c.audit({
      actor: input.actor,
      action: 'request.created',
      requestId: row.id,
      grantId: grant.id,
      details: { kind: 'extension', durationMs, justification },
    });
    c.notify(`request.created:${row.id}:dm`, {
      topic: 'requester_dm',
      userId: row.requester,
      event: 'request.received',
      requestId: row.id,
      grantId: grant.id,
    });
    if (row.approvalsRequired === 0) return approveRequest(ctx, c, row, 'hallpass', true);
    c.notify(`request.created:${row.id}:approvers`, {
      topic: 'approver_message',
      requestId: row.id,
    });
    return row;
  });
}
