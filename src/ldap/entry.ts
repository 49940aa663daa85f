import type { Entry } from 'ldapts';

/** An attribute's values as text; servers may spell the name differently from the request. */
export function stringValues(entry: Entry, attribute: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === attribute.toLowerCase());
  const raw = key === undefined ? [] : entry[key];
  return (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map((v) => v.toString());
}
