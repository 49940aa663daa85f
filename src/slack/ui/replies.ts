import type { People, Resource } from '../../config/schema';
import type { GrantRow, RequestRow } from '../../core';
import type { DecisionOutcome } from '../../core';
import { OVERVIEW_LIMIT, type UserOverview } from '../../core';
import { ACTIONS } from '../ids';
import {
  actions,
  button,
  context,
  fallback,
  section,
  type Block,
  type ButtonElement,
} from './blocks';
import {
  channelLink,
  code,
  escapeAndFit,
  formatTime,
  humanDuration,
  mention,
  plural,
} from './format';
import { decisionLine } from './status-lines';

/** An ephemeral answer to the person who acted: notification text plus optional blocks. */
export interface Reply {
  text: string;
  blocks?: Block[];
}

/** Items shown per list before "…and N more". */
const LIST_CAP = OVERVIEW_LIMIT;

export function peopleText(people: Pick<People, 'users' | 'usergroups'>): string {
  const names = [
    ...people.users.map((u) => mention(u)),
    ...people.usergroups.map((g) => `<!subteam^${g}>`),
  ];
  return names.length > 0 ? names.join(', ') : 'nobody';
}

/** One line on a resource: its longest duration and who approves it where. */
export function approvalSummary(resource: Resource, approverChannel: string): string {
  const parts = [`Up to ${humanDuration(resource.maxDuration)}`];
  if (resource.approvalsRequired === 0) {
    parts.push('approved automatically');
  } else {
    const n = resource.approvalsRequired;
    parts.push(
      `${plural(n, 'approval')} from ${peopleText(resource.approvers)} in ${channelLink(approverChannel)}`,
    );
  }
  if (resource.requireTicket) parts.push('ticket required');
  return parts.join(' · ');
}

export function textReply(mrkdwn: string): Reply {
  return { text: fallback(mrkdwn), blocks: [section(mrkdwn)] };
}

export function errorReply(message: string): Reply {
  return textReply(`:warning: ${message}`);
}

export interface CommandHelp {
  usage: string;
  summary: string;
}

export function helpReply(commands: readonly CommandHelp[]): Reply {
  const lines = [
    '*Hallpass* gives you temporary access that approvers OK in Slack, and takes it away when the time is up.',
    '`/jit` opens the request form.',
    ...commands.map((c) => `\`${c.usage}\` ${c.summary}`),
    'Durations look like `30m`, `2h` or `1h30m`.',
  ];
  return textReply(lines.join('\n'));
}

export function usageReply(problem: string, usage: string): Reply {
  return textReply(`:warning: ${problem}\nUsage: \`${usage}\` (\`/jit help\` lists every command)`);
}

export function unknownSubcommandReply(name: string, suggestion: string | undefined): Reply {
  const hint = suggestion ? ` Did you mean \`/jit ${suggestion}\`?` : '';
  return textReply(
    `:warning: \`/jit ${escapeAndFit(name, 50)}\` is not a Hallpass command.${hint} \`/jit help\` lists them.`,
  );
}

export interface ResourceEntry {
  resource: Resource;
  approverChannel: string;
}

export function resourcesReply(entries: readonly ResourceEntry[]): Reply {
  if (entries.length === 0) {
    return textReply(
      'There is nothing you can request with Hallpass. If you think there should be, ask your Hallpass admins.',
    );
  }
  const blocks: Block[] = [
    section('*What you can request* (`/jit request <id> <duration> <why>`)'),
  ];
  for (const { resource, approverChannel } of entries.slice(0, 40)) {
    const about = resource.description ? `\n${escapeAndFit(resource.description, 500)}` : '';
    blocks.push(
      section(
        `*${escapeAndFit(resource.name, 100)}* ${code(resource.id)}${about}\n${approvalSummary(resource, approverChannel)}`,
      ),
    );
  }
  if (entries.length > 40) blocks.push(context([`…and ${entries.length - 40} more.`]));
  return { text: `You can request ${plural(entries.length, 'resource')}.`, blocks };
}

export interface ListContext {
  now: number;
  timezone: string;
  nameOf: (resourceId: string) => string;
}

/** Time left on a grant, rounded up to the minute. */
export function timeLeft(expiresAt: number, now: number): string {
  const minutes = Math.max(1, Math.ceil((expiresAt - now) / 60_000));
  return `${humanDuration(minutes * 60_000)} left`;
}

export function grantLine(grant: GrantRow, ctx: ListContext): string {
  const name = `*${escapeAndFit(ctx.nameOf(grant.resourceId), 100)}*`;
  const state =
    grant.status === 'active' && grant.expiresAt !== null
      ? `active until ${formatTime(grant.expiresAt, ctx.timezone, ctx.now)} (${timeLeft(grant.expiresAt, ctx.now)})`
      : grant.status === 'activating'
        ? 'being set up'
        : grant.status === 'revoking'
          ? 'being removed'
          : grant.status;
  return `${name} · ${state} · ${code(grant.id)}`;
}

export function requestLine(request: RequestRow, ctx: ListContext): string {
  const name = `*${escapeAndFit(ctx.nameOf(request.resourceId), 100)}*`;
  const what =
    request.kind === 'extension'
      ? `${humanDuration(request.durationMs)} more on ${name}${request.grantId ? ` (${code(request.grantId)})` : ''}`
      : `${name} for ${humanDuration(request.durationMs)}`;
  return `${what} · asked ${formatTime(request.createdAt, ctx.timezone, ctx.now)} · ${code(request.id)}`;
}

export function grantButtons(grant: GrantRow): ButtonElement[] {
  if (grant.status === 'revoking') return [];
  const revoke: ButtonElement = {
    ...button({ text: 'Revoke now', actionId: ACTIONS.revokeGrant, value: grant.id }),
    style: 'danger' as const,
    confirm: {
      title: { type: 'plain_text' as const, text: 'Revoke now?' },
      text: { type: 'plain_text' as const, text: 'Your access ends right away.' },
      confirm: { type: 'plain_text' as const, text: 'Revoke' },
      deny: { type: 'plain_text' as const, text: 'Keep it' },
    },
  };
  if (grant.status !== 'active') return [revoke];
  return [revoke, button({ text: 'Extend', actionId: ACTIONS.extendGrant, value: grant.id })];
}

export function cancelButton(request: RequestRow): ButtonElement {
  return button({ text: 'Cancel request', actionId: ACTIONS.cancelRequest, value: request.id });
}

/** A person's grants and pending requests, with buttons to act on them. */
export function overviewBlocks(overview: UserOverview, ctx: ListContext): Block[] {
  const blocks: Block[] = [section('*Your access*')];
  if (overview.grantsTotal === 0) blocks.push(context(['You hold no access through Hallpass.']));
  for (const grant of overview.grants.slice(0, LIST_CAP)) {
    blocks.push(section(grantLine(grant, ctx)));
    const buttons = grantButtons(grant);
    if (buttons.length > 0) blocks.push({ ...actions(buttons), block_id: `grant:${grant.id}` });
  }
  const grantsShown = Math.min(overview.grants.length, LIST_CAP);
  if (overview.grantsTotal > grantsShown) {
    blocks.push(context([`…and ${overview.grantsTotal - grantsShown} more.`]));
  }
  blocks.push(section('*Your pending requests*'));
  if (overview.pendingTotal === 0) blocks.push(context(['Nothing is waiting for approval.']));
  for (const request of overview.pending.slice(0, LIST_CAP)) {
    blocks.push({
      ...section(requestLine(request, ctx)),
      block_id: `request:${request.id}`,
      accessory: cancelButton(request),
    });
  }
  const shown = Math.min(overview.pending.length, LIST_CAP);
  if (overview.pendingTotal > shown) {
    blocks.push(context([`…and ${overview.pendingTotal - shown} more.`]));
  }
  return blocks;
}

/** `/jit list`: the caller's overview, after an optional line on what just happened. */
export function listReply(overview: UserOverview, ctx: ListContext, notice?: string): Reply {
  const summary = `${plural(overview.grantsTotal, 'grant')}, ${plural(overview.pendingTotal, 'pending request')}`;
  return {
    text: fallback(notice ? `${notice} ${summary}` : summary),
    blocks: [...(notice ? [section(notice)] : []), ...overviewBlocks(overview, ctx)],
  };
}

/**
 * A request as the person acting on it reads it: whose it is (theirs, or someone's by name),
 * for what and for how long, e.g. "<@U1>'s request for *Production database* (1 h)".
 */
export function requestTitle(
  request: Pick<RequestRow, 'kind' | 'requester' | 'resourceId' | 'durationMs'>,
  resourceName: string,
  reader: string,
): string {
  const whose = request.requester === reader ? 'your' : `${mention(request.requester)}'s`;
  const name = `*${escapeAndFit(resourceName, 100)}*`;
  const duration = humanDuration(request.durationMs);
  return request.kind === 'extension'
    ? `${whose} request for ${duration} more on ${name}`
    : `${whose} request for ${name} (${duration})`;
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** What an approver is told after a click, when the approver message alone does not say it. */
export function decisionReply(
  outcome: DecisionOutcome,
  actor: string,
  ctx: ListContext,
): string | undefined {
  const title = requestTitle(outcome.request, ctx.nameOf(outcome.request.resourceId), actor);
  switch (outcome.kind) {
    case 'recorded':
      return undefined;
    case 'duplicate': {
      const mine = outcome.approvals.find((a) => a.approver === actor);
      const verb = mine?.decision === 'deny' ? 'denied' : 'approved';
      return `You already ${verb} ${title}; nothing changed.`;
    }
    case 'already_decided': {
      const approvers = outcome.approvals
        .filter((a) => a.decision === 'approve')
        .map((a) => a.approver);
      return `${capitalized(title)} is already decided: ${decisionLine(outcome.request, approvers.length, ctx, approvers)}`;
    }
  }
}

/**
 * The answer to filing a request: a pointer, not a copy, of the DM that follows (the card with
 * Cancel when approvers must decide; the access itself when none must).
 */
export function requestFiledText(
  request: RequestRow,
  resource: Resource,
  approverChannel: string,
  /** The zone and time a later start is shown in. */
  clock?: { timezone: string; now: number },
): string {
  const title = requestTitle(request, resource.name, request.requester);
  const starting =
    request.startAt !== null && clock
      ? `, starting ${formatTime(request.startAt, clock.timezone, clock.now)},`
      : '';
  if (request.status === 'approved') {
    return request.kind === 'extension'
      ? `✅ ${capitalized(title)} needs no approval: your access runs longer, and your DM says until when.`
      : `✅ ${capitalized(title)}${starting} needs no approval; I'll DM you as soon as the access is ready.`;
  }
  return `📨 ${capitalized(title)}${starting} is with the approvers in ${channelLink(approverChannel)}${starting ? ' (if nobody decides before the start, it expires)' : ''}. Follow it, or cancel it, in your DM with Hallpass (${code(request.id)}).`;
}

export function cancelledText(request: RequestRow, resourceName: string): string {
  return `Cancelled ${requestTitle(request, resourceName, request.requester)} (${code(request.id)}).`;
}

export function revokedText(grant: GrantRow, resourceName: string, actor: string): string {
  const name = `*${escapeAndFit(resourceName, 100)}*`;
  const whose = grant.userId === actor ? 'your' : `${mention(grant.userId)}'s`;
  if (grant.status === 'revoking') {
    return `Removing ${whose} access to ${name} now (${code(grant.id)}).`;
  }
  return `${capitalized(whose)} access to ${name} has already ended (${code(grant.id)}).`;
}
