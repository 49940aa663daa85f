import type { types } from '@slack/bolt';
import type { EscalationTarget, People } from '../../config/schema';
import type { BreakGlassRow } from '../../core';
import type { ProviderGuarantees } from '../../providers/types';
import { ACTIONS, BLOCKS, VIEWS } from '../ids';
import type { ReviewModalMetadata } from '../payload-values';
import {
  actions,
  button,
  context,
  fallback,
  fields,
  header,
  section,
  type Block,
  type SlackMessage,
} from './blocks';
import { channelLink, code, escapeAndFit, formatDuration, mention, truncate } from './format';
import { LIMITS } from './limits';
import { approverMessage, type ApproverMessageInput } from './messages';
import { peopleText } from './replies';
import {
  at,
  grantLine,
  guaranteeLines,
  oneLine,
  requestLabel,
  type GrantView,
  type Moment,
  type RequestView,
  type ResourceView,
} from './status-lines';

export type BreakGlassView = Pick<
  BreakGlassRow,
  | 'requestId'
  | 'userId'
  | 'usedAt'
  | 'reviewDueAt'
  | 'reviewedAt'
  | 'reviewedBy'
  | 'verdict'
  | 'note'
>;

const LONG_TEXT = 2900;

function resourceText(resource: ResourceView): string {
  return `*${escapeAndFit(resource.name, 150)}* (${code(truncate(resource.id, 100))})`;
}

/** Where the review of a use stands, in one line. */
export function reviewLine(use: BreakGlassView, m: Moment): string {
  const when = use.reviewedAt !== null ? ` at ${at(use.reviewedAt, m)}` : '';
  const note = use.note ? `: ${oneLine(use.note, 1500)}` : '.';
  if (use.verdict === 'flagged') return `🚩 Flagged by ${mention(use.reviewedBy)}${when}${note}`;
  if (use.verdict === 'reviewed') return `✅ Reviewed by ${mention(use.reviewedBy)}${when}${note}`;
  if (use.reviewDueAt <= m.now) {
    return `⚠️ *Review overdue* since ${at(use.reviewDueAt, m)}: an approver of this resource other than ${mention(use.userId)} must mark it Reviewed or Flagged.`;
  }
  return `⏳ Review due by ${at(use.reviewDueAt, m)}: an approver of this resource other than ${mention(use.userId)} marks it Reviewed or Flagged.`;
}

export interface BreakGlassMessageInput extends Moment {
  request: RequestView;
  resource: ResourceView;
  use: BreakGlassView;
  grant?: GrantView;
  guarantees?: ProviderGuarantees;
}

/**
 * A use of break-glass as its approver channel sees it, edited in place like any approver
 * message: who took what and why, the grant's state, and the review, with Reviewed / Flag
 * buttons until someone reviews it.
 */
export function breakGlassMessage(input: BreakGlassMessageInput): SlackMessage {
  const { request: r, resource, use, grant } = input;
  const blocks: Block[] = [
    header(`🚨 Break-glass: ${resource.name}`),
    fields([
      `*Used by*\n${mention(use.userId)}`,
      `*Resource*\n${resourceText(resource)}`,
      `*Duration*\n${formatDuration(r.durationMs)}`,
      ...(r.ticket ? [`*Ticket*\n${escapeAndFit(r.ticket, 250)}`] : []),
    ]),
    section(`*Justification*\n${escapeAndFit(r.justification, LONG_TEXT)}`),
    section(
      [
        `Granted at once without approval at ${at(use.usedAt, input)}. *This use is audited.*`,
        ...(grant ? [grantLine(grant, input)] : []),
      ].join('\n'),
    ),
    section(reviewLine(use, input)),
  ];
  if (grant?.status === 'active' && input.guarantees)
    blocks.push(context(guaranteeLines(input.guarantees)));
  blocks.push(context([`${requestLabel(r)} · break-glass · used ${at(use.usedAt, input)}`]));
  if (use.verdict === null) {
    blocks.push(
      actions([
        button({
          text: 'Mark reviewed',
          actionId: ACTIONS.reviewBreakGlass,
          value: r.id,
          style: 'primary',
        }),
        button({ text: 'Flag', actionId: ACTIONS.flagBreakGlass, value: r.id, style: 'danger' }),
      ]),
    );
  }
  const state = use.verdict ?? (use.reviewDueAt <= input.now ? 'review overdue' : 'needs review');
  return {
    text: fallback(
      `🚨 Break-glass by ${mention(use.userId)} on ${escapeAndFit(resource.name, 150)} (${formatDuration(r.durationMs)}): ${state}`,
    ),
    blocks,
  };
}

export interface BreakGlassAlertInput extends Moment {
  event: 'used' | 'flagged';
  request: RequestView;
  resource: ResourceView;
  use: BreakGlassView;
  approverChannel: string;
}

/** What the admins are told in their DM: a use of break-glass, or a use flagged on review. */
export function breakGlassAlert(input: BreakGlassAlertInput): SlackMessage {
  const { request: r, resource, use } = input;
  const summary =
    input.event === 'used'
      ? `🚨 ${mention(use.userId)} broke the glass on ${resourceText(resource)}: access for *${formatDuration(r.durationMs)}* without approval. Its approvers review it in ${channelLink(input.approverChannel)} by ${at(use.reviewDueAt, input)}.`
      : `🚩 ${mention(use.reviewedBy)} flagged the break-glass use of ${resourceText(resource)} by ${mention(use.userId)}: ${oneLine(use.note ?? '', 1500)}`;
  return {
    text: fallback(summary.split(':')[0] ?? summary),
    blocks: [
      section(summary),
      section(`*Justification*\n${escapeAndFit(r.justification, 2000)}`),
      context([`${requestLabel(r)} · used ${at(use.usedAt, input)}`]),
    ],
  };
}

/** The reply in a request's thread that re-pings its approvers. */
export function reminderMessage(
  input: Moment & { request: RequestView; approvers: People; waitedMs: number },
): SlackMessage {
  const { request: r } = input;
  const text = `⏰ ${peopleText(input.approvers)}: this request by ${mention(r.requester)} has waited ${formatDuration(input.waitedMs)} for a decision. Undecided, it expires at ${at(r.pendingUntil, input)}.`;
  return { text: fallback(text), blocks: [section(text)] };
}

function targetText(target: EscalationTarget | undefined): string {
  const people = target ? peopleText(target) : 'nobody';
  return people === 'nobody' ? 'this channel' : people;
}

/**
 * The request as its escalation target sees it: the approver message under a banner saying why
 * it came to them and that they may decide it now; edited in place as the request moves on.
 */
export function escalationMessage(
  input: ApproverMessageInput & { target?: EscalationTarget; waitedMs: number },
): SlackMessage {
  const message = approverMessage(input);
  const pending = input.request.status === 'pending';
  const banner = section(
    `⏫ *Escalated* to ${targetText(input.target)}: no approver decided within ${formatDuration(input.waitedMs)}.${pending ? ' You may decide it now.' : ''}`,
  );
  const [first, ...rest] = message.blocks;
  return {
    text: fallback(`Escalated: ${message.text}`),
    blocks: first ? [first, banner, ...rest].slice(0, LIMITS.blocksPerMessage) : [banner],
  };
}

/** What each user of the escalation target gets in their DM: where to decide. */
export function escalationDm(
  input: Moment & {
    request: RequestView;
    resource: ResourceView;
    channel: string;
    waitedMs: number;
  },
): SlackMessage {
  const { request: r } = input;
  const text = `⏫ A request by ${mention(r.requester)} for ${resourceText(input.resource)} waited ${formatDuration(input.waitedMs)} for its approvers and was escalated to you. You may approve or deny it in ${channelLink(input.channel)} (${code(r.id)}).`;
  return { text: fallback(text), blocks: [section(text)] };
}

/** The chase of a use of break-glass nobody reviewed in time. */
export function reviewOverdueMessage(
  input: Moment & {
    use: BreakGlassView;
    resource: ResourceView;
    /** Whom to ping: the approvers in the thread; elsewhere, nobody in particular. */
    approvers?: People;
    approverChannel: string;
  },
): SlackMessage {
  const { use } = input;
  const who = input.approvers ? `${peopleText(input.approvers)}: the` : '⚠️ The';
  const where = input.approvers
    ? 'Mark it Reviewed or Flagged on the message above.'
    : `Its approvers were reminded in ${channelLink(input.approverChannel)}.`;
  const text = `${who} break-glass use of ${resourceText(input.resource)} by ${mention(use.userId)} at ${at(use.usedAt, input)} is still not reviewed; it was due by ${at(use.reviewDueAt, input)}. ${where}`;
  return { text: fallback(text), blocks: [section(text)] };
}

/** Asks the reviewer for a note: required to flag a use, optional to mark it reviewed. */
export function reviewModal(input: {
  metadata: ReviewModalMetadata;
  resource: ResourceView;
  userId: string;
}): types.ModalView {
  const flag = input.metadata.verdict === 'flagged';
  return {
    type: 'modal',
    callback_id: VIEWS.review,
    title: { type: 'plain_text', text: flag ? 'Flag break-glass use' : 'Review break-glass use' },
    submit: { type: 'plain_text', text: flag ? 'Flag' : 'Mark reviewed' },
    close: { type: 'plain_text', text: 'Cancel' },
    private_metadata: JSON.stringify(input.metadata),
    blocks: [
      section(
        `${flag ? 'Flag' : 'Mark as reviewed'} the break-glass use of ${resourceText(input.resource)} by ${mention(input.userId)} (${code(input.metadata.requestId)}). It is kept in the audit log${flag ? ' and the admins are told' : ''}.`,
      ),
      {
        type: 'input',
        block_id: BLOCKS.reason,
        optional: !flag,
        label: { type: 'plain_text', text: flag ? 'What is wrong with it?' : 'Note (optional)' },
        element: {
          type: 'plain_text_input',
          action_id: ACTIONS.reasonInput,
          multiline: true,
          max_length: 2000,
        },
      },
    ],
  };
}

/** The answer to whoever broke the glass: loud about what happened and that it is audited. */
export function breakGlassUsedText(
  input: Moment & {
    request: RequestView;
    resource: ResourceView;
    use: BreakGlassView;
    approverChannel: string;
  },
): string {
  const { request: r, use } = input;
  return `🚨 *Break glass:* access to ${resourceText(input.resource)} for *${formatDuration(r.durationMs)}*, granted at once *without approval* (${code(r.id)}). *This use is audited:* the approvers in ${channelLink(input.approverChannel)} and the admins were alerted, and an approver must review it by ${at(use.reviewDueAt, input)}. I will DM you when the access is active.`;
}
