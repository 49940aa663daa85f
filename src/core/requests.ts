import { z } from 'zod';
import { formatDuration, parseDuration } from '../config/duration';
import type { Resource } from '../config/schema';
import type { FilingFacts } from '../store';
import { refuseIfTokenEnded } from './api-tokens';
import { change, type Change, type CoreContext, type GrantRow, type RequestRow } from './context';
import { readBeforeFiling, repeated, type Asked } from './client-key';
import { DomainError } from './errors';
import { extensionCeiling } from './extension-ceiling';
import { newId } from './ids';
import { pipelineCallerSchema, type PipelineCaller } from './pipelines';
import type { DmEvent } from './notifications';
import { recordStep } from './steps';
import { ticketExample } from './ticket-example';
import { resolveStart } from './windows';
import type { GrantTerms } from './terms';

export const newRequestSchema = z.object({
  requester: z.string().min(1),
  resourceId: z.string(),
  duration: z.union([z.string(), z.number().int().positive()]),
  justification: z.string(),
  ticket: z.string().optional(),
  /** Makes a resubmitted form return the request it already created. */
  clientKey: z.string().max(255).optional(),
  /** A pipeline filing through the API: how it authenticated (its id is the requester). */
  caller: pipelineCallerSchema.optional(),
  /** A later start: `14:00`, `2026-11-03 14:00` (in the configured time zone) or epoch ms. */
  startAt: z.union([z.string(), z.number().int().positive()]).optional(),
});
export type NewRequest = z.infer<typeof newRequestSchema>;

const MAX_JUSTIFICATION = 2000;

const boundsOf = (resource: Resource) =>
  `between ${formatDuration(resource.minDuration)} and ${formatDuration(resource.maxDuration)}`;

/** `input` read as a duration, whatever `resource` allows; one that is none is refused. */
export function readDuration(resource: Resource, input: string | number): number {
  const ms = typeof input === 'number' ? input : parseDuration(input);
  if (ms === null) {
    throw new DomainError(
      'bad_duration',
      `"${String(input)}" is not a duration. Use something like 30m, 2h or 1h30m (${boundsOf(resource)} for ${resource.id}).`,
      'duration',
    );
  }
  return ms;
}

export function checkDuration(resource: Resource, input: string | number): number {
  return checkBounds(resource, readDuration(resource, input));
}

/** `ms`, if `resource` allows a grant that long. */
export function checkBounds(resource: Resource, ms: number): number {
  if (ms < resource.minDuration || ms > resource.maxDuration) {
    throw new DomainError(
      'bad_duration',
      `${formatDuration(ms)} is outside what ${resource.id} allows: pick a duration ${boundsOf(resource)}.`,
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

/** How a resource's tickets look, said with an example rather than its raw pattern when possible. */
function ticketShape(resource: Resource): string {
  const example = ticketExample(resource);
  if (example) return `like ${example}`;
  return `matching the pattern ${resource.ticketPattern ?? ''}`;
}

/** A ticket reference as a request records it: none when only whitespace was given. */
export const ticketOf = (ticket: string | undefined): string | null => ticket?.trim() || null;

export function checkTicket(resource: Resource, ticket: string | undefined): string | null {
  const value = ticketOf(ticket);
  if (!value) {
    if (resource.requireTicket) {
      throw new DomainError(
        'bad_ticket',
        `${resource.id} needs a ticket reference, ${ticketShape(resource)}.`,
        'ticket',
      );
    }
    return null;
  }
  if (resource.ticketPattern && !new RegExp(resource.ticketPattern).test(value)) {
    throw new DomainError(
      'bad_ticket',
      `"${value}" is not a ticket reference ${resource.id} accepts; it takes one ${ticketShape(resource)}.`,
      'ticket',
    );
  }
  if (value.length > 200)
    throw new DomainError('bad_ticket', 'A ticket reference is at most 200 characters.', 'ticket');
  return value;
}

/**
 * Every problem a request's fields have, each on its field, so a form can show them all at once
 * instead of one per submit. Empty when createRequest would take the fields; who may request,
 * and how many requests a person may have, are still checked there.
 */
export function requestProblems(
  ctx: CoreContext,
  input: Pick<NewRequest, 'resourceId' | 'duration' | 'justification' | 'ticket'>,
): DomainError[] {
  const problems: DomainError[] = [];
  const attempt = (check: () => unknown) => {
    try {
      check();
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      problems.push(err);
    }
  };
  let resource: Resource | undefined;
  attempt(() => (resource = ctx.policy.resource(input.resourceId.trim())));
  if (resource) {
    const known = resource;
    attempt(() => checkDuration(known, input.duration));
    attempt(() => checkTicket(known, input.ticket));
  }
  attempt(() => checkJustification(ctx, input.justification));
  return problems;
}

/** A new pending request row; access requests and extensions differ only in what they carry. */
export function pendingRequest(
  c: Change,
  fields: Pick<
    RequestRow,
    | 'kind'
    | 'grantId'
    | 'requester'
    | 'resourceId'
    | 'durationMs'
    | 'justification'
    | 'ticket'
    | 'approvalsRequired'
    | 'pendingUntil'
    | 'clientKey'
    | 'maxDurationMs'
    | 'caller'
  > &
    Partial<Pick<RequestRow, 'startAt' | 'policy'>>,
): RequestRow {
  return {
    ...fields,
    startAt: fields.startAt ?? null,
    policy: fields.policy ?? null,
    id: newId('req'),
    status: 'pending',
    autoApproved: false,
    selfApproved: false,
    createdAt: c.now,
    decidedAt: null,
    decidedBy: null,
    decisionReason: null,
  };
}

/**
 * Files a new request (or extension request): the row, its audit event, the requester's receipt
 * and the approver message, or an approval at once when the resource needs no approvers or a
 * pipelines or auto-approval rule approves it (`approvedBecause`).
 */
export async function fileRequest(
  ctx: CoreContext,
  c: Change,
  row: RequestRow,
  details: Record<string, unknown>,
  /** Why it is approved without an approver (a pipelines or auto-approval rule), for its audit event. */
  approvedBecause?: Record<string, unknown>,
): Promise<RequestRow> {
  await c.tx.requests.insert(row);
  recordStep(c, {
    actor: row.requester,
    action: 'request.created',
    requestId: row.id,
    grantId: row.grantId,
    details,
    dm: {
      key: `request.created:${row.id}:dm`,
      userId: row.requester,
      event: 'request.received',
      grantId: row.grantId,
    },
  });
  if (row.approvalsRequired === 0 || approvedBecause)
    return approveRequest(ctx, c, row, 'hallpass', true, approvedBecause ?? {});
  c.notify(`request.created:${row.id}:approvers`, { topic: 'approver_message', requestId: row.id });
  return row;
}

/** Someone deactivated, or turned into a guest, may not file. */
export function refuseIfGone(userId: string, status: string | undefined): void {
  if (status === 'deactivated' || status === 'guest') {
    throw new DomainError(
      'deactivated',
      `${userId} is ${status === 'guest' ? 'a guest' : 'deactivated'} in Slack, so Hallpass accepts no requests from them.`,
    );
  }
}

/**
 * How much one person may ask: a few requests waiting at once, and a few filed per window.
 * Counted inside the change, so a burst of concurrent requests cannot slip past together.
 */
function checkLimits(ctx: CoreContext, { filed, pending }: FilingFacts): void {
  const { maxPendingPerUser } = ctx.config.requests;
  if (pending >= maxPendingPerUser) {
    throw new DomainError(
      'rate_limited',
      `You already have ${pending} request${pending === 1 ? '' : 's'} waiting for a decision, the most one person may have at once. Cancel one (\`/jit list\`) or wait for a decision, then ask again.`,
    );
  }
  checkFilingRate(ctx, filed);
}

/** The filing limit: `filed` requests of one kind in the last `filingLimit.per`. */
export function checkFilingRate(ctx: CoreContext, filed: number): void {
  const { filingLimit } = ctx.config.requests;
  if (filed >= filingLimit.requests) {
    throw new DomainError(
      'rate_limited',
      `You filed ${filed} requests in the last ${formatDuration(filingLimit.per)}, the most one person may file in that time. Try again in a little while.`,
    );
  }
}

/** Files a request; approves it in the same transaction when no approver is needed (see Policy.filing). */
export async function createRequest(ctx: CoreContext, input: NewRequest): Promise<RequestRow> {
  const parsed = newRequestSchema.parse(input);
  const resourceId = parsed.resourceId.trim();
  const resource = parsed.caller
    ? ctx.policy.pipelineResource(parsed.caller, resourceId)
    : ctx.policy.resource(resourceId);
  const durationMs = readDuration(resource, parsed.duration);
  const caller = parsed.caller;
  // A retry asks what the filing it repeats asked, read when that filing was (`09:30` read again
  // after 09:30 names tomorrow), and gets it back before today's rules are asked: a bound
  // lowered since (maxDuration, a ticket pattern) judges new filings, not the one it repeats.
  const earlier = parsed.clientKey
    ? await ctx.store.requests.byClientKey(parsed.clientKey)
    : undefined;
  if (!earlier) checkBounds(resource, durationMs);
  const justification = earlier
    ? parsed.justification.trim()
    : checkJustification(ctx, parsed.justification);
  const ticket = earlier ? ticketOf(parsed.ticket) : checkTicket(resource, parsed.ticket);
  const now = earlier?.createdAt ?? ctx.clock.now();
  const startAt = parsed.startAt === undefined ? null : checkStart(ctx, parsed.startAt, now);
  const asked: Asked = {
    requester: parsed.requester,
    kind: 'access',
    resourceId: resource.id,
    grantId: null,
    durationMs,
    justification,
    ticket,
    startAt,
  };
  if (earlier) return repeated(earlier, asked);
  // The same rules `explain` answers with (src/core/rules.ts), on what the directory and the
  // on-call sources say now; a pipeline by its own rules.
  const filing = await ctx.policy.filing(
    parsed.requester,
    caller,
    resource,
    startAt ?? now,
    durationMs,
  );
  return change(ctx, async (c) => {
    const { existing, facts } = await readBeforeFiling(ctx, c, parsed.clientKey, asked);
    if (existing) return existing;
    // Judged again at the moment it is recorded: the answers filing waited for take time.
    if (startAt !== null) checkStart(ctx, startAt, c.now);
    const { rules, approvedBecause } = startAt === null ? filing.at(c.now) : filing;
    await refuseIfTokenEnded(c, caller);
    refuseIfGone(parsed.requester, facts.personState);
    checkLimits(ctx, facts);
    const row = pendingRequest(c, {
      kind: 'access',
      grantId: null,
      requester: parsed.requester,
      resourceId: resource.id,
      durationMs,
      justification,
      ticket,
      approvalsRequired: approvedBecause ? 0 : resource.approvalsRequired,
      // A request for a later start is decided before it, or not at all.
      pendingUntil: Math.min(c.now + ctx.config.requests.pendingTimeout, startAt ?? Infinity),
      clientKey: parsed.clientKey ?? null,
      maxDurationMs: resource.maxDuration,
      caller: caller ? JSON.stringify(caller) : null,
      startAt,
      policy: JSON.stringify(rules),
    });
    return fileRequest(
      ctx,
      c,
      row,
      {
        resourceId: row.resourceId,
        durationMs,
        justification,
        ticket,
        approvalsRequired: row.approvalsRequired,
        ...(caller ? { pipeline: pipelineDetails(caller) } : {}),
        ...(startAt !== null ? { startAt } : {}),
      },
      approvedBecause,
    );
  });
}

/** What the audit log records of how a pipeline authenticated (never a token or its hash). */
export function pipelineDetails(caller: PipelineCaller): Record<string, unknown> {
  return caller.via === 'token'
    ? { via: 'token', id: caller.tokenId }
    : { via: 'oidc', issuer: caller.issuer, claims: caller.claims };
}

/** A later start: ahead of now, and no further ahead than `requests.maxStartDelay`. */
function checkStart(ctx: CoreContext, input: string | number, now: number): number {
  const { timezone, requests } = ctx.config;
  const at = typeof input === 'number' ? input : resolveStart(input, now, timezone);
  if (at <= now)
    throw new DomainError(
      'bad_start',
      'The start you asked for has passed; pick a later time.',
      'start',
    );
  if (at - now > requests.maxStartDelay)
    throw new DomainError(
      'bad_start',
      `Access can start at most ${formatDuration(requests.maxStartDelay)} ahead; pick an earlier start.`,
      'start',
    );
  return at;
}

/**
 * Moves a pending request to approved and creates its grant (or extends the grant it is for).
 * The requester is told with `dmEvent`.
 */
export async function approveRequest(
  ctx: CoreContext,
  c: Change,
  row: RequestRow,
  decidedBy: string,
  auto: boolean,
  details: Record<string, unknown> = {},
  dmEvent: DmEvent = 'request.approved',
): Promise<RequestRow> {
  const decided = { status: 'approved' as const, decidedAt: c.now, decidedBy, autoApproved: auto };
  await c.tx.requests.set(row.id, decided);
  const approved: RequestRow = { ...row, ...decided };
  recordStep(c, {
    actor: decidedBy,
    action: 'request.approved',
    requestId: row.id,
    grantId: row.grantId,
    details: { auto, kind: row.kind, ...details },
    redraw: row.id,
  });
  if (row.kind === 'extension') {
    await extendGrant(ctx, c, approved);
    return approved;
  }
  const resource = ctx.policy.resource(row.resourceId);
  const place = ctx.providerPlaces?.get(resource.provider);
  const terms: GrantTerms = {
    provider: resource.provider,
    ...(place ? { providerPlace: place } : {}),
    target: ctx.resolveTarget(resource),
    resourceName: resource.name,
    approverChannel: ctx.policy.approverChannel(resource),
    maxTotalDurationMs: resource.maxTotalDuration,
    approvalsRequired: row.approvalsRequired,
  };
  const grant: GrantRow = {
    id: newId('gr'),
    requestId: row.id,
    userId: row.requester,
    resourceId: row.resourceId,
    provider: resource.provider,
    status: 'activating',
    durationMs: row.durationMs,
    startsAt: null,
    expiresAt: null,
    providerExpiresAt: null,
    // A later start waits for the sweeper to activate it then.
    nextAttemptAt: Math.max(c.now, row.startAt ?? c.now),
    attempts: 0,
    lastError: null,
    alertedAt: null,
    warnedAt: null,
    providerState: null,
    endReason: null,
    endedBy: null,
    endNote: null,
    endedAt: null,
    createdAt: c.now,
    snapshot: JSON.stringify(terms),
    fenceUntil: null,
    recheckAt: null,
    rechecks: 0,
    verifiedAt: null,
    grantedEmail: null,
    endAskedAt: null,
    endRecordedAt: null,
    activityReported: false,
    activatedAt: null,
  };
  await c.tx.grants.insert(grant);
  recordStep(c, {
    actor: 'hallpass',
    action: 'grant.created',
    requestId: row.id,
    grantId: grant.id,
    details: {
      provider: resource.provider,
      durationMs: row.durationMs,
      ...(row.startAt !== null && row.startAt > c.now ? { startAt: row.startAt } : {}),
    },
    dm: {
      key: `request.approved:${row.id}:dm`,
      userId: row.requester,
      event: dmEvent,
      grantId: grant.id,
    },
  });
  return approved;
}

async function extendGrant(ctx: CoreContext, c: Change, row: RequestRow): Promise<void> {
  const grant = row.grantId ? await c.tx.grants.byId(row.grantId) : undefined;
  const dm = {
    key: `extension.approved:${row.id}:dm`,
    userId: row.requester,
    event: 'extension.approved' as const,
    grantId: row.grantId,
  };
  if (!grant || grant.status !== 'active' || grant.expiresAt === null || grant.startsAt === null) {
    recordStep(c, {
      actor: 'hallpass',
      action: 'grant.extended',
      requestId: row.id,
      grantId: row.grantId,
      details: { applied: false, why: 'the grant is no longer active' },
      dm,
    });
    return;
  }
  const ceiling = extensionCeiling(
    grant,
    grant.startsAt,
    ctx.policy.findResource(grant.resourceId),
  );
  const expiresAt = Math.min(grant.expiresAt + row.durationMs, ceiling);
  // A grant call still out (a re-grant's lease, or its fence) holds the new end back as the old.
  const nextAttemptAt = Math.max(expiresAt, grant.fenceUntil ?? 0);
  await c.tx.grants.set(grant.id, { expiresAt, nextAttemptAt, warnedAt: null });
  recordStep(c, {
    actor: 'hallpass',
    action: 'grant.extended',
    requestId: row.id,
    grantId: grant.id,
    details: { applied: true, from: grant.expiresAt, to: expiresAt },
    redraw: grant.requestId,
    dm: { ...dm, grantId: grant.id },
  });
}

/** The requester withdraws a pending request. */
export function cancelRequest(
  ctx: CoreContext,
  requestId: string,
  actor: string,
): Promise<RequestRow> {
  return change(ctx, async (c) => {
    const row = await c.tx.requests.byId(requestId);
    if (!row)
      throw new DomainError('not_found', `No request ${requestId}. \`/jit list\` shows yours.`);
    if (row.requester !== actor)
      throw new DomainError('not_yours', `Request ${requestId} is not yours to cancel.`);
    if (row.status !== 'pending')
      throw new DomainError('bad_state', `Request ${requestId} is already ${row.status}.`);
    const decided = { status: 'cancelled' as const, decidedAt: c.now, decidedBy: actor };
    await c.tx.requests.set(row.id, decided);
    recordStep(c, {
      actor,
      action: 'request.cancelled',
      requestId: row.id,
      grantId: row.grantId,
      redraw: row.id,
      dm: {
        key: `request.cancelled:${row.id}:dm`,
        userId: row.requester,
        event: 'request.cancelled',
      },
    });
    return { ...row, ...decided };
  });
}

/** Ends a pending request whose time ran out; no-op when it was decided meanwhile. */
export async function expireInChange(c: Change, row: RequestRow): Promise<RequestRow> {
  const decided = { status: 'expired' as const, decidedAt: c.now, decidedBy: 'hallpass' };
  await c.tx.requests.update(row.id, decided, 'pending');
  recordStep(c, {
    actor: 'hallpass',
    action: 'request.expired',
    requestId: row.id,
    grantId: row.grantId,
    details: { pendingUntil: row.pendingUntil },
    redraw: row.id,
    dm: { key: `request.expired:${row.id}:dm`, userId: row.requester, event: 'request.expired' },
  });
  return { ...row, ...decided };
}

/** Expires every pending request past its timeout, one transaction each. Returns how many. */
export async function expireStaleRequests(ctx: CoreContext, limit = 500): Promise<number> {
  const due = await ctx.store.requests.stale(ctx.clock.now(), limit);
  let expired = 0;
  for (const id of due) {
    await change(ctx, async (c) => {
      const row = await c.tx.requests.byId(id);
      if (row?.status === 'pending' && row.pendingUntil <= c.now) {
        await expireInChange(c, row);
        expired++;
      }
    });
  }
  return expired;
}
