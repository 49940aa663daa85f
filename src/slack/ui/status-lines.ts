import type { ApprovalRow, GrantRow, RequestRow } from '../../core';
import type { ProviderGuarantees } from '../../providers/types';
import { channelLink, code, escapeAndFit, formatTime, mention } from './format';

/** The request fields the messages show; rows from the core fit as they are. */
export type RequestView = Pick<
  RequestRow,
  | 'id'
  | 'kind'
  | 'grantId'
  | 'requester'
  | 'resourceId'
  | 'durationMs'
  | 'justification'
  | 'ticket'
  | 'status'
  | 'approvalsRequired'
  | 'autoApproved'
  | 'createdAt'
  | 'pendingUntil'
  | 'decidedAt'
  | 'decidedBy'
  | 'decisionReason'
>;

export type ApprovalView = Pick<ApprovalRow, 'approver' | 'decision' | 'reason' | 'createdAt'>;

export type GrantView = Pick<
  GrantRow,
  'id' | 'status' | 'startsAt' | 'expiresAt' | 'endReason' | 'endedBy' | 'endNote' | 'endedAt'
>;

export interface ResourceView {
  id: string;
  name: string;
}

/** When a message is rendered and how its times are written. */
export interface Moment {
  now: number;
  timezone: string;
}

const REASON_MAX = 1500;
const NOTE_MAX = 500;

/** People's text on one line (it sits among status lines), escaped and cut to `max`. */
export function oneLine(text: string, max: number): string {
  return escapeAndFit(text.replace(/\s+/g, ' ').trim(), max);
}

export function at(ms: number, m: Moment): string {
  return formatTime(ms, m.timezone, m.now);
}

function withReason(sentence: string, reason: string | null | undefined, max = REASON_MAX) {
  return reason ? `${sentence}: ${oneLine(reason, max)}` : `${sentence}.`;
}

function noteOf(note: string | null): string {
  return note ? ` (${oneLine(note, NOTE_MAX)})` : '';
}

/** `a`, `a and b`, `a, b and c`. */
export function listOf(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)!}`;
}

/**
 * One line on how the request was decided, or how many approvals it still waits for. An
 * approved request names everyone whose approval counted (`approvers`), so the message says
 * who approved once.
 */
export function decisionLine(
  r: RequestView,
  approved: number,
  m: Moment,
  approvers: readonly string[] = [],
): string {
  const when = r.decidedAt !== null ? ` at ${at(r.decidedAt, m)}` : '';
  switch (r.status) {
    case 'pending': {
      const left = Math.max(1, r.approvalsRequired - approved);
      const needed = left === 1 ? 'one more approval' : `${left} more approvals`;
      return `⏳ Waiting for ${needed}. Undecided, it expires at ${at(r.pendingUntil, m)}.`;
    }
    case 'approved': {
      if (r.autoApproved)
        return `✅ Approved automatically${when}: this resource needs no approval.`;
      const names = approvers.length > 0 ? approvers : [r.decidedBy ?? ''];
      return `✅ Approved by ${listOf(names.map((a) => mention(a)))}${when}.`;
    }
    case 'denied':
      return withReason(`❌ Denied by ${mention(r.decidedBy)}${when}`, r.decisionReason);
    case 'cancelled':
      return `🚫 Cancelled by ${mention(r.decidedBy)}${when}.`;
    case 'expired':
      return `⌛ Expired${when}: nobody decided in time.`;
  }
}

/** Why an admin closed a grant by hand, as its stranded line says it. */
function strandedWhy(reason: GrantView['endReason']): string {
  if (reason === 'provider_removed') return 'its provider is gone from the configuration';
  if (reason === 'provider_moved') return 'its provider points elsewhere than where it was granted';
  return 'its revoke kept failing';
}

/** One line on where the grant stands. */
export function grantLine(g: GrantView, m: Moment): string {
  const expiry = g.expiresAt !== null ? at(g.expiresAt, m) : 'its expiry';
  const ended = g.endedAt !== null ? ` at ${at(g.endedAt, m)}` : '';
  switch (g.status) {
    case 'activating':
      return '⏳ Setting up access…';
    case 'active':
      return `🟢 Active until ${expiry}.`;
    case 'revoking':
      if (g.endReason === 'offboarded') return '⏳ The holder left the workspace; removing access…';
      if (g.endReason === 'activation_failed')
        return '❗ Activation failed; removing anything that may have been set up…';
      if (g.endReason === 'expired') return `⏳ Expired at ${expiry}; removing access…`;
      if (g.endReason === 'resource_removed')
        return '⏳ Its resource was removed from the configuration before it started; removing anything set up…';
      return `⏳ Revoked by ${mention(g.endedBy)}${noteOf(g.endNote)}; removing access…`;
    case 'revoked':
      if (g.endReason === 'expired') return `⚪ Expired at ${expiry}; access removed${ended}.`;
      if (g.endReason === 'offboarded')
        return `⚪ The holder left the workspace; access removed${ended}.`;
      if (g.endReason === 'resource_removed')
        return `⚪ Its resource was removed from the configuration before it started; not started, ended${ended}.`;
      return `⚪ Revoked by ${mention(g.endedBy)}${ended}${noteOf(g.endNote)}.`;
    case 'failed':
      return '❗ Activation failed; anything that may have been set up was removed. Nothing is active.';
    case 'stranded':
      return `❗ Closed by hand by ${mention(g.endedBy)}${ended}: ${strandedWhy(g.endReason)}, so the access may still exist and must be removed outside Hallpass${noteOf(g.endNote)}.`;
  }
}

/**
 * What the provider behind a resource promises, said plainly. A `slack-channel` grant is said in
 * its own words: the channel, and that Hallpass takes the holder out of it.
 */
export function guaranteeLines(g: ProviderGuarantees, channel?: string): string[] {
  if (channel) {
    return [
      `Hallpass removes the holder from ${channelLink(channel)} when the time is up; Slack does not end it by itself.`,
      'Once removed, they can no longer read or post there.',
    ];
  }
  return [
    g.enforcesExpiry
      ? 'Access also ends in the target system at expiry, even if Hallpass is down.'
      : 'Hallpass revokes at expiry; the target system does not enforce it by itself.',
    g.endsOpenSessions
      ? 'Revoking also ends sessions that are already open.'
      : 'Sessions opened before the revoke may stay open until they end.',
  ];
}

/** Approvals so far, one line each (most recent last), cut to `limit` lines. */
export function approvalLines(approvals: ApprovalView[], m: Moment, limit = 10): string[] {
  const approved = approvals.filter((a) => a.decision === 'approve');
  const lines = approved
    .slice(0, limit)
    .map((a) =>
      withReason(`✅ ${mention(a.approver)} approved at ${at(a.createdAt, m)}`, a.reason, 200),
    );
  if (approved.length > limit) lines.push(`…and ${approved.length - limit} more`);
  return lines;
}

export function requestLabel(r: Pick<RequestView, 'id'>): string {
  return `Request ${code(r.id)}`;
}
