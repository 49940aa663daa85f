import { z } from 'zod';
import type { Resource } from '../config/schema';
import type { GrantRow } from './context';

/**
 * What a grant was made with, recorded when it is created: the provider instance and the
 * target it resolved to, the bounds it was granted under, and where its approvers are. Grant,
 * re-grant, revoke and check act on this, never on today's configuration, so editing or
 * removing a resource cannot redirect or strand a live grant.
 */
export const grantTermsSchema = z.object({
  provider: z.string(),
  target: z.unknown(),
  resourceName: z.string(),
  approverChannel: z.string(),
  maxTotalDurationMs: z.number().int().positive(),
  approvalsRequired: z.number().int().min(0),
});
export type GrantTerms = z.infer<typeof grantTermsSchema>;

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
