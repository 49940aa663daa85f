import { isTimeZone } from './ui/format';

/** Where a person reads times: their own zone as Slack knows it (`users.info` `tz`). */
export interface ReaderZones {
  /** The person's IANA zone, or undefined when Slack does not say or cannot be asked now. */
  timezoneOf(userId: string): Promise<string | undefined>;
}

/**
 * The zone to write times in for `userId`: their own when it is known and real, else
 * `fallback` (the configured zone). Never throws: a message is better in the configured zone
 * than not at all.
 */
export async function zoneOf(
  zones: ReaderZones | undefined,
  userId: string,
  fallback: string,
): Promise<string> {
  if (!zones) return fallback;
  try {
    const zone = await zones.timezoneOf(userId);
    return zone && isTimeZone(zone) ? zone : fallback;
  } catch {
    return fallback;
  }
}
