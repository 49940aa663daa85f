import { TZDate } from '@date-fns/tz';
import { addDays } from 'date-fns/addDays';
import { startOfDay } from 'date-fns/startOfDay';
import { subDays } from 'date-fns/subDays';
import { parse as parseCron } from 'node-cron';
import { configSchema, type Config } from '../config/schema';

/** A reporting window: from `start` (inclusive) to `end` (exclusive), in ms since the epoch. */
export interface Period {
  start: number;
  end: number;
}

export type BusinessHours = NonNullable<Config['digest']>['businessHours'];

/** The schema's own default, for configurations without a `digest` section. */
export const DEFAULT_BUSINESS_HOURS: BusinessHours = configSchema.shape.digest
  .unwrap()
  .shape.businessHours.parse(undefined);

export function businessHoursOf(config: Config): BusinessHours {
  return config.digest?.businessHours ?? DEFAULT_BUSINESS_HOURS;
}

/** The seven days before `end` as people in `timeZone` count them (168 h, or 167/169 across DST). */
export function weekEndingAt(end: number, timeZone: string): Period {
  return { start: subDays(new TZDate(end, timeZone), 7).getTime(), end };
}

/** The period's key in the `digests` table and the outbox: its start, in ISO-8601 UTC. */
export function periodKey(period: Period): string {
  return new Date(period.start).toISOString();
}

const MAX_DAYS_BACK = 366 * 8;

/**
 * The latest time at or before `at` when the cron `schedule` fires in `timeZone`, or null when it
 * has not fired in the last eight years. The numeric fields from node-cron's own parser narrow
 * the candidates, latest first; `fires` (node-cron's matcher for the same schedule) has the last
 * word, so tokens such as `L` or `1#2` and times skipped by a DST change behave as node-cron does.
 */
export function previousFire(
  schedule: string,
  timeZone: string,
  at: number,
  fires: (date: Date) => boolean,
): number | null {
  const fields = parseCron(schedule);
  const descending = (values: number[]) => [...values].sort((a, b) => b - a);
  const hours = descending(fields.hour);
  const minutes = descending(fields.minute);
  const seconds = descending(fields.second);
  const numbers = (values: (number | string)[]) =>
    values.every((v) => typeof v === 'number') ? (values as number[]) : null;
  const daysOfMonth = numbers(fields.dayOfMonth);
  const daysOfWeek = numbers(fields.dayOfWeek);

  let day = new TZDate(at, timeZone);
  for (let i = 0; i <= MAX_DAYS_BACK; i++, day = subDays(day, 1)) {
    if (!fields.month.includes(day.getMonth() + 1)) continue;
    if (daysOfMonth && !daysOfMonth.includes(day.getDate())) continue;
    if (daysOfWeek && !daysOfWeek.includes(day.getDay())) continue;
    for (const hour of hours) {
      const zoned = (minute: number, second: number) =>
        new TZDate(
          day.getFullYear(),
          day.getMonth(),
          day.getDate(),
          hour,
          minute,
          second,
          timeZone,
        ).getTime();
      // Two zone lookups per hour instead of one per candidate (a schedule that fires every
      // second has 86,400 a day): when the hour has no offset change inside it, its minutes
      // and seconds are plain arithmetic from its start. An hour with a DST change (Lord Howe
      // moves by half an hour) is resolved candidate by candidate.
      const hourStart = zoned(0, 0);
      const steady = zoned(59, 59) - hourStart === 3_599_000;
      if (steady && hourStart > at) continue;
      for (const minute of minutes) {
        for (const second of seconds) {
          const candidate = steady
            ? hourStart + minute * 60_000 + second * 1000
            : zoned(minute, second);
          if (candidate <= at && fires(new Date(candidate))) return candidate;
        }
      }
    }
  }
  return null;
}

interface WallClock {
  hours: number;
  minutes: number;
}

function wallClock(text: string): WallClock {
  const [hours, minutes] = text.split(':').map(Number);
  return { hours: hours ?? 0, minutes: minutes ?? 0 };
}

/**
 * The business-hours intervals that overlap `period`, computed day by day in `timeZone` so each
 * day's 08:00 is that day's wall clock whatever DST does. An `end` at or before `start` means
 * the business day runs past midnight and ends the next day.
 */
export function businessIntervals(
  period: Period,
  hours: BusinessHours,
  timeZone: string,
): Period[] {
  const open = wallClock(hours.start);
  const close = wallClock(hours.end);
  const overnight = hours.end <= hours.start;
  const at = (day: Date, time: WallClock) =>
    new TZDate(
      day.getFullYear(),
      day.getMonth(),
      day.getDate(),
      time.hours,
      time.minutes,
      0,
      timeZone,
    ).getTime();
  const intervals: Period[] = [];
  let day = subDays(startOfDay(new TZDate(period.start, timeZone)), 1);
  while (day.getTime() < period.end) {
    if (hours.days.includes(day.getDay())) {
      const start = at(day, open);
      const end = at(overnight ? addDays(day, 1) : day, close);
      const clipped = { start: Math.max(start, period.start), end: Math.min(end, period.end) };
      if (clipped.start < clipped.end) intervals.push(clipped);
    }
    day = addDays(day, 1);
  }
  return intervals;
}
