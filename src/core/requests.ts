import { and, eq, lte, sql } from 'drizzle-orm';
import { z } from 'zod';
import { formatDuration, parseDuration } from '../config/duration';
import type { Resource } from '../config/schema';
import type { Db } from '../store/db';
import { requestPending } from '../store/partial-index';
import { param, preparedOn } from '../store/prepared';
import { grants, requests } from '../store/schema';
import { change, type Change, type CoreContext, type RequestRow } from './context';
import { DomainError } from './errors';
import { newId } from './ids';

export const newRequestSchema = z.object({
  requester: z.string().min(1),
  resourceId: z.string(),
  duration: z.union([z.string(), z.number().int().positive()]),
  justification: z.string(),
  ticket: z.string().optional(),
  /** Makes a resubmitted form return the request it already created. */
  clientKey: z.string().max(255).optional(),
});
export type NewRequest = z.infer<typeof newRequestSchema>;

const MAX_JUSTIFICATION = 2000;

/** The writes of filing and approving, prepared once per connection: each request makes them. */
const query = {
  byClientKey: (db: Db) =>
    db
      .select()
      .from(requests)
      .where(eq(requests.clientKey, sql.placeholder('clientKey')))
      .prepare(),
  insert: (db: Db) =>
    db
      .insert(requests)
      .values({
        id: sql.placeholder('id'),
        kind: sql.placeholder('kind'),
        grantId: sql.placeholder('grantId'),
        requester: sql.placeholder('requester'),
        resourceId: sql.placeholder('resourceId'),
        durationMs: sql.placeholder('durationMs'),
        justification: sql.placeholder('justification'),
        ticket: sql.placeholder('ticket'),
        status: sql.placeholder('status'),
        approvalsRequired: sql.placeholder('approvalsRequired'),
        autoApproved: sql.placeholder('autoApproved'),
        createdAt: sql.placeholder('createdAt'),
        pendingUntil: sql.placeholder('pendingUntil'),
        decidedAt: sql.placeholder('decidedAt'),
        decidedBy: sql.placeholder('decidedBy'),
        decisionReason: sql.placeholder('decisionReason'),
        clientKey: sql.placeholder('clientKey'),
      })
      .prepare(),
  approved: (db: Db) =>
    db
      .update(requests)
      .set({
        status: 'approved',
        decidedAt: param('now'),
        decidedBy: param('decidedBy'),
        // Bound as is, so the boolean column gets SQLite's 0 or 1.
        autoApproved: param<number>('auto'),
      })
      .where(eq(requests.id, sql.placeholder('id')))
      .prepare(),
  insertGrant: (db: Db) =>
    db
      .insert(grants)
      .values({
        id: sql.placeholder('id'),
        requestId: sql.placeholder('requestId'),
        userId: sql.placeholder('userId'),
        resourceId: sql.placeholder('resourceId'),
        provider: sql.placeholder('provider'),
        status: 'activating',
        durationMs: sql.placeholder('durationMs'),
        nextAttemptAt: sql.placeholder('now'),
        createdAt: sql.placeholder('now'),
      })
      .prepare(),
};

export function checkDuration(resource: Resource, input: string | number): number {
  const ms = typeof input === 'number' ? input : parseDuration(input);
  const bounds = `between ${formatDuration(resource.minDuration)} and ${formatDuration(resource.maxDuration)}`;
  if (ms === null) {
    throw new DomainError(
      'bad_duration',
      `"${String(input)}" is not a duration. Use something like 30m, 2h or 1h30m (${bounds} for ${resource.id}).`,
      'duration',
    );
  }
  if (ms < resource.minDuration || ms > resource.maxDuration) {
    throw new DomainError(
      'bad_duration',
      `${formatDuration(ms)} is outside what ${resource.id} allows: pick a duration ${bounds}.`,
      'duration',
    );
  }
  return ms;
}

export function checkJustification(ctx: CoreContext, text: string): string {
  const trimmed = text.trim();
  const min = ctx.config.requests.minJustification;
  if (trimmed.length < min) {
    throw new DomainError(
      'bad_justification',
      `Say why you need access in at least ${min} characters (you wrote ${trimmed.length}).`,
      'justification',
    );
  }
  if (trimmed.length > MAX_JUSTIFICATION) {
    throw new DomainError(
      'bad_justification',
      `Keep the justification under ${MAX_JUSTIFICATION} characters (you wrote ${trimmed.length}).`,
      'justification',
    );
  }
  return trimmed;
}

export function checkTicket(resource: Resource, ticket: string | undefined): string | null {
  const value = ticket?.trim() || null;
  if (!value) {
    if (resource.requireTicket) {
      throw new DomainError(
        'bad_ticket',
        `${resource.id} needs a ticket reference${resource.ticketPattern ? ` matching ${resource.ticketPattern}` : ''}.`,
        'ticket',
      );
    }
    return null;
  }
  if (resource.ticketPattern && !new RegExp(resource.ticketPattern).test(value)) {
    throw new DomainError(
      'bad_ticket',
      `Ticket "${value}" does not match ${resource.ticketPattern}.`,
      'ticket',
    );
  }
  if (value.length > 200)
    throw new DomainError('bad_ticket', 'A ticket reference is at most 200 characters.', 'ticket');
  return value;
}

/** Files a request; auto-approves it in the same transaction when the resource needs no approvers. */
export async function createRequest(ctx: CoreContext, input: NewRequest): Promise<RequestRow> {
  const parsed = newRequestSchema.parse(input);
  const resource = ctx.policy.resource(parsed.resourceId.trim());
  const durationMs = checkDuration(resource, parsed.duration);
  const justification = checkJustification(ctx, parsed.justification);
  const ticket = checkTicket(resource, parsed.ticket);
  if (!(await ctx.policy.canRequest(parsed.requester, resource))) {
    throw new DomainError(
      'not_allowed',
      `You are not allowed to request ${resource.id}. Ask in ${'<#' + ctx.policy.approverChannel(resource) + '>'} if you think you should be.`,
      'resource',
    );
  }
  return change(ctx, (c) => {
    if (parsed.clientKey) {
      const existing = preparedOn(ctx.db, query.byClientKey).get({ clientKey: parsed.clientKey });
      if (existing) return existing;
    }
    const row: RequestRow = {
      id: newId('req'),
      kind: 'access',
      grantId: null,
      requester: parsed.requester,
      resourceId: resource.id,
      durationMs,
      justification,
      ticket,
      status: 'pending',
      approvalsRequired: resource.approvalsRequired,
      autoApproved: false,
      createdAt: c.now,
      pendingUntil: c.now + ctx.config.requests.pendingTimeout,
      decidedAt: null,
      decidedBy: null,
      decisionReason: null,
      clientKey: parsed.clientKey ?? null,
    };
    preparedOn(ctx.db, query.insert).run(row);
    c.audit({
      actor: row.requester,
      action: 'request.created',
      requestId: row.id,
      details: {
        resourceId: row.resourceId,
        durationMs,
        justification,
        ticket,
        approvalsRequired: row.approvalsRequired,
      },
    });
    c.notify(`request.created:${row.id}:dm`, {
      topic: 'requester_dm',
      userId: row.requester,
      event: 'request.received',
      requestId: row.id,
    });
    if (row.approvalsRequired === 0) return approveRequest(ctx, c, row, 'hallpass', true);
    c.notify(`request.created:${row.id}:approvers`, {
      topic: 'approver_message',
      requestId: row.id,
    });
    return row;
  });
}

/** Moves a pending request to approved and creates its grant (or extends the grant it is for). */
export function approveRequest(
  ctx: CoreContext,
  c: Change,
  row: RequestRow,
  decidedBy: string,
  auto: boolean,
): RequestRow {
  const approved: RequestRow = {
    ...row,
    status: 'approved',
    decidedAt: c.now,
    decidedBy,
    autoApproved: auto,
  };
  preparedOn(ctx.db, query.approved).run({ id: row.id, now: c.now, decidedBy, auto: Number(auto) });
  const event = c.audit({
    actor: decidedBy,
    action: 'request.approved',
    requestId: row.id,
    grantId: row.grantId,
    details: { auto, kind: row.kind },
  });
  c.notify(`approver_message:${row.id}:${event.seq}`, {
    topic: 'approver_message',
    requestId: row.id,
  });
  if (row.kind === 'extension') {
    extendGrant(ctx, c, approved);
    return approved;
  }
  const resource = ctx.policy.resource(row.resourceId);
  const grantId = newId('gr');
  preparedOn(ctx.db, query.insertGrant).run({
    id: grantId,
    requestId: row.id,
    userId: row.requester,
    resourceId: row.resourceId,
    provider: resource.provider,
    durationMs: row.durationMs,
    now: c.now,
  });
  c.audit({
    actor: 'hallpass',
    action: 'grant.created',
    requestId: row.id,
    grantId,
    details: { provider: resource.provider, durationMs: row.durationMs },
  });
  c.notify(`request.approved:${row.id}:dm`, {
    topic: 'requester_dm',
    userId: row.requester,
    event: 'request.approved',
    requestId: row.id,
    grantId,
  });
  return approved;
}

function extendGrant(ctx: CoreContext, c: Change, row: RequestRow): void {
  const grant = row.grantId
    ? ctx.db.select().from(grants).where(eq(grants.id, row.grantId)).get()
    : undefined;
  if (!grant || grant.status !== 'active' || grant.expiresAt === null || grant.startsAt === null) {
    c.audit({
      actor: 'hallpass',
      action: 'grant.extended',
      requestId: row.id,
      grantId: row.grantId,
      details: { applied: false, why: 'the grant is no longer active' },
    });
    c.notify(`extension.approved:${row.id}:dm`, {
      topic: 'requester_dm',
      userId: row.requester,
      event: 'extension.approved',
      requestId: row.id,
      grantId: row.grantId ?? undefined,
    });
    return;
  }
  const resource = ctx.policy.resource(grant.resourceId);
  const ceiling = grant.startsAt + resource.maxTotalDuration;
  const expiresAt = Math.min(grant.expiresAt + row.durationMs, ceiling);
  ctx.db
    .update(grants)
    .set({ expiresAt, nextAttemptAt: expiresAt, warnedAt: null })
    .where(eq(grants.id, grant.id))
    .run();
  const event = c.audit({
    actor: 'hallpass',
    action: 'grant.extended',
    requestId: row.id,
    grantId: grant.id,
    details: { applied: true, from: grant.expiresAt, to: expiresAt },
  });
  c.notify(`approver_message:${grant.requestId}:${event.seq}`, {
    topic: 'approver_message',
    requestId: grant.requestId,
  });
  c.notify(`extension.approved:${row.id}:dm`, {
    topic: 'requester_dm',
    userId: row.requester,
    event: 'extension.approved',
    requestId: row.id,
    grantId: grant.id,
  });
}

/** The requester withdraws a pending request. */
export function cancelRequest(ctx: CoreContext, requestId: string, actor: string): RequestRow {
  return change(ctx, (c) => {
    const row = ctx.db.select().from(requests).where(eq(requests.id, requestId)).get();
    if (!row)
      throw new DomainError('not_found', `No request ${requestId}. \`/jit list\` shows yours.`);
    if (row.requester !== actor)
      throw new DomainError('not_yours', `Request ${requestId} is not yours to cancel.`);
    if (row.status !== 'pending')
      throw new DomainError('bad_state', `Request ${requestId} is already ${row.status}.`);
    ctx.db
      .update(requests)
      .set({ status: 'cancelled', decidedAt: c.now, decidedBy: actor })
      .where(eq(requests.id, row.id))
      .run();
    const event = c.audit({
      actor,
      action: 'request.cancelled',
      requestId: row.id,
      grantId: row.grantId,
    });
    c.notify(`approver_message:${row.id}:${event.seq}`, {
      topic: 'approver_message',
      requestId: row.id,
    });
    c.notify(`request.cancelled:${row.id}:dm`, {
      topic: 'requester_dm',
      userId: row.requester,
      event: 'request.cancelled',
      requestId: row.id,
    });
    return { ...row, status: 'cancelled', decidedAt: c.now, decidedBy: actor };
  });
}

/** Ends a pending request whose time ran out; no-op when it was decided meanwhile. */
export function expireInChange(ctx: CoreContext, c: Change, row: RequestRow): RequestRow {
  ctx.db
    .update(requests)
    .set({ status: 'expired', decidedAt: c.now, decidedBy: 'hallpass' })
    .where(and(eq(requests.id, row.id), eq(requests.status, 'pending')))
    .run();
  const event = c.audit({
    actor: 'hallpass',
    action: 'request.expired',
    requestId: row.id,
    grantId: row.grantId,
    details: { pendingUntil: row.pendingUntil },
  });
  c.notify(`approver_message:${row.id}:${event.seq}`, {
    topic: 'approver_message',
    requestId: row.id,
  });
  c.notify(`request.expired:${row.id}:dm`, {
    topic: 'requester_dm',
    userId: row.requester,
    event: 'request.expired',
    requestId: row.id,
  });
  return { ...row, status: 'expired', decidedAt: c.now, decidedBy: 'hallpass' };
}

/** Expires every pending request past its timeout, one transaction each. Returns how many. */
export function expireStaleRequests(ctx: CoreContext, limit = 500): number {
  const due = ctx.db
    .select({ id: requests.id })
    .from(requests)
    .where(and(requestPending, lte(requests.pendingUntil, ctx.clock.now())))
    .limit(limit)
    .all();
  let expired = 0;
  for (const { id } of due) {
    change(ctx, (c) => {
      const row = ctx.db.select().from(requests).where(eq(requests.id, id)).get();
      if (row?.status === 'pending' && row.pendingUntil <= c.now) {
        expireInChange(ctx, c, row);
        expired++;
      }
    });
  }
  return expired;
}
