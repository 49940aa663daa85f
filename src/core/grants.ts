import { formatDuration } from '../config/duration';
import { change, type CoreContext, type GrantRow, type RequestRow } from './context';
import { endEarly, canEndEarly } from './early-end';
import { DomainError } from './errors';
import { extensionCeiling } from './extension-ceiling';
import { refuseIfTokenEnded } from './api-tokens';
import { filedBefore, readBeforeFiling, type Asked } from './client-key';
import type { PipelineCaller } from './pipelines';
import {
  checkBounds,
  checkFilingRate,
  checkJustification,
  fileRequest,
  pendingRequest,
  pipelineDetails,
  readDuration,
} from './requests';
import { termsOf } from './terms';

export interface RevokeInput {
  grantId: string;
  actor: string;
  reason?: string;
  /** Break-glass from the CLI: the operator has the database, so admin rights are implied. */
  viaCli?: boolean;
  /** Where a holder asked: Slack unless said otherwise. */
  via?: 'slack' | 'api';
}

/** A grant as people are told of it: its resource by name, then its id. */
function grantName(ctx: CoreContext, grant: GrantRow): string {
  const name = termsOf(grant)?.resourceName ?? ctx.policy.findResource(grant.resourceId)?.name;
  return `${name ?? grant.resourceId} (${grant.id})`;
}

export async function findGrant(ctx: CoreContext, grantId: string): Promise<GrantRow> {
  const grant = await ctx.store.grants.byId(grantId);
  if (!grant) throw new DomainError('not_found', `No grant ${grantId}. \`/jit list\` shows yours.`);
  return grant;
}

/**
 * Ends a grant early: the holder or an admin asks, the grant moves to `revoking` and the sweeper
 * takes the access away. Asking again for a grant already ending changes nothing.
 */
export function revokeGrant(ctx: CoreContext, input: RevokeInput): Promise<GrantRow> {
  return change(ctx, async (c) => {
    const grant = await c.tx.grants.byId(input.grantId);
    if (!grant)
      throw new DomainError('not_found', `No grant ${input.grantId}. \`/jit list\` shows yours.`);
    const admin = input.viaCli === true || ctx.policy.isAdmin(input.actor);
    if (grant.userId !== input.actor && !admin) {
      throw new DomainError(
        'not_yours',
        `The grant on ${grantName(ctx, grant)} belongs to someone else; only its holder or an admin can revoke it.`,
      );
    }
    if (!canEndEarly(grant)) return grant;
    return endEarly(c, grant, {
      reason:
        grant.userId === input.actor && !input.viaCli ? 'revoked_by_user' : 'revoked_by_admin',
      by: input.actor,
      note: input.reason?.trim().slice(0, 500) || null,
      details: { via: input.viaCli ? 'cli' : (input.via ?? 'slack') },
    });
  });
}

/** An active grant whose end has passed cannot be extended: new access is a new request. */
function ranOut(ctx: CoreContext, grant: GrantRow): DomainError {
  return new DomainError(
    'bad_state',
    `Your grant on ${grantName(ctx, grant)} has reached its end; only active access can be extended. Ask for new access instead.`,
  );
}

export interface ExtensionInput {
  grantId: string;
  actor: string;
  duration: string | number;
  justification: string;
  /** A pipeline asking through the API: how it authenticated now. */
  caller?: PipelineCaller;
  /** The same filing sent again (a Slack retry, a form submitted twice) gives its request back. */
  clientKey?: string;
}

/** The holder asks for more time; the ask goes through the same approval rules as the grant. */
export async function requestExtension(
  ctx: CoreContext,
  input: ExtensionInput,
): Promise<RequestRow> {
  const grant = await findGrant(ctx, input.grantId);
  if (grant.userId !== input.actor)
    throw new DomainError(
      'not_yours',
      `The grant on ${grantName(ctx, grant)} is not yours to extend; only its holder can ask for more time.`,
    );
  const resource = ctx.policy.findResource(grant.resourceId);
  if (!resource)
    throw new DomainError(
      'bad_state',
      `${grantName(ctx, grant)} is of a resource no longer in Hallpass's configuration: it cannot be extended, and ends at its time.`,
    );
  const durationMs = readDuration(resource, input.duration);
  const asked: Asked = {
    requester: input.actor,
    kind: 'extension',
    resourceId: grant.resourceId,
    grantId: grant.id,
    durationMs,
    justification: input.justification.trim(),
    ticket: null,
    startAt: null,
  };
  // Before the grant's state and today's bounds: the extension a retry repeats may have been
  // applied since, and a bound lowered since judges new extensions only.
  const earlier = await filedBefore(ctx.store, input.clientKey, asked);
  if (earlier) return earlier;
  checkBounds(resource, durationMs);
  const justification = checkJustification(ctx, input.justification);
  if (grant.status !== 'active' || grant.startsAt === null || grant.expiresAt === null) {
    throw new DomainError(
      'bad_state',
      `Your grant on ${grantName(ctx, grant)} is ${grant.status === 'revoking' ? 'ending' : grant.status}; only active access can be extended.`,
    );
  }
  if (grant.expiresAt <= ctx.clock.now()) throw ranOut(ctx, grant);
  const ceiling = extensionCeiling(grant, grant.startsAt, resource);
  const room = ceiling - grant.expiresAt;
  if (durationMs > room) {
    const most = room >= 1000 ? `at most ${formatDuration(room)} more` : 'no more time';
    throw new DomainError(
      'bad_duration',
      `${resource.id} allows ${formatDuration(ceiling - grant.startsAt)} in all from the start of a grant, so you can ask for ${most}.`,
      'duration',
    );
  }
  const { caller } = input;
  if (caller) {
    const refusal = ctx.policy.pipelineRefusal(caller, resource);
    if (refusal) throw refusal;
  }
  // An auto-approval bounds the whole grant, not each extension of it.
  const wholeMs = grant.expiresAt - grant.startsAt + durationMs;
  const approvedBecause = caller
    ? ctx.policy.pipelineAutoApproves(caller, resource, wholeMs)
      ? { by: 'pipelines' as const }
      : undefined
    : await ctx.policy.extensionApproval(input.actor, resource, grant.startsAt, wholeMs);
  const expiresAt = grant.expiresAt;
  return change(ctx, async (c) => {
    const { existing: sentTwice, facts } = await readBeforeFiling(ctx, c, input.clientKey, asked);
    if (sentTwice) return sentTwice;
    await refuseIfTokenEnded(c, caller);
    // The room and the auto-approval were judged on the grant as read above: another extension
    // applied since (one sent at the same moment, to another replica) would be counted twice.
    const current = await c.tx.grants.byId(grant.id);
    if (current?.status !== 'active' || current.expiresAt !== expiresAt)
      throw new DomainError(
        'bad_state',
        `Your grant on ${grantName(ctx, grant)} changed while this extension was being asked for (another one was applied, or it ended); look at it again and ask again.`,
      );
    // Still active in the record, but past its end (the sweeper has not ended it yet, or the
    // rules took that long to answer): nothing is left to extend.
    if (expiresAt <= c.now) throw ranOut(ctx, grant);
    const open = await c.tx.requests.pendingExtensionOf(grant.id);
    if (open)
      throw new DomainError(
        'bad_state',
        `An extension of your grant on ${grantName(ctx, grant)} is already waiting for approval (${open.id}).`,
      );
    // Each is posted to the approvers: asking and cancelling again and again is filing too. Only
    // extensions count here, so that access asked for in an incident never stops more time.
    checkFilingRate(ctx, facts.filed);
    const row = pendingRequest(c, {
      kind: 'extension',
      grantId: grant.id,
      requester: input.actor,
      resourceId: grant.resourceId,
      durationMs,
      justification,
      ticket: null,
      approvalsRequired: resource.approvalsRequired,
      pendingUntil: Math.min(c.now + ctx.config.requests.pendingTimeout, expiresAt),
      clientKey: input.clientKey ?? null,
      maxDurationMs: resource.maxDuration,
      caller: caller ? JSON.stringify(caller) : null,
    });
    return fileRequest(
      ctx,
      c,
      row,
      {
        kind: 'extension',
        durationMs,
        justification,
        ...(caller ? { pipeline: pipelineDetails(caller) } : {}),
      },
      approvedBecause,
    );
  });
}
