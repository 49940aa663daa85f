import { tz } from '@date-fns/tz';
import { format } from 'date-fns/format';
import { formatDuration } from '../config/duration';
import type { BreakGlassRow, Digest, GrantRef, Listed, Ranked, RevocationProblem } from './digest';

/** How names look in the output: Slack mrkdwn or plain terminal text. */
export interface DigestStyle {
  user(id: string): string;
  id(id: string): string;
  bold(text: string): string;
  /** Text that came from outside (a provider's error message), cut to `max` characters. */
  quote(text: string, max: number): string;
}

/** One part of the digest: a title and its lines, in the order they are shown. */
export interface DigestSection {
  title: string;
  lines: string[];
  /** Shown first and flagged: something needs someone's attention. */
  alert?: boolean;
}

const number = (n: number) => n.toLocaleString('en-US');
/** A provider's activity summary is one line; a longer one is cut so the digest stays one message. */
const SUMMARY_MAX = 200;

export function formatPeriod(digest: Pick<Digest, 'period' | 'timeZone'>): string {
  const zone = { in: tz(digest.timeZone) };
  const at = (ms: number) => format(ms, 'EEE d MMM yyyy HH:mm', zone);
  return `${at(digest.period.start)} – ${at(digest.period.end)} (${digest.timeZone})`;
}

function more<T>(list: Listed<T>): string[] {
  const rest = list.total - list.items.length;
  return rest > 0 ? [`…and ${number(rest)} more`] : [];
}

function rankedLine(list: Listed<Ranked>, name: (key: string) => string): string {
  if (list.items.length === 0) return 'none';
  const shown = list.items.map((r) => `${name(r.key)} (${number(r.count)})`).join(', ');
  const rest = list.total - list.items.length;
  return rest > 0 ? `${shown} and ${number(rest)} more` : shown;
}

function problemLine(p: RevocationProblem, s: DigestStyle): string {
  const who = `${s.id(p.grantId)} ${s.user(p.userId)} on ${s.id(p.resourceId)}`;
  const attempts = `${p.attempts} attempt${p.attempts === 1 ? '' : 's'}`;
  if (p.kind === 'late') {
    return `${who}: revoked ${formatDuration(p.overrunMs)} after it was due, ${attempts}`;
  }
  const state = p.status === 'active' ? 'revoke not started' : `${attempts} so far`;
  const error = p.lastError ? `; last error: ${s.quote(p.lastError, 120)}` : '';
  return `${who}: ${s.bold(`still not revoked, ${formatDuration(p.overrunMs)} past due`)} (${state}${error})`;
}

function refLine(ref: GrantRef, s: DigestStyle, timeZone: string): string {
  const when = format(ref.at, 'EEE d MMM HH:mm', { in: tz(timeZone) });
  const what = ref.grantId ? s.id(ref.grantId) : s.id(ref.requestId);
  const extension = ref.kind === 'extension' ? ' (extension)' : '';
  return `${what} ${s.user(ref.userId)} on ${s.id(ref.resourceId)}${extension}, ${when}`;
}

function refList(title: string, list: Listed<GrantRef>, s: DigestStyle, timeZone: string) {
  if (list.total === 0) return [];
  return [
    `${s.bold(`${title}: ${number(list.total)}`)}`,
    ...list.items.map((ref) => `• ${refLine(ref, s, timeZone)}`),
    ...more(list),
  ];
}

function reviewText(use: BreakGlassRow, s: DigestStyle, asOf: number, timeZone: string): string {
  const note = use.note ? ` (${s.quote(use.note, 120)})` : '';
  if (use.verdict === 'flagged') return s.bold(`FLAGGED by ${s.user(use.reviewedBy ?? '')}`) + note;
  if (use.verdict === 'reviewed') return `reviewed by ${s.user(use.reviewedBy ?? '')}${note}`;
  const due = format(use.reviewDueAt, 'EEE d MMM HH:mm', { in: tz(timeZone) });
  return use.reviewDueAt <= asOf
    ? s.bold(`NOT REVIEWED, overdue since ${due}`)
    : `not reviewed yet (due ${due})`;
}

/** Every use of break-glass in the period and its review; flagged or overdue ones raise it. */
function breakGlassSection(digest: Digest, s: DigestStyle): DigestSection {
  const uses = digest.breakGlass;
  const alert = uses.items.some(
    (u) => u.verdict === 'flagged' || (u.verdict === null && u.reviewDueAt <= digest.asOf),
  );
  const lines = uses.items.map((u) => {
    const when = format(u.usedAt, 'EEE d MMM HH:mm', { in: tz(digest.timeZone) });
    const what = `${s.id(u.grantId)} ${s.user(u.userId)} on ${s.id(u.resourceId)}, ${when}`;
    return `• ${what}: ${reviewText(u, s, digest.asOf, digest.timeZone)}`;
  });
  return {
    title: `Break-glass: ${number(uses.total)}`,
    ...(alert ? { alert } : {}),
    lines: uses.total === 0 ? ['No break-glass use this week.'] : [...lines, ...more(uses)],
  };
}

function chainSection(digest: Digest, s: DigestStyle): DigestSection {
  const c = digest.chain;
  const scope = c.from
    ? `after row ${number(c.from.seq)} (${c.from.source})`
    : 'from the first row';
  if (!c.intact && c.firstBroken) {
    return {
      title: 'Audit chain broken',
      alert: true,
      lines: [
        `${s.bold(`Row ${number(c.firstBroken.seq)}: ${c.firstBroken.problem}.`)}`,
        `${number(c.checked)} rows before it checked out (walking ${scope}). Run \`hallpass audit verify\` on the bot's host.`,
      ],
    };
  }
  const when = (ms: number) => format(ms, 'EEE d MMM HH:mm', { in: tz(digest.timeZone) });
  const rows = `${number(c.checked)} row${c.checked === 1 ? '' : 's'}`;
  const since = !c.from
    ? `verified all ${rows}`
    : c.from.postedAt !== undefined
      ? `verified ${rows} since the last digest, ${when(c.from.postedAt)}`
      : c.from.source === 'last row before the period'
        ? `verified ${rows} since the period began, ${when(digest.period.start)}`
        : `verified ${rows} after row ${number(c.from.seq)} (${c.from.source})`;
  const head = c.head
    ? [`Newest row ${number(c.head.seq)}, hash ${s.id(c.head.hash)}: the next check starts there.`]
    : [];
  return {
    title: 'Audit chain',
    lines: [`Intact: ${since}.`, ...head],
  };
}

/** The digest as titled sections; revocation problems and a broken audit chain come first. */
export function digestSections(digest: Digest, s: DigestStyle): DigestSection[] {
  const sections: DigestSection[] = [];
  const problems = digest.revocationProblems;
  if (problems.total > 0) {
    sections.push({
      title: `Revocation problems: ${number(problems.total)}`,
      alert: true,
      lines: [...problems.items.map((p) => `• ${problemLine(p, s)}`), ...more(problems)],
    });
  }
  const chain = chainSection(digest, s);
  if (chain.alert) sections.push(chain);
  const glass = breakGlassSection(digest, s);
  if (glass.alert) sections.push(glass);

  const r = digest.requests;
  const t = digest.decisionTime;
  sections.push({
    title: 'Requests',
    lines: [
      `${number(r.filed)} filed · ${number(r.approved)} approved · ${number(r.denied)} denied · ${number(r.cancelled)} cancelled · ${number(r.expired)} expired undecided`,
      t
        ? `Time to decision: median ${formatDuration(t.medianMs)}, 90th percentile ${formatDuration(t.p90Ms)} (${number(t.decisions)} decisions)`
        : 'Time to decision: no decisions by people this week',
      `Decided most: ${rankedLine(digest.topApprovers, (id) => s.user(id))}`,
    ],
  });

  const g = digest.grants;
  const longest = digest.longestGrants.map(
    (l) =>
      `• ${s.id(l.grantId)} ${s.user(l.userId)} on ${s.id(l.resourceId)}: ${formatDuration(l.heldMs)}${l.status === 'active' ? ' (still active)' : ''}`,
  );
  sections.push({
    title: 'Grants',
    lines: [
      `${number(g.activated)} activated · ${number(g.endedOnTime)} ended on time · ${number(g.endedEarly)} ended early · ${number(g.activationFailed)} failed to activate`,
      ...(longest.length > 0 ? [s.bold('Longest'), ...longest] : []),
    ],
  });

  const activity = digest.activity;
  if (activity.total > 0) {
    sections.push({
      title: 'What was done',
      lines: [
        ...activity.items.map(
          (a) =>
            `• ${s.id(a.grantId)} ${s.user(a.userId)} on ${s.id(a.resourceId)}: ${s.quote(a.summary, SUMMARY_MAX)}`,
        ),
        ...more(activity),
      ],
    });
  }

  sections.push({
    title: 'Most requested',
    lines: [
      `Resources: ${rankedLine(digest.topResources, (id) => s.id(id))}`,
      `Requesters: ${rankedLine(digest.topRequesters, (id) => s.user(id))}`,
    ],
  });

  const flagged = [
    ...refList('Self-approved', digest.selfApproved, s, digest.timeZone),
    ...refList('Auto-approved', digest.autoApproved, s, digest.timeZone),
    ...refList('Activated outside business hours', digest.outsideBusinessHours, s, digest.timeZone),
  ];
  sections.push({
    title: 'Worth a look',
    lines:
      flagged.length > 0 ? flagged : ['No self-approved, auto-approved or after-hours grants.'],
  });

  if (!glass.alert) sections.push(glass);
  if (!chain.alert) sections.push(chain);
  return sections;
}

export const plainStyle: DigestStyle = {
  user: (id) => id,
  id: (id) => id,
  bold: (text) => text,
  quote: (text, max) => JSON.stringify(text.length > max ? `${text.slice(0, max - 1)}…` : text),
};

/** The digest for a terminal: `hallpass digest --print`. */
export function digestText(digest: Digest): string {
  const out = ['Hallpass weekly digest', formatPeriod(digest), ''];
  for (const section of digestSections(digest, plainStyle)) {
    out.push(section.alert ? `!! ${section.title.toUpperCase()}` : section.title.toUpperCase());
    for (const line of section.lines) out.push(`  ${line}`);
    out.push('');
  }
  return out.join('\n');
}
