import { tz } from '@date-fns/tz';
import { format } from 'date-fns/format';
import { formatTime } from '../../../src/slack/ui/format';

/** What formatTime must say, written with date-fns in the zone: the reference it is checked on. */
function reference(at: number, timezone: string, now: number): string {
  const zone = { in: tz(timezone) };
  const sameDay = format(at, 'yyyy-MM-dd', zone) === format(now, 'yyyy-MM-dd', zone);
  return `${format(at, sameDay ? 'HH:mm' : 'EEE d MMM HH:mm', zone)} ${timezone}`;
}

/** A small seeded generator, so a failure can be run again as it was. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Half-hour and 45-minute offsets, a half-hour DST shift, the date line, and plain UTC.
const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'Pacific/Chatham',
  'America/St_Johns',
  'Pacific/Kiritimati',
  'Etc/GMT+12',
];

describe('formatTime', () => {
  it('reads as date-fns formats it in the zone, for instants across a year and its DST changes', () => {
    const random = mulberry32(20261130);
    const start = Date.UTC(2026, 0, 1);
    for (let i = 0; i < 20_000; i++) {
      const at = start + Math.floor(random() * 400 * 86_400_000);
      const now = at + Math.floor((random() - 0.5) * 4 * 86_400_000);
      const zone = ZONES[i % ZONES.length]!;
      const said = formatTime(at, zone, now);
      if (said !== reference(at, zone, now))
        throw new Error(
          `${new Date(at).toISOString()} in ${zone} (now ${new Date(now).toISOString()}): "${said}", not "${reference(at, zone, now)}"`,
        );
    }
  });
});
