import type { People, Resource } from '../../config/schema';
import type { GrantRow, RequestRow } from '../../core';
import type { DecisionOutcome } from '../../core';
import type { UserOverview } from '../../core';
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
import { channelLink, code, escapeAndFit, formatDuration, formatTime, mention } from './format';
import { decisionLine } from './status-lines';

/** An ephemeral answer to the person who acted: notification text plus optional blocks. */
export interface Reply {
  text: string;
  blocks?: Block[];
}

/** Items shown per list before "…and N more". */
const LIST_CAP = 10;

export function peopleText(people: People): string {
  const names = [
    ...people.users.map((u) => mention(u)),
    ...people.usergroups.map((g) => `<!subteam^${g}>`),
  ];
  return names.length > 0 ? names.join(', ') : 'nobody';
}

/** One line on a resource: its longest duration and who approves it where. */
export function approvalSummary(resource: Resource, approverChannel: string): string {
  const parts = [`Up to ${formatDuration(resource.maxDuration)}`];
  if (resource.approvalsRequired === 0) {
    parts.push('approved automatically');
  } else {
    const n = resource.approvalsRequired;
    parts.push(
      `${n} approval${n === 1 ? '' : 's'} from ${peopleText(resource.approvers)} in ${channelLink(approverChannel)}`,
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
  return { text: `You can request ${entries.length} resource(s).`, blocks };
}

export interface ListContext {
  now: number;
  timezone: string;
  nameOf: (resourceId: string) => string;
}

/** Time left on a grant, rounded up to the minute. */
export function timeLeft(expiresAt: number, now: number): string {
  const minutes = Math.max(1, Math.ceil((expiresAt - now) / 60_000));
  return `${formatDuration(minutes * 60_000)} left`;
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
      ? `${formatDuration(request.durationMs)} more on ${name}${request.grantId ? ` (${code(request.grantId)})` : ''}`
      : `${name} for ${formatDuration(request.durationMs)}`;
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
  if (overview.grants.length === 0) blocks.push(context(['You hold no access through Hallpass.']));
  for (const grant of overview.grants.slice(0, LIST_CAP)) {
    blocks.push(section(grantLine(grant, ctx)));
    const buttons = grantButtons(grant);
    if (buttons.length > 0) blocks.push({ ...actions(buttons), block_id: `grant:${grant.id}` });
  }
  if (overview.grants.length > LIST_CAP) {
    blocks.push(context([`…and ${overview.grants.length - LIST_CAP} more.`]));
  }
  blocks.push(section('*Your pending requests*'));
  if (overview.pending.length === 0) blocks.push(context(['Nothing is waiting for approval.']));
  for (const request of overview.pending.slice(0, LIST_CAP)) {
    blocks.push({
      ...section(requestLine(request, ctx)),
      block_id: `request:${request.id}`,
      accessory: cancelButton(request),
    });
  }
  if (overview.pending.length > LIST_CAP) {
    blocks.push(context([`…and ${overview.pending.length - LIST_CAP} more.`]));
  }
  return blocks;
}

/** `/jit list`: the caller's overview, after an optional line on what just happened. */
export function listReply(overview: UserOverview, ctx: ListContext, notice?: string): Reply {
  const summary = `${overview.grants.length} grant(s), ${overview.pending.length} pending request(s)`;
  return {
    text: fallback(notice ? `${notice} ${summary}` : summary),
    blocks: [...(notice ? [section(notice)] : []), ...overviewBlocks(overview, ctx)],
  };
}

/** What an approver is told after a click, when the approver message alone does not say it. */
export function decisionReply(
  outcome: DecisionOutcome,
  actor: string,
  timezone: string,
  now: number,
): string | undefined {
  switch (outcome.kind) {
    case 'recorded':
      return undefined;
    case 'duplicate': {
      const mine = outcome.approvals.find((a) => a.approver === actor);
      const verb = mine?.decision === 'deny' ? 'denied' : 'approved';
      return `You already ${verb} ${code(outcome.request.id)}; nothing changed.`;
    }
    case 'already_decided': {
      const approved = outcome.approvals.filter((a) => a.decision === 'approve').length;
      return `Already decided: ${decisionLine(outcome.request, approved, { now, timezone })}`;
    }
  }
}

export function requestFiledText(
  request: RequestRow,
  resource: Resource,
  approverChannel: string,
  /** The zone and time a later start is shown in. */
  clock?: { timezone: string; now: number },
): string {
  const name = `*${escapeAndFit(resource.name, 100)}*`;
  const starting =
    request.startAt !== null && clock
      ? ` starting ${formatTime(request.startAt, clock.timezone, clock.now)}`
      : '';
  const what =
    request.kind === 'extension'
      ? `${formatDuration(request.durationMs)} more on ${name}`
      : `${name} for ${formatDuration(request.durationMs)}${starting}`;
  if (request.status === 'approved') {
    return `${what} was approved automatically (${code(request.id)}). I'll DM you when it is in place.`;
  }
  return (
    `Asked for ${what} (${code(request.id)}). Approvers in ${channelLink(approverChannel)} have been asked; ` +
    `I'll DM you when it is decided${starting ? ' (if nobody decides before the start, it expires)' : ''}. \`/jit cancel ${request.id}\` withdraws it.`
  );
}

export function cancelledText(request: RequestRow, resourceName: string): string {
  return `Cancelled ${code(request.id)} (*${escapeAndFit(resourceName, 100)}*).`;
}

export function revokedText(grant: GrantRow, resourceName: string, actor: string): string {
  const name = `*${escapeAndFit(resourceName, 100)}*`;
  if (grant.status === 'revoking') {
    const whose = grant.userId === actor ? 'your' : `${mention(grant.userId)}'s`;
    return `Removing ${whose} access to ${name} now (${code(grant.id)}).`;
  }
  return `${code(grant.id)} (${name}) has already ended.`;
}
