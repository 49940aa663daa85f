import { CliError, EXIT } from './context';

const DATE_TIME_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * A `--since`/`--until` value: `YYYY-MM-DD` (midnight UTC) or an ISO-8601 date-time, UTC unless
 * it names an offset. Out-of-range parts (month 13, 30 February, 25:00) are refused rather than
 * rolled over, so a typo never silently exports a different range.
 */
export function parseDateArg(flag: string, text: string): number {
  const bad = () =>
    new CliError(`${flag}: "${text}" is not a date (use YYYY-MM-DD or ISO-8601)`, EXIT.usage);
  const m = DATE_TIME_RE.exec(text.trim());
  if (!m) throw bad();
  const [, y, mo, d, h = '0', mi = '0', s = '0', ms = '0', zone = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) throw bad();
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) throw bad();
  const offset = zone.toUpperCase() === 'Z' ? 0 : offsetMinutes(zone);
  if (offset === null) throw bad();
  const utc = Date.UTC(
    year,
    month - 1,
    day,
    Number(h),
    Number(mi),
    Number(s),
    Number(ms.padEnd(3, '0')),
  );
  return utc - offset * 60_000;
}

function offsetMinutes(zone: string): number | null {
  const m = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
  if (!m) return null;
  const hours = Number(m[2]);
  const minutes = Number(m[3]);
  if (hours > 14 || minutes > 59) return null;
  return (m[1] === '-' ? -1 : 1) * (hours * 60 + minutes);
}
