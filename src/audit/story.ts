import { formatDuration } from '../config/duration';
import { plural } from '../plural';
import type { ActivityDetails } from '../providers/types';
import type { AuditRow, GrantRow, Queries, RequestRow } from '../store';

/** One step of a grant's story, told from its audit event. */
export interface StoryLine {
  seq: number;
  at: number;
  actor: string;
  action: string;
  text: string;
}

export interface GrantStory {
  grant: GrantRow;
  lines: StoryLine[];
}

/** A request that never became a grant (denied, cancelled, expired or still pending). */
export interface RequestStory {
  request: RequestRow;
  lines: StoryLine[];
}

type Details = Record<string, unknown>;

const iso = (ms: unknown) => (typeof ms === 'number' ? new Date(ms).toISOString() : '?');
const quoted = (text: unknown) => JSON.stringify(String(text ?? ''));
/** The account a grant call named (grant.activated, grant.failed and failed attempts record it). */
const forAccount = (d: Details) => (typeof d.account === 'string' ? `, for ${d.account}` : '');
const duration = (ms: unknown) => (typeof ms === 'number' ? formatDuration(ms) : '?');

const END_REASONS: Record<string, string> = {
  expired: 'its time was up',
  revoked_by_user: 'the holder ended it early',
  revoked_by_admin: 'an admin ended it early',
  activation_failed: 'activation failed',
  resource_removed: 'its resource was removed from the configuration before it started',
};

/**
 * Where an early end was asked for: a holder or admin (Slack, API, CLI), a revoked token,
 * offboarding, a removed resource.
 */
function earlyEndHow(d: Details): string {
  if (typeof d.via === 'string') return `via ${d.via}`;
  if (typeof d.revokedId === 'string') return `by revoking API token ${d.revokedId}`;
  if (d.reason === 'offboarded') return 'as they were offboarded';
  if (d.reason === 'resource_removed') return 'before its start, as its resource was removed';
  return 'via slack';
}

/** Statements listed under a revoke in `audit show`; the audit event keeps up to 50. */
const STATEMENTS_SHOWN = 20;

/**
 * What the provider reported was done with the access: its summary, then the most called
 * statements (normalized text, never literal values) and sessions it ended, one per line.
 */
function activityLines(activity: unknown): string {
  if (typeof activity !== 'object' || activity === null) return '';
  const { summary, details } = activity as { summary?: unknown; details?: ActivityDetails };
  const lines = [`what was done: ${String(summary)}`];
  if (details?.note) lines.push(`  note: ${details.note}`);
  const statements = details?.statements ?? [];
  for (const st of statements.slice(0, STATEMENTS_SHOWN)) {
    lines.push(
      `  ${st.calls}× ${st.text ?? st.command} (${st.database}, ${st.rows} rows, ${Math.round(st.totalMs)} ms)`,
    );
  }
  const omitted = statements.length - STATEMENTS_SHOWN + (details?.statementsOmitted ?? 0);
  if (omitted > 0) lines.push(`  and ${omitted} more statements`);
  for (const session of details?.sessions ?? []) {
    const open = session.openMs === undefined ? '' : `, open ${duration(session.openMs)}`;
    lines.push(`  a session on ${session.database}${open}, ended by the revoke`);
  }
  return lines.map((line) => `\n    ${line}`).join('');
}

function tell(row: AuditRow, d: Details): string {
  const who = row.actor;
  const attempt = `attempt ${String(d.attempts ?? '?')}`;
  switch (row.action) {
    case 'request.created':
      return d.kind === 'extension'
        ? `${who} asked to extend the grant by ${duration(d.durationMs)}: ${quoted(d.justification)}`
        : `${who} requested ${String(d.resourceId)} for ${duration(d.durationMs)}: ${quoted(d.justification)}${d.ticket ? ` (ticket ${String(d.ticket)})` : ''}`;
    case 'approval.recorded':
      return `${who} approved (${String(d.approvals)} of ${String(d.required)} needed)${d.selfApproval ? ', approving their own request' : ''}`;
    case 'request.approved':
      if (d.breakGlass) return `approved by ${who}'s break-glass, without an approver`;
      return d.auto
        ? 'approved automatically (no approver needed)'
        : `request approved, quorum reached with ${who}`;
    case 'request.reminded':
      return `approvers reminded after ${duration(d.after)} undecided`;
    case 'request.escalated':
      return `escalated after ${duration(d.after)} undecided to ${JSON.stringify(d.to ?? {})}`;
    case 'breakglass.used':
      return `${who} broke the glass on ${String(d.resourceId)} for ${duration(d.durationMs)}: ${quoted(d.justification)}; review due ${iso(d.reviewDueAt)}`;
    case 'breakglass.reviewed':
    case 'breakglass.flagged':
      return `${who} ${row.action === 'breakglass.flagged' ? 'FLAGGED' : 'reviewed'} the break-glass use${d.note ? `: ${quoted(d.note)}` : ''}${d.late ? ' (after it was due)' : ''}`;
    case 'breakglass.review_overdue':
      return `the break-glass use was not reviewed by ${iso(d.reviewDueAt)}; its approvers, escalation target and admins were told`;
    case 'request.denied':
      return `${who} denied it${d.reason ? `: ${quoted(d.reason)}` : ''}`;
    case 'request.cancelled':
      return `${who} cancelled the request`;
    case 'request.expired':
      return `the request expired undecided (it was open until ${iso(d.pendingUntil)})`;
    case 'grant.created':
      return `grant created for provider ${String(d.provider)}, ${duration(d.durationMs)}`;
    case 'grant.activation_failed_attempt':
      return `provider grant failed (${attempt}${forAccount(d)}): ${quoted(d.error)}; next try ${iso(d.nextAttemptAt)}`;
    case 'grant.activated':
      return `provider grant ok (${attempt}, ${String(d.elapsedMs)} ms${forAccount(d)}): access from ${iso(d.startsAt)} until ${iso(d.expiresAt)}${d.credentialsIssued === true ? ', credentials sent to the holder' : ''}`;
    case 'grant.failed':
      return `activation gave up after ${plural(Number(d.attempts), 'attempt')}${forAccount(d)}: ${quoted(d.error)}; cleaning up with a revoke`;
    case 'grant.extended':
      return d.applied
        ? `extended: now ends ${iso(d.to)} instead of ${iso(d.from)}`
        : `extension approved but not applied: ${String(d.why)}`;
    case 'grant.synced':
      return `provider told the new end, ${iso(d.expiresAt)}`;
    case 'grant.expiry_warned':
      return `holder warned that access ends ${iso(d.expiresAt)}`;
    case 'grant.revoke_requested':
      return d.reason === 'expired'
        ? `time up (expired ${iso(d.expiresAt)}); revoking`
        : `${who} asked to end it early ${earlyEndHow(d)}${d.note ? `: ${quoted(d.note)}` : ''}; revoking`;
    case 'grant.revoke_failed_attempt':
      return `provider revoke failed (${attempt}): ${quoted(d.error)}; next try ${iso(d.nextAttemptAt)}`;
    case 'grant.revoke_alerted':
      return `alerted the approver channel and admins after ${plural(Number(d.attempts), 'failed revoke')}`;
    case 'grant.revoked': {
      const why = END_REASONS[String(d.reason)] ?? String(d.reason);
      const call =
        d.providerCall === 'skipped'
          ? `provider not called: grant ${String(d.coveredBy)} still covers the same access`
          : `provider revoke ok (${attempt}${d.checked ? ', checked' : ''})`;
      const late =
        typeof d.overrunMs === 'number' && d.overrunMs > 0
          ? `, ${duration(d.overrunMs)} after expiry`
          : '';
      return `access ended because ${why}: ${call}${late}${activityLines(d.activity)}`;
    }
    case 'provider.called':
      return `provider ${String(d.call)} answered ${d.ok ? 'ok' : 'with an error'}${d.late ? ` after the grant was already ${String(d.status)}` : ''}`;
    case 'notification.failed':
      return `a Slack notification was given up: ${quoted(d.error)}`;
    default:
      return `${row.action} ${row.details}`;
  }
}

/**
 * Everything the audit log says about one grant, in order: its request, approvals, extension
 * requests, activation, provider calls and end. Undefined when there is no such grant.
 */
export async function grantStory(q: Queries, grantId: string): Promise<GrantStory | undefined> {
  const grant = await q.grants.byId(grantId);
  if (!grant) return undefined;
  return { grant, lines: (await q.audit.aboutGrant(grantId, grant.requestId)).map(lineOf) };
}

/**
 * The story behind a request id: its grant's whole story when it led to one (an approved access
 * request, or an extension of a grant), else the request's own events. Undefined when there is
 * no such request.
 */
export async function requestStory(
  q: Queries,
  requestId: string,
): Promise<GrantStory | RequestStory | undefined> {
  const request = await q.requests.byId(requestId);
  if (!request) return undefined;
  // An extension names the grant it extends; an access request is named by the grant it made.
  const grantId = request.grantId ?? (await q.grants.byRequest(requestId))?.id;
  if (grantId) return grantStory(q, grantId);
  return { request, lines: (await q.audit.aboutRequest(requestId)).map(lineOf) };
}

function lineOf(row: AuditRow): StoryLine {
  return {
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    text: tell(row, JSON.parse(row.details) as Details),
  };
}
