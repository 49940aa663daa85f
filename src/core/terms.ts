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

/** The terms recorded on a grant, or undefined for a grant made before terms were recorded. */
export function termsOf(grant: Pick<GrantRow, 'snapshot'>): GrantTerms | undefined {
  if (grant.snapshot === null) return undefined;
  const parsed = grantTermsSchema.safeParse(JSON.parse(grant.snapshot));
  return parsed.success ? parsed.data : undefined;
}
