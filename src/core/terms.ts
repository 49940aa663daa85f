import { z } from 'zod';
import type { Resource } from '../config/schema';
import type { GrantRow } from './context';

/**
 * What a grant was made with, recorded when it is created: the provider instance and the
 * target it resolved to, the bounds it was granted under, and where its approvers are. Grant,
 * re-grant, revoke and check act on this, never on today's configuration, so editing or
 * removing a resource cannot redirect or strand a live grant.
 */
/**
 * Where a provider instance acts: its type and, for each setting that says where its accesses
 * live (a server, an organisation, an endpoint), a digest of that setting, never its text (a
 * URL may carry a token). Two places with the same keys and digests are the same place.
 */
export const providerPlaceSchema = z.record(z.string(), z.string());
export type ProviderPlace = z.infer<typeof providerPlaceSchema>;

/**
 * Today's place of each configured provider instance, by name; undefined for one configured
 * whose place is not known here (its place read from a variable unset on the CLI's machine, or
 * a file its adapter could not read): not compared.
 */
export type ProviderPlaces = ReadonlyMap<string, ProviderPlace | undefined>;

export const grantTermsSchema = z.object({
  provider: z.string(),
  /** Absent on grants made before places were recorded: acted on wherever the instance points. */
  providerPlace: providerPlaceSchema.optional(),
  target: z.unknown(),
  resourceName: z.string(),
  approverChannel: z.string(),
  maxTotalDurationMs: z.number().int().positive(),
  approvalsRequired: z.number().int().min(0),
});
export type GrantTerms = z.infer<typeof grantTermsSchema>;

/**
 * The settings of a grant's provider instance that no longer point where the grant was made:
 * none when they all do, or when the grant recorded no place. A grant is acted on only where it
 * was made: a revoke at another place would be recorded as done while the access stays.
 */
export function movedSettings(
  terms: Pick<GrantTerms, 'providerPlace'> | undefined,
  today: ProviderPlace,
): string[] {
  const then = terms?.providerPlace;
  if (!then) return [];
  const keys = new Set([...Object.keys(then), ...Object.keys(today)]);
  return [...keys].filter((key) => then[key] !== today[key]).sort();
}

/** How the edge resolves a resource's target (a provider's schema fills in defaults). */
export type TargetResolver = (resource: Resource) => unknown;

export const configuredTarget: TargetResolver = (resource) => resource.target;

/**
 * Terms already read, by their recorded text: the grants of one resource share the same few
 * texts, and a mass expiry reads them once per revoke on the thread that makes the calls. Frozen,
 * as every grant with the text gets the same object.
 */
const readTerms = new Map<string, Readonly<GrantTerms> | undefined>();
const READ_TERMS_MAX = 1_000;

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** The terms recorded on a grant, or undefined for a grant made before terms were recorded. */
export function termsOf(grant: Pick<GrantRow, 'snapshot'>): Readonly<GrantTerms> | undefined {
  const text = grant.snapshot;
  if (text === null) return undefined;
  if (readTerms.has(text)) return readTerms.get(text);
  const parsed = grantTermsSchema.safeParse(JSON.parse(text));
  const terms = parsed.success ? deepFreeze(parsed.data) : undefined;
  if (readTerms.size >= READ_TERMS_MAX) readTerms.clear();
  readTerms.set(text, terms);
  return terms;
}
