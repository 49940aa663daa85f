import type { DmEvent } from '../../core/notifications';
import type { ProviderGuarantees } from '../../providers/types';
import { ACTIONS } from '../ids';
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
import {
  channelLink,
  code,
  escapeAndFit,
  formatDuration,
  mention,
  splitText,
  truncate,
} from './format';
import { LIMITS } from './limits';
import {
  approvalLines,
  at,
  decisionLine,
  grantLine,
  guaranteeLines,
  oneLine,
  requestLabel,
  type ApprovalView,
  type GrantView,
  type Moment,
  type RequestView,
  type ResourceView,
} from './status-lines';

export type { SlackMessage } from './blocks';
export type { ApprovalView, GrantView, Moment, RequestView, ResourceView } from './status-lines';

/** Room left in a 3000-character section after a short bold label. */
const LONG_TEXT = 2900;

function resourceText(resource: ResourceView): string {
  return `*${escapeAndFit(resource.name, 150)}* (${code(truncate(resource.id, 100))})`;
}

const STATUS_WORD: Record<RequestView['status'], string> = {
  pending: 'waiting for approval',
  approved: 'approved',
  denied: 'denied',
  cancelled: 'cancelled',
  expired: 'expired',
};

export interface ApproverMessageInput extends Moment {
  request: RequestView;
  resource: ResourceView;
  approvals: ApprovalView[];
  /** For an access request, its grant once approved; for an extension, the grant it extends. */
  grant?: GrantView;
  /** For an extension: a link to the approver message of the grant's original request. */
  originalMessageUrl?: string;
  /** What the resource's provider promises; shown while the grant is active. */
  guarantees?: ProviderGuarantees;
}

/**
 * The one message approvers see for a request, edited in place as it moves on: who asks for
 * what and why, the approvals so far, Approve/Deny while it waits, then the decision and the
 * grant's fate.
 */
export function approverMessage(input: ApproverMessageInput): SlackMessage {
  const { request: r, resource, grant } = input;
  const extension = r.kind === 'extension';
  const approved = input.approvals.filter((a) => a.decision === 'approve').length;
  const blocks: Block[] = [
    header(`${extension ? 'Extension request' : 'Access request'}: ${resource.name}`),
    fields([
      `*Requester*\n${mention(r.requester)}`,
      `*Resource*\n${resourceText(resource)}`,
      `*${extension ? 'Extra time' : 'Duration'}*\n${formatDuration(r.durationMs)}`,
      ...(r.ticket ? [`*Ticket*\n${escapeAndFit(r.ticket, 250)}`] : []),
    ]),
  ];
  if (extension) {
    const link = input.originalMessageUrl ? ` <${input.originalMessageUrl}|Original request>` : '';
    const grantId = grant?.id ?? r.grantId ?? 'unknown';
    const state = grant ? ` ${grantLine(grant, input)}` : '';
    blocks.push(section(`Extends grant ${code(grantId)}.${state}${link}`));
  }
  blocks.push(section(`*Justification*\n${escapeAndFit(r.justification, LONG_TEXT)}`));

  if (r.approvalsRequired > 0) {
    const lines = approvalLines(input.approvals, input);
    blocks.push(
      section([`*Approvals: ${approved} of ${r.approvalsRequired}*`, ...lines].join('\n')),
    );
  }

  const status = [decisionLine(r, approved, input)];
  if (grant && !extension && r.status === 'approved') status.push(grantLine(grant, input));
  if (r.autoApproved) status.push('Posted here for visibility.');
  blocks.push(section(status.join('\n')));

  if (grant?.status === 'active' && input.guarantees)
    blocks.push(context(guaranteeLines(input.guarantees)));
  blocks.push(context([`${requestLabel(r)} · asked ${at(r.createdAt, input)}`]));

  if (r.status === 'pending') {
    blocks.push(
      actions([
        button({ text: 'Approve', actionId: ACTIONS.approve, value: r.id, style: 'primary' }),
        button({ text: 'Deny', actionId: ACTIONS.deny, value: r.id, style: 'danger' }),
      ]),
    );
  }
  const kind = extension ? 'Extension request' : 'Access request';
  return {
    text: fallback(
      `${kind} from ${mention(r.requester)} for ${escapeAndFit(resource.name, 150)} (${formatDuration(r.durationMs)}): ${STATUS_WORD[r.status]}`,
    ),
    blocks,
  };
}

export interface RequesterDmInput extends Moment {
  event: DmEvent;
  request: RequestView;
  resource: ResourceView;
  /** The grant the event is about: the request's own, or the one an extension is for. */
  grant?: GrantView;
  /** Where the request's approvers were asked. */
  approverChannel: string;
  guarantees?: ProviderGuarantees;
}

/** What a requester is told in their DM with Hallpass, with the buttons that still make sense. */
export function requesterDm(input: RequesterDmInput): SlackMessage {
  const { request: r, resource, grant } = input;
  const what = resourceText(resource);
  const active = grant?.status === 'active';
  const until = grant?.expiresAt != null ? at(grant.expiresAt, input) : undefined;
  const by = mention(r.decidedBy);
  const reason = r.decisionReason ? `: ${oneLine(r.decisionReason, LONG_TEXT - 200)}` : '.';
  const grantRef = grant ? ` (grant ${code(grant.id)})` : '';
  const stillUntil = active && until ? `\nYour access still ends at *${until}*.` : '';
  const blocks: Block[] = [];
  let summary: string;

  switch (input.event) {
    case 'request.received': {
      const asked =
        r.kind === 'extension'
          ? `your request to extend grant ${code(r.grantId ?? '')} on ${what} by *${formatDuration(r.durationMs)}*`
          : `your request for ${what} for *${formatDuration(r.durationMs)}*`;
      summary =
        r.approvalsRequired === 0
          ? `Got ${asked}. It needs no approval.`
          : `I sent ${asked} to the approvers in ${channelLink(input.approverChannel)}.`;
      if (r.status === 'pending')
        summary += ` Undecided, it expires at ${at(r.pendingUntil, input)}.`;
      blocks.push(section(summary));
      if (r.status === 'pending') {
        blocks.push(
          actions([
            button({ text: 'Cancel request', actionId: ACTIONS.cancelRequest, value: r.id }),
          ]),
        );
      }
      break;
    }
    case 'request.approved':
      summary = `✅ Your request for ${what} was approved ${r.autoApproved ? 'automatically' : `by ${by}`}. I am setting up the access and will tell you when it is active.`;
      blocks.push(section(summary));
      break;
    case 'request.denied':
      summary = `❌ Your request for ${what} was denied by ${by}${reason}`;
      blocks.push(section(summary));
      break;
    case 'request.cancelled':
      summary = `🚫 Your request for ${what} is cancelled.`;
      blocks.push(section(summary));
      break;
    case 'request.expired':
      summary = `⌛ Your request for ${what} expired: no approver decided in time. If you still need it, ask again with \`/jit request ${resource.id}\`.`;
      blocks.push(section(summary));
      break;
    case 'grant.active':
      summary = active
        ? `🟢 Your access to ${what} is active until *${until}*${grantRef}.`
        : `Your access to ${what} was activated${grantRef}. ${grant ? grantLine(grant, input) : ''}`;
      blocks.push(section(summary));
      if (active && input.guarantees) blocks.push(context(guaranteeLines(input.guarantees)));
      if (active && grant) blocks.push(grantButtons(grant.id, true));
      break;
    case 'grant.expiring':
      summary =
        active && grant?.expiresAt != null
          ? `⏳ Your access to ${what} ends at *${until}* (in ${formatDuration(Math.max(0, grant.expiresAt - input.now))}). Extend it if you need more time.`
          : `Your access to ${what} is about to end${grantRef}.`;
      blocks.push(section(summary));
      if (active && grant) blocks.push(grantButtons(grant.id, false));
      break;
    case 'grant.ended':
      summary = `⚪ Your access to ${what} has ended${grantRef}. ${grant ? endedWhy(grant, input) : ''}`;
      blocks.push(section(summary.trim()));
      break;
    case 'grant.failed':
      summary = `❗ I could not set up your access to ${what}${grantRef}. The admins are alerted, and anything that may have been set up is being removed. You can ask again with \`/jit request ${resource.id}\`.`;
      blocks.push(section(summary));
      break;
    case 'extension.approved':
      summary = active
        ? `✅ Your extension was approved ${r.autoApproved ? 'automatically' : `by ${by}`}: your access to ${what} now lasts until *${until}*${grantRef}.`
        : `Your extension of ${what} was approved, but grant ${code(r.grantId ?? grant?.id ?? '')} is no longer active, so nothing was extended.`;
      blocks.push(section(summary));
      if (active && grant) blocks.push(grantButtons(grant.id, true));
      break;
    case 'extension.denied':
      summary = `❌ Your extension of ${what} was denied by ${by}${reason}${stillUntil}`;
      blocks.push(section(summary));
      break;
    case 'breakglass.granted':
      summary = `🚨 You broke the glass on ${what}: access without approval for *${formatDuration(r.durationMs)}*. I am setting it up and will tell you when it is active.`;
      blocks.push(section(summary));
      blocks.push(
        context([
          'This use is audited: the approvers and the admins were alerted, and an approver must review it.',
        ]),
      );
      break;
  }
  blocks.push(context([`${requestLabel(r)} · ${formatDuration(r.durationMs)}`]));
  return { text: fallback(firstSentence(summary)), blocks };
}

function grantButtons(grantId: string, withRevoke: boolean) {
  return actions([
    ...(withRevoke
      ? [
          button({
            text: "I'm done — revoke now",
            actionId: ACTIONS.revokeGrant,
            value: grantId,
            style: 'danger',
          }),
        ]
      : []),
    button({ text: 'Extend', actionId: ACTIONS.extendGrant, value: grantId }),
  ]);
}

function endedWhy(grant: GrantView, m: Moment): string {
  const when = grant.endedAt !== null ? ` at ${at(grant.endedAt, m)}` : '';
  switch (grant.endReason) {
    case 'expired':
      return `Its time was up${grant.expiresAt !== null ? ` at ${at(grant.expiresAt, m)}` : ''}, and the access was removed${when}.`;
    case 'revoked_by_user':
      return `You revoked it; the access was removed${when}.`;
    case 'revoked_by_admin':
      return `${mention(grant.endedBy)} revoked it${grant.endNote ? ` (${oneLine(grant.endNote, 500)})` : ''}; the access was removed${when}.`;
    default:
      return `The access was removed${when}.`;
  }
}

/** Notification previews show the first sentence only, never a long reason. */
function firstSentence(mrkdwn: string): string {
  const end = mrkdwn.search(/[.:](\s|$)/);
  return end > 0 ? `${mrkdwn.slice(0, end)}.` : mrkdwn;
}

export interface CredentialsMessageInput {
  grantId: string;
  resource: ResourceView;
  /** The provider's mrkdwn, opened from its sealed form just before sending. */
  credentials: string;
}

/** Room for the header, the closing note and a notice that the text was cut. */
const CREDENTIAL_SECTIONS = LIMITS.blocksPerMessage - 3;

/**
 * The provider's credentials, shown whole (split over sections, not cut) unless they exceed
 * what one message can hold. The notification text never contains them.
 */
export function credentialsMessage(input: CredentialsMessageInput): SlackMessage {
  const pieces = splitText(input.credentials, LIMITS.sectionText);
  const shown = pieces.slice(0, CREDENTIAL_SECTIONS);
  const blocks: Block[] = [
    section(
      `🔑 How to use your access to ${resourceText(input.resource)} (grant ${code(input.grantId)}):`,
    ),
    ...shown.map((piece) => section(piece.trim() ? piece : '…')),
  ];
  if (pieces.length > shown.length)
    blocks.push(
      section('…the provider sent more than one Slack message can hold; the rest is cut.'),
    );
  blocks.push(context(['Shown once: Hallpass keeps no copy. Save what you need now.']));
  return {
    text: fallback(`Your credentials for ${escapeAndFit(input.resource.name, 150)} are here.`),
    blocks,
  };
}

export interface AlertMessageInput {
  grantId: string;
  action: 'grant' | 'revoke' | 'close';
  attempts: number;
  error: string;
  /** Who holds the grant and on what, when the grant is still known. */
  userId?: string;
  resource?: ResourceView;
}

/** Tells approvers and admins that a provider keeps failing, and what Hallpass does about it. */
export function alertMessage(input: AlertMessageInput): SlackMessage {
  if (input.action === 'close') return closedByHandMessage(input);
  const verb = input.action === 'grant' ? 'activate' : 'revoke';
  const next =
    input.action === 'grant'
      ? `Activation failed ${input.attempts} times, so Hallpass gave up activating and is removing anything that may have been set up. It keeps retrying that cleanup with backoff until the provider confirms.`
      : `The access may still be present. Hallpass keeps retrying the revoke with backoff until the provider confirms; check the target system if this persists.`;
  const blocks: Block[] = [
    header(`Hallpass could not ${verb} access`),
    fields([
      `*Grant*\n${code(input.grantId)}`,
      `*User*\n${input.userId ? mention(input.userId) : 'unknown'}`,
      `*Resource*\n${input.resource ? resourceText(input.resource) : 'unknown'}`,
      `*Failed action*\n${input.action} (${input.attempts} attempts)`,
    ]),
    section(`*Last error*\n${escapeAndFit(input.error || 'no message', LONG_TEXT)}`),
    section(next),
  ];
  return {
    text: fallback(
      `⚠️ Hallpass could not ${verb} grant ${input.grantId} after ${input.attempts} attempts; it keeps retrying.`,
    ),
    blocks,
  };
}

export interface DriftMessageInput {
  grantId: string;
  /** What the record says the target system should hold. */
  expected: 'present' | 'absent';
  repaired: boolean;
  error?: string;
  userId?: string;
  resource?: ResourceView;
}

/**
 * Tells approvers and admins that a read-back disagreed with the record: access that should be
 * there was gone, or access that ended came back; and whether Hallpass put it right.
 */
export function driftMessage(input: DriftMessageInput): SlackMessage {
  const cameBack = input.expected === 'absent';
  const what = cameBack
    ? 'Access that had ended was found present again in the target system.'
    : 'Access that should be active was missing from the target system.';
  const outcome = input.repaired
    ? cameBack
      ? 'Hallpass revoked it again and a read-back confirms it is gone. Find out who or what put it back.'
      : 'Hallpass granted it again and a read-back confirms it is there.'
    : cameBack
      ? 'Hallpass could not remove it: the access may still be present. It keeps trying; check the target system now.'
      : 'Hallpass could not put it back; it tries again on its next run.';
  const blocks: Block[] = [
    header(cameBack ? 'Ended access came back' : 'Active access went missing'),
    fields([
      `*Grant*\n${code(input.grantId)}`,
      `*User*\n${input.userId ? mention(input.userId) : 'unknown'}`,
      `*Resource*\n${input.resource ? resourceText(input.resource) : 'unknown'}`,
      `*Repaired*\n${input.repaired ? 'yes' : 'no'}`,
    ]),
    section(`${what} ${outcome}`),
    ...(input.error ? [section(`*Last error*\n${escapeAndFit(input.error, LONG_TEXT)}`)] : []),
  ];
  const head = cameBack ? 'came back after it ended' : 'went missing while active';
  return {
    text: fallback(
      `⚠️ The access of grant ${input.grantId} ${head}; ${input.repaired ? 'Hallpass repaired it' : 'Hallpass could not repair it yet'}.`,
    ),
    blocks,
  };
}

export interface OffboardedMessageInput {
  userId: string;
  status: 'deactivated' | 'guest';
  grants: readonly string[];
  requests: readonly string[];
}

/** Tells an approver channel that someone left and what Hallpass did about their access. */
export function offboardedMessage(input: OffboardedMessageInput): SlackMessage {
  const who = mention(input.userId);
  const left = input.status === 'guest' ? 'became a guest in Slack' : 'was deactivated in Slack';
  const grants = input.grants.length;
  const requests = input.requests.length;
  const done = [
    grants > 0
      ? `Hallpass is revoking their ${grants === 1 ? 'grant' : `${grants} grants`} (${input.grants.map(code).join(', ')}) and will confirm each is gone.`
      : 'They held no access through Hallpass.',
    requests > 0
      ? `Their ${requests === 1 ? 'request was' : `${requests} requests were`} cancelled (${input.requests.map(code).join(', ')}).`
      : '',
  ].filter(Boolean);
  const summary = `👋 ${who} ${left}. ${done.join(' ')}`;
  return { text: fallback(summary), blocks: [section(summary)] };
}

/** A grant an admin closed by hand because its provider is gone: the access may still exist. */
function closedByHandMessage(input: AlertMessageInput): SlackMessage {
  const blocks: Block[] = [
    header('Access closed by hand: remove it yourself'),
    fields([
      `*Grant*\n${code(input.grantId)}`,
      `*User*\n${input.userId ? mention(input.userId) : 'unknown'}`,
      `*Resource*\n${input.resource ? resourceText(input.resource) : 'unknown'}`,
    ]),
    section(escapeAndFit(input.error, LONG_TEXT)),
    section(
      'Hallpass cannot revoke this grant any more, so it did not: the access may still be present. Remove it in the target system.',
    ),
  ];
  return {
    text: fallback(
      `⚠️ Grant ${input.grantId} was closed by hand; its access may still exist and must be removed outside Hallpass.`,
    ),
    blocks,
  };
}
