import { z } from 'zod';
import { formatDuration } from '../config/duration';
import type { Resource } from '../config/schema';
import type { Core, GrantRow, PipelineCaller, RequestRow } from '../core';
import type { Sealer } from '../secrets/seal';
import type { GrantView, RequestView, ResourceView } from './schemas';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** What the sweeper seals: the provider's credentials text. */
const sealedCredentials = z.object({ text: z.string() });

export function resourceView(core: Core, caller: PipelineCaller, r: Resource): ResourceView {
  const auto = r.pipelines
    .map((rule) => rule.autoApprove?.maxDuration ?? 0)
    .filter((ms) => ms > 0 && core.pipelines.autoApproves(caller, r, ms))
    .sort((a, b) => b - a)[0];
  return {
    id: r.id,
    name: r.name,
    description: r.description ?? null,
    minDuration: formatDuration(r.minDuration),
    maxDuration: formatDuration(r.maxDuration),
    defaultDuration: formatDuration(r.defaultDuration),
    requireTicket: r.requireTicket,
    ticketPattern: r.ticketPattern ?? null,
    autoApprovedUpTo: auto === undefined ? null : formatDuration(auto),
  };
}

/**
 * Views of requests and grants for their pipeline, with its credentials while they are valid;
 * without them (`credentials: false`) for an answer to a caller who may not read them (one giving
 * access back, which needs the identity only).
 */
export class Views {
  constructor(
    private readonly core: Core,
    private readonly sealer: Sealer,
  ) {}

  async grant(grant: GrantRow, withCredentials = true): Promise<GrantView> {
    const credentials =
      withCredentials && grant.status === 'active' ? await this.credentials(grant.id) : undefined;
    return {
      id: grant.id,
      requestId: grant.requestId,
      resource: grant.resourceId,
      status: grant.status,
      startsAt: iso(grant.startsAt),
      expiresAt: iso(grant.expiresAt),
      endedAt: iso(grant.endedAt),
      endReason: grant.endReason,
      ...(credentials === undefined ? {} : { credentials }),
    };
  }

  async request(request: RequestRow, withCredentials = true): Promise<RequestView> {
    const grant = await this.core.grantOf(request);
    const approvals = await this.core.approvalsOf(request.id);
    return {
      id: request.id,
      kind: request.kind,
      resource: request.resourceId,
      requester: request.requester,
      status: request.status,
      waiting: waiting(request, grant),
      duration: formatDuration(request.durationMs),
      reason: request.justification,
      ticket: request.ticket,
      createdAt: iso(request.createdAt)!,
      pendingUntil: iso(request.pendingUntil)!,
      decidedAt: iso(request.decidedAt),
      decidedBy: request.decidedBy,
      decisionReason: request.decisionReason,
      autoApproved: request.autoApproved,
      approvals: {
        required: request.approvalsRequired,
        approved: approvals.filter((a) => a.decision === 'approve').length,
      },
      grant: grant ? await this.grant(grant, withCredentials) : null,
    };
  }

  private async credentials(grantId: string): Promise<string | undefined> {
    const sealed = await this.core.pipelines.credentials(grantId);
    if (sealed === undefined) return undefined;
    let opened: string;
    try {
      opened = this.sealer.open(sealed);
    } catch {
      // The sealing key changed since: say nothing rather than hand out garbage.
      return undefined;
    }
    const parsed = sealedCredentials.safeParse(JSON.parse(opened));
    return parsed.success ? parsed.data.text : undefined;
  }
}

/** Whether a pipeline waiting on this request should keep waiting. */
export function waiting(request: RequestRow, grant: GrantRow | undefined): boolean {
  if (request.status === 'pending') return true;
  return (
    request.status === 'approved' && request.kind === 'access' && grant?.status === 'activating'
  );
}
