import { isPipelineId } from '../../core';
import { plural } from '../../plural';

export { formatDuration } from '../../config/duration';
export { plural };

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * A duration as people read it: `1 h 30 min`, `2 days 4 h`, `45 s`. Exact to the second, so a
 * duration someone chose reads back as chosen.
 */
export function humanDuration(ms: number): string {
  let rest = Math.max(0, Math.round(ms / 1000)) * 1000;
  const parts: string[] = [];
  const days = Math.floor(rest / DAY);
  if (days > 0) parts.push(plural(days, 'day'));
  rest -= days * DAY;
  for (const [size, unit] of [
    [HOUR, 'h'],
    [MINUTE, 'min'],
    [1000, 's'],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n} ${unit}`);
    rest -= n * size;
  }
  return parts.length > 0 ? parts.join(' ') : '0 s';
}

/**
 * How far off a moment is, as a countdown reads: `in 5 min`, `in 1 h 30 min`, `in 40 s`.
 * Rounded up to the minute from a minute on, so it never promises less time than is left.
 */
export function inDuration(ms: number): string {
  if (ms <= 0) return 'now';
  if (ms < MINUTE) return `in ${humanDuration(Math.ceil(ms / 1000) * 1000)}`;
  return `in ${humanDuration(Math.ceil(ms / MINUTE) * MINUTE)}`;
}

/** An IANA zone this runtime knows, so a reader's zone from Slack is used only when it is real. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const ELLIPSIS = '…';

/**
 * Cuts `text` to at most `max` UTF-16 units, ending in an ellipsis when it had to cut. Never
 * splits a surrogate pair, so an emoji is kept whole or dropped.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - ELLIPSIS.length);
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return text.slice(0, end) + ELLIPSIS;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/** People's text shown as mrkdwn: `<!channel>`, `<@U…>` and links typed by a user stay plain text. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/[&<>]/g, (ch) => ESCAPES[ch]!);
}

/**
 * Escapes `text` and cuts it to `max` units of escaped output, never inside an entity like
 * `&amp;` (escaping can make text five times longer, so cutting after escaping is the only
 * way to know the length).
 */
export function escapeAndFit(text: string, max: number): string {
  const escaped = escapeMrkdwn(text);
  if (escaped.length <= max) return escaped;
  let out = '';
  for (const ch of text) {
    const piece = ESCAPES[ch] ?? ch;
    if (out.length + piece.length > max - ELLIPSIS.length) break;
    out += piece;
  }
  return out + ELLIPSIS;
}

/**
 * Splits long mrkdwn into pieces of at most `max` units, preferring line breaks, for text that
 * must be shown whole (credentials) rather than cut.
 */
export function splitText(text: string, max: number): string[] {
  const pieces: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const newline = rest.lastIndexOf('\n', max);
    let cut = newline > 0 ? newline : max;
    const code = rest.charCodeAt(cut - 1);
    if (cut === max && code >= 0xd800 && code <= 0xdbff) cut -= 1;
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut).replace(/^\n/, '');
  }
  if (rest.length > 0 || pieces.length === 0) pieces.push(rest);
  return pieces;
}

const SLACK_USER_RE = /^[UW][A-Z0-9]{2,}$/;

/**
 * A Slack mention for user ids; other actors (`hallpass`, the CLI) are named in words, and a
 * pipeline by its identity, marked as one.
 */
export function mention(actor: string | null | undefined): string {
  if (!actor) return 'someone';
  if (SLACK_USER_RE.test(actor)) return `<@${actor}>`;
  if (actor === 'hallpass') return 'Hallpass';
  if (isPipelineId(actor)) return `pipeline ${code(escapeAndFit(actor, 150))}`;
  return escapeAndFit(actor, 100);
}

export function channelLink(channelId: string): string {
  return `<#${channelId}>`;
}

/** An id people can copy into `/jit …`. */
export function code(id: string): string {
  return `\`${id.replace(/`/g, "'")}\``;
}

/**
 * A time as people in the configured zone read it: `14:30 UTC` today, `Tue 3 Nov 14:30 UTC`
 * on another day than `now`.
 */
export function formatTime(at: number, timezone: string, now: number): string {
  const when = zonedParts(at, timezone);
  const today = zonedParts(now, timezone);
  const sameDay = when.year === today.year && when.month === today.month && when.day === today.day;
  const clock = `${pad2(when.hour)}:${pad2(when.minute)}`;
  if (sameDay) return `${clock} ${timezone}`;
  const weekday = WEEKDAYS[new Date(Date.UTC(when.year, when.month - 1, when.day)).getUTCDay()];
  return `${weekday} ${when.day} ${MONTHS[when.month - 1]} ${clock} ${timezone}`;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * One formatter per zone, kept: every message and Home draws several times, and building the
 * zone's rules for each (as a zoned date per call does) was most of the cost of drawing them.
 * Numeric fields only, so no locale's month or weekday names leak in.
 */
const zoneFormats = new Map<string, Intl.DateTimeFormat>();

type ZonedParts = { year: number; month: number; day: number; hour: number; minute: number };

/**
 * The parts of recent seconds, by zone and second: one change draws the same moments (its
 * request's times, `now`) in the approver message, the DM and the Home, and `formatToParts` was
 * a few per cent of the thread under load. No zone's offset has a fraction of a second, so a
 * second's parts are those of every moment in it. Emptied when full rather than kept in order:
 * what is drawn again is what was drawn last.
 */
const recentParts = new Map<string, ZonedParts>();
const RECENT_PARTS_MAX = 4096;

function zonedParts(at: number, timezone: string): ZonedParts {
  const key = `${timezone}|${Math.floor(at / 1000)}`;
  const known = recentParts.get(key);
  if (known) return known;
  if (recentParts.size >= RECENT_PARTS_MAX) recentParts.clear();
  const parts = freshParts(at, timezone);
  recentParts.set(key, parts);
  return parts;
}

function freshParts(at: number, timezone: string): ZonedParts {
  let formatter = zoneFormats.get(timezone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      hourCycle: 'h23',
    });
    zoneFormats.set(timezone, formatter);
  }
  const part: ZonedParts = { year: 0, month: 0, day: 0, hour: 0, minute: 0 };
  for (const { type, value } of formatter.formatToParts(at)) {
    if (type in part) part[type as keyof typeof part] = Number(value);
  }
  return part;
}
