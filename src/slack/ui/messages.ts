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
  humanDuration,
  inDuration,
  mention,
  plural,
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
/** A provider's activity summary: one line under the grant's end. */
const ACTIVITY_MAX = 300;

function resourceText(resource: ResourceView): string {
  return `*${escapeAndFit(resource.name, 150)}* (${code(truncate(resource.id, 100))})`;
}

function plainName(resource: ResourceView): string {
  return escapeAndFit(resource.name, 150);
}

/** Where a request, and then its grant, stand, in a few words for a notification preview. */
function stateWords(r: RequestView, approved: number, grant: GrantView | undefined): string {
  switch (r.status) {
    case 'pending':
      return r.approvalsRequired > 1
        ? `waiting for approval (${approved} of ${r.approvalsRequired})`
        : 'waiting for approval';
    case 'denied':
    case 'cancelled':
    case 'expired':
      return r.status;
    case 'approved':
      if (r.kind === 'extension' || !grant) return 'approved';
      return GRANT_WORDS[grant.status];
  }
}

const GRANT_WORDS: Record<GrantView['status'], string> = {
  activating: 'approved, access being set up',
  active: 'access active',
  revoking: 'access being removed',
  revoked: 'access ended',
  failed: 'access could not be set up',
  stranded: 'closed by hand',
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
  /** Once the grant ended: what its provider saw done with the access, in one line. */
  activity?: string;
  /** The Slack channel a `slack-channel` grant puts the person in. */
  channel?: string;
}

/**
 * The one message approvers see for a request, edited in place as it moves on: who asks for
 * what and why, the approvals so far, Approve/Deny while it waits, then the decision (naming
 * who approved, once) and the grant's fate. Its notification text follows the same state.
 */
export function approverMessage(input: ApproverMessageInput): SlackMessage {
  const { request: r, resource, grant } = input;
  const extension = r.kind === 'extension';
  const approvers = input.approvals.filter((a) => a.decision === 'approve').map((a) => a.approver);
  const approved = approvers.length;
  const blocks: Block[] = [
    header(`${extension ? 'Extension request' : 'Access request'}: ${resource.name}`),
    fields([
      `*Requester*\n${mention(r.requester)}`,
      `*Resource*\n${resourceText(resource)}`,
      `*${extension ? 'Extra time' : 'Duration'}*\n${humanDuration(r.durationMs)}`,
      ...(r.ticket ? [`*Ticket*\n${escapeAndFit(r.ticket, 250)}`] : []),
    ]),
  ];
  if (extension) {
    const link = input.originalMessageUrl ? ` <${input.originalMessageUrl}|Original request>` : '';
    const grantId = grant?.id ?? r.grantId ?? 'unknown';
    const state = grant ? ` ${grantLine(grant, input)}` : '';
    blocks.push(
      section(
        `More time on ${mention(r.requester)}'s access to *${plainName(resource)}* (grant ${code(grantId)}).${state}${link}`,
      ),
    );
  }
  blocks.push(section(`*Justification*\n${escapeAndFit(r.justification, LONG_TEXT)}`));

  // Once approved, the decision line names the approvers; the list would say it twice.
  if (r.approvalsRequired > 0 && r.status !== 'approved') {
    const lines = approvalLines(input.approvals, input);
    blocks.push(
      section([`*Approvals: ${approved} of ${r.approvalsRequired}*`, ...lines].join('\n')),
    );
  }

  const status = [decisionLine(r, approved, input, approvers)];
  if (r.status === 'approved') status.push(...approvalReasons(input.approvals));
  if (grant && !extension && r.status === 'approved') status.push(grantLine(grant, input));
  if (r.autoApproved) status.push('Posted here for visibility.');
  blocks.push(section(status.join('\n')));

  if (grant?.status === 'active' && input.guarantees)
    blocks.push(context(guaranteeLines(input.guarantees, input.channel)));
  if (input.activity && !extension)
    blocks.push(context([`What was done: ${escapeAndFit(input.activity, ACTIVITY_MAX)}`]));
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
      `${kind} from ${mention(r.requester)} for ${plainName(resource)} (${humanDuration(r.durationMs)}): ${stateWords(r, approved, grant)}`,
    ),
    blocks,
  };
}

/** The reasons approvers gave, one line each, for a decided request whose line names them. */
function approvalReasons(approvals: ApprovalView[]): string[] {
  return approvals
    .filter((a) => a.decision === 'approve' && a.reason)
    .slice(0, 10)
    .map((a) => `> ${mention(a.approver)}: ${oneLine(a.reason ?? '', 200)}`);
}

/** What a request asks for, as its requester reads it. */
function askedFor(r: RequestView, resource: ResourceView): string {
  return r.kind === 'extension'
    ? `Your request for *${humanDuration(r.durationMs)}* more on ${resourceText(resource)}`
    : `Your request for ${resourceText(resource)} for *${humanDuration(r.durationMs)}*`;
}

export interface RequestCardInput extends Moment {
  request: RequestView;
  resource: ResourceView;
  /** The grant the request made, or for an extension the grant it extends. */
  grant?: GrantView;
  approvals: ApprovalView[];
  /** Where the request's approvers were asked. */
  approverChannel: string;
}

/**
 * The requester's own card for a request that waits for approvers: posted once when it is
 * filed, then edited as it moves on, so its Cancel button goes away once it no longer applies
 * and a look back at the DM shows where the request stands.
 */
export function requestCard(input: RequestCardInput): SlackMessage {
  const { request: r, resource, grant } = input;
  const approvers = input.approvals.filter((a) => a.decision === 'approve').map((a) => a.approver);
  const asked = askedFor(r, resource);
  const blocks: Block[] = [];
  let summary: string;
  switch (r.status) {
    case 'pending': {
      const progress =
        r.approvalsRequired > 1 && approvers.length > 0
          ? ` ${approvers.length} of ${r.approvalsRequired} approvals so far.`
          : '';
      summary = `📨 ${asked} is with the approvers in ${channelLink(input.approverChannel)}.${progress} Undecided, it expires at ${at(r.pendingUntil, input)} (${inDuration(r.pendingUntil - input.now)}).`;
      break;
    }
    case 'approved': {
      const line = decisionLine(r, approvers.length, input, approvers);
      summary = `${asked}: ${line}`;
      if (r.kind === 'extension') {
        const until = grant?.expiresAt != null ? at(grant.expiresAt, input) : undefined;
        if (grant?.status === 'active' && until) summary += ` Your access now ends at *${until}*.`;
      } else if (grant?.status === 'activating') {
        summary += ' Setting up your access; I will message you when it is ready.';
      } else if (grant) {
        summary += ` ${grantLine(grant, input)}`;
      }
      break;
    }
    default:
      summary = `${asked}: ${decisionLine(r, approvers.length, input, approvers)}`;
  }
  blocks.push(section(summary));
  if (r.status === 'pending') {
    blocks.push(
      actions([button({ text: 'Cancel request', actionId: ACTIONS.cancelRequest, value: r.id })]),
    );
  }
  blocks.push(context([requestLabel(r)]));
  const text =
    r.status === 'pending'
      ? firstSentence(summary)
      : `${asked}: ${stateWords(r, approvers.length, r.kind === 'extension' ? undefined : grant)}`;
  return { text: fallback(text), blocks };
}

/**
 * Events the request's card shows without a DM of their own: the request reaching the
 * approvers is the card itself; an approval is followed at once by the access being active,
 * which is the news; a cancel was the requester's own doing and was answered where they did it.
 */
export const CARD_ONLY_EVENTS = [
  'request.received',
  'request.approved',
  'request.cancelled',
] as const;

/** The events that get a DM of their own: each is something the requester must hear of. */
export type DmPost = Exclude<DmEvent, (typeof CARD_ONLY_EVENTS)[number]>;

export function isDmPost(event: DmEvent): event is DmPost {
  return !(CARD_ONLY_EVENTS as readonly string[]).includes(event);
}

export interface RequesterDmInput extends Moment {
  event: DmPost;
  request: RequestView;
  resource: ResourceView;
  /** The grant the event is about: the request's own, or the one an extension is for. */
  grant?: GrantView;
  guarantees?: ProviderGuarantees;
  /** The Slack channel a `slack-channel` grant puts the person in. */
  channel?: string;
}

/** A DM telling a requester what happened to their request or grant, with the buttons that still make sense. */
export function requesterDm(input: RequesterDmInput): SlackMessage {
  const { request: r, resource, grant, channel } = input;
  const what = resourceText(resource);
  const active = grant?.status === 'active';
  const until = grant?.expiresAt != null ? at(grant.expiresAt, input) : undefined;
  const left = grant?.expiresAt != null ? inDuration(grant.expiresAt - input.now) : undefined;
  const by = mention(r.decidedBy);
  const reason = r.decisionReason ? `: ${oneLine(r.decisionReason, LONG_TEXT - 200)}` : '.';
  const stillUntil = active && until ? `\nYour access still ends at *${until}*.` : '';
  const askAgain = `If you still need it, ask again with \`/jit request ${resource.id}\`.`;
  const blocks: Block[] = [];
  let summary: string;

  switch (input.event) {
    case 'request.denied':
      summary = `❌ ${askedFor(r, resource)} was denied by ${by}${reason}`;
      blocks.push(section(summary));
      break;
    case 'request.expired':
      summary = `⌛ ${askedFor(r, resource)} expired: no approver decided in time. ${askAgain}`;
      blocks.push(section(summary));
      break;
    case 'grant.active':
      if (active && channel) {
        summary = `🟢 You are in ${channelLink(channel)} (${what}) until *${until}* (${left}). Hallpass removes you from it then.`;
      } else {
        summary = active
          ? `🟢 Your access to ${what} is active until *${until}* (${left}).`
          : `Your access to ${what} was activated. ${grant ? grantLine(grant, input) : ''}`;
      }
      blocks.push(section(summary));
      if (active && input.guarantees && !channel)
        blocks.push(context(guaranteeLines(input.guarantees)));
      if (active && grant) blocks.push(grantButtons(grant.id, true));
      break;
    case 'grant.expiring':
      summary =
        active && until
          ? `⏳ Your access to ${what} ends at *${until}* (${left}). Extend it if you need more time.`
          : `Your access to ${what} is about to end.`;
      blocks.push(section(summary));
      if (active && grant) blocks.push(grantButtons(grant.id, false));
      break;
    case 'grant.ended': {
      const removed = channel ? ` You are no longer in ${channelLink(channel)}.` : '';
      summary = `⚪ Your access to ${what} has ended. ${grant ? endedWhy(grant, input) : ''}${removed}`;
      blocks.push(section(summary.trim()));
      break;
    }
    case 'grant.failed':
      summary = `❗ I could not set up your access to ${what}. The admins are alerted, and anything that may have been set up is being removed. You can ask again with \`/jit request ${resource.id}\`.`;
      blocks.push(section(summary));
      break;
    case 'extension.approved':
      summary = active
        ? `✅ Your request for *${humanDuration(r.durationMs)}* more was approved ${r.autoApproved ? 'automatically' : `by ${by}`}: your access to ${what} now lasts until *${until}* (${left}).`
        : `Your request for more time on ${what} was approved, but that access has already ended, so nothing was extended.`;
      blocks.push(section(summary));
      if (active && grant) blocks.push(grantButtons(grant.id, true));
      break;
    case 'extension.denied':
      summary = `❌ Your request for *${humanDuration(r.durationMs)}* more on ${what} was denied by ${by}${reason}${stillUntil}`;
      blocks.push(section(summary));
      break;
    case 'breakglass.granted':
      summary = `🚨 You broke the glass on ${what}: access without approval for *${humanDuration(r.durationMs)}*. I am setting it up and will tell you when it is active.`;
      blocks.push(section(summary));
      blocks.push(
        context([
          'This use is audited: the approvers and the admins were alerted, and an approver must review it.',
        ]),
      );
      break;
  }
  const grantRef = grant ? ` · grant ${code(grant.id)}` : '';
  blocks.push(context([`${requestLabel(r)}${grantRef}`]));
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

/** Room for a notice that the text was cut and the closing note. */
const CREDENTIAL_TAIL = 2;

/**
 * The provider's credentials as blocks, shown whole (split over sections, not cut) unless they
 * exceed the `room` left in a message, then cut with a notice.
 */
function credentialBlocks(credentials: string, room: number): Block[] {
  const pieces = splitText(credentials, LIMITS.sectionText);
  const shown = pieces.slice(0, Math.max(1, room - CREDENTIAL_TAIL));
  const blocks: Block[] = shown.map((piece) => section(piece.trim() ? piece : '…'));
  if (pieces.length > shown.length)
    blocks.push(
      section('…the provider sent more than one Slack message can hold; the rest is cut.'),
    );
  blocks.push(context(['Shown once: Hallpass keeps no copy. Save what you need now.']));
  return blocks;
}

/**
 * Credentials that came later than the access they belong to (a re-issued password), as a DM
 * of their own. The notification text never contains them.
 */
export function credentialsMessage(input: CredentialsMessageInput): SlackMessage {
  const intro = section(
    `🔑 New credentials for your access to ${resourceText(input.resource)} (grant ${code(input.grantId)}):`,
  );
  return {
    text: fallback(`New credentials for ${plainName(input.resource)} are here.`),
    blocks: [intro, ...credentialBlocks(input.credentials, LIMITS.blocksPerMessage - 1)],
  };
}

/**
 * The "access is active" DM with the credentials that came with the access added below, so the
 * holder gets one message for one event. Its notification text stays the credential-free one.
 */
export function withCredentials(message: SlackMessage, credentials: string): SlackMessage {
  const intro = section('🔑 *How to use it:*');
  const room = LIMITS.blocksPerMessage - message.blocks.length - 1;
  // The credentials go above the context line and buttons, which stay last.
  const tail = message.blocks.filter((b) => b.type === 'actions' || b.type === 'context');
  const head = message.blocks.filter((b) => b.type !== 'actions' && b.type !== 'context');
  return {
    text: message.text,
    blocks: [...head, intro, ...credentialBlocks(credentials, room), ...tail],
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
      `*Failed action*\n${input.action} (${plural(input.attempts, 'attempt')})`,
    ]),
    section(`*Last error*\n${escapeAndFit(input.error || 'no message', LONG_TEXT)}`),
    section(next),
  ];
  const who = input.userId ? ` for ${mention(input.userId)}` : '';
  const on = input.resource ? ` on ${plainName(input.resource)}` : '';
  return {
    text: fallback(
      input.action === 'grant'
        ? `⚠️ Hallpass gave up activating access${who}${on} (grant ${input.grantId}) after ${plural(input.attempts, 'attempt')} and is removing anything that may have been set up.`
        : `⚠️ Hallpass could not revoke access${who}${on} (grant ${input.grantId}) after ${plural(input.attempts, 'attempt')}; it keeps retrying.`,
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
