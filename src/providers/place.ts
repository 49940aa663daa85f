import { createHash } from 'node:crypto';
import { canonicalJson } from '../chain/canonical-json';
import type { ProviderPlace } from '../core';
import type { ProviderAdapter } from './types';

/** Long enough that two different settings never share one by chance. */
const DIGEST_HEX = 16;

/**
 * Where an instance of `adapter` with `settings` acts, as grants record it: its type, and a digest
 * of each setting its adapter names (`placeOf`), so the record holds no URL or host in the clear.
 * A module's `placeOf` is outside our type checks: one that does not answer an object throws.
 */
export function placeOf(type: string, adapter: ProviderAdapter, settings: unknown): ProviderPlace {
  const parts = adapter.placeOf?.(settings) ?? {};
  if (typeof parts !== 'object' || parts === null || Array.isArray(parts)) {
    throw new Error('placeOf() must return an object of settings by name');
  }
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
