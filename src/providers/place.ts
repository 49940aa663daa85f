import { createHash } from 'node:crypto';
import { canonicalJson } from '../chain/canonical-json';
import type { ProviderPlace } from '../core';
import type { ProviderAdapter } from './types';

/** Long enough that two different settings never share one by chance. */
const DIGEST_HEX = 16;

/** The settings an instance's `placeOf` named, as it answered them; undefined: not known here. */
export type PlaceParts = Readonly<Record<string, unknown>> | undefined;

function isPlainJson(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isPlainJson);
  if (typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(value).every((inner) => inner === undefined || isPlainJson(inner));
}

/**
 * What `adapter.placeOf` names for `settings`. A module's `placeOf` is outside our type checks:
 * an answer that is not an object of plain JSON values (a URL object digests as `{}`, a Promise
 * as nothing) would tell no two systems apart, so it throws, and the instance is a problem.
 */
export function placeParts(
  adapter: ProviderAdapter,
  settings: unknown,
  configDir: string,
): PlaceParts {
  if (!adapter.placeOf) return {};
  const parts: unknown = adapter.placeOf(settings, { configDir });
  if (parts === undefined) return undefined;
  if (typeof parts !== 'object' || parts === null || Array.isArray(parts) || !isPlainJson(parts)) {
    throw new Error(
      'placeOf() must answer an object of plain JSON values (strings, numbers, arrays, objects) by setting name',
    );
  }
  return parts as Record<string, unknown>;
}

/**
 * Where an instance of `type` acts, as grants record it: its type, and a digest of each setting
 * its adapter named (`placeParts`), so the record holds no URL or host in the clear.
 */
export function digestPlace(type: string, parts: NonNullable<PlaceParts>): ProviderPlace {
  const place: ProviderPlace = {};
  for (const [key, value] of Object.entries(parts)) {
    if (value === undefined) continue;
    place[key] = createHash('sha256')
      .update(canonicalJson(value))
      .digest('hex')
      .slice(0, DIGEST_HEX);
  }
  // Last, so a setting an adapter happens to call `type` cannot hide a change of type.
  place.type = type;
  return place;
}
