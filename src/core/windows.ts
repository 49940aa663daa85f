import { TZDate } from '@date-fns/tz';
import { addDays } from 'date-fns/addDays';
import type { TimeWindow, WindowSpan } from '../config/rules';
import { DomainError } from './errors';

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

function minutesOf(clock: string): number {
  const [h, m] = clock.split(':').map(Number);
  return h! * 60 + m!;
}

/** Whether `at` falls inside `window`, read on the wall clock of `timeZone`. */
export function inWindow(window: TimeWindow, at: number, timeZone: string): boolean {
  const local = new TZDate(at, timeZone);
  const day = local.getDay();
  const minute = local.getHours() * 60 + local.getMinutes();
  return window.some((span) => inSpan(span, day, minute));
}

function inSpan(span: WindowSpan, day: number, minute: number): boolean {
  const start = minutesOf(span.start);
  const end = minutesOf(span.end);
  if (start < end) return span.days.includes(day) && minute >= start && minute < end;
  // Past midnight: the evening of a listed day, or the early hours after it.
  return (
    (span.days.includes(day) && minute >= start) ||
    (span.days.includes((day + 6) % 7) && minute < end)
  );
}

/** `Mon–Fri 08:00–18:00`, `Sat, Sun 00:00–24:00`: how a window is said to people. */
export function describeWindow(window: TimeWindow, timeZone: string): string {
  return `${window.map(describeSpan).join('; ')} (${timeZone})`;
}

function describeSpan(span: WindowSpan): string {
  return `${describeDays(span.days)} ${span.start}–${span.end}`;
}

function describeDays(days: readonly number[]): string {
  const sorted = [...new Set(days)].sort((a, b) => a - b);
  const run = sorted.every((d, i) => i === 0 || d === sorted[i - 1]! + 1);
  if (sorted.length >= 3 && run)
    return `${DAY_NAMES[sorted[0]!]}–${DAY_NAMES[sorted[sorted.length - 1]!]}`;
  return sorted.map((d) => DAY_NAMES[d]).join(', ');
}

const CLOCK_RE = /^([01]?\d|2[0-3]):([0-5]\d)$/;
const LOCAL_RE = /^(\d{4})-(\d{2})-(\d{2})[T ]([01]\d|2[0-3]):([0-5]\d)$/;

/**
 * When a request asks its access to start: `14:00` is the next 14:00 on the wall clock of
 * `timeZone` (today while it is ahead, else tomorrow), `2026-11-03 14:00` that moment there.
 */
export function resolveStart(text: string, now: number, timeZone: string): number {
  const trimmed = text.trim();
  const clock = CLOCK_RE.exec(trimmed);
  if (clock) {
    const today = new TZDate(now, timeZone);
    const at = new TZDate(
      today.getFullYear(),
      today.getMonth(),
      today.getDate(),
      Number(clock[1]),
      Number(clock[2]),
      timeZone,
    );
    return at.getTime() > now ? at.getTime() : addDays(at, 1).getTime();
  }
  const local = LOCAL_RE.exec(trimmed);
  if (local) {
    const [, y, mo, d, h, mi] = local.map(Number) as number[];
    const at = new TZDate(y!, mo! - 1, d!, h!, mi!, timeZone);
    if (at.getMonth() === mo! - 1 && at.getDate() === d!) return at.getTime();
  }
  throw new DomainError(
    'bad_start',
    `"${trimmed}" is not a start time. Use HH:MM (the next such time, ${timeZone}) or YYYY-MM-DD HH:MM.`,
    'start',
  );
}
