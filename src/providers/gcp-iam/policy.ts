import { z } from 'zod';

/**
 * An IAM allow policy as Cloud Resource Manager sends it. Loose objects: whatever else Google
 * puts in (auditConfigs, fields added later) is written back exactly as it was read.
 */
const conditionSchema = z.looseObject({
  title: z.string().optional(),
  description: z.string().optional(),
  expression: z.string(),
});

const bindingSchema = z.looseObject({
  role: z.string(),
  members: z.array(z.string()).default([]),
  condition: conditionSchema.optional(),
});

export const policySchema = z.looseObject({
  version: z.number().optional(),
  etag: z.string().optional(),
  bindings: z.array(bindingSchema).optional(),
});

export type Binding = z.infer<typeof bindingSchema>;
export type Policy = z.infer<typeof policySchema>;

/** What one grant binds: a role for one user, until the grant's expiry. */
export interface GrantBinding {
  grantId: string;
  requestId: string;
  slackId: string;
  role: string;
  email: string;
  expiresAt: Date;
}

/**
 * The condition title marks a binding as Hallpass's, for one grant. Grant ids are random, so no
 * binding written by a person or another tool carries one; bindings without it are never touched.
 */
export function grantTitle(grantId: string): string {
  return `hallpass ${grantId}`;
}

/** IAM compares principals' emails without case and shows them in lower case. */
export function memberOf(email: string): string {
  return `user:${email.toLowerCase()}`;
}

export function expiryExpression(expiresAt: Date): string {
  return `request.time < timestamp("${expiresAt.toISOString()}")`;
}

export function bindingFor(grant: GrantBinding): Binding {
  return {
    role: grant.role,
    members: [memberOf(grant.email)],
    condition: {
      title: grantTitle(grant.grantId),
      description: `Hallpass grant ${grant.grantId} (request ${grant.requestId}) for Slack user ${grant.slackId}; Google ends it at the time in the expression`,
      expression: expiryExpression(grant.expiresAt),
    },
  };
}

export function isGrantBinding(binding: Binding, grantId: string): boolean {
  return binding.condition?.title === grantTitle(grantId);
}

/** The bindings Hallpass wrote for this grant (one, unless someone copied it). */
export function grantBindings(policy: Policy, grantId: string): Binding[] {
  return (policy.bindings ?? []).filter((binding) => isGrantBinding(binding, grantId));
}

/**
 * The policy to write so that it holds exactly `wanted` for its grant, or null when it already
 * does (a retried grant then writes nothing). Only bindings titled for this grant are replaced.
 */
export function withGrantBinding(policy: Policy, wanted: Binding): Policy | null {
  const title = wanted.condition?.title;
  const bindings = policy.bindings ?? [];
  const ours = bindings.filter((binding) => binding.condition?.title === title);
  if (ours.length === 1 && ours[0] && sameBinding(ours[0], wanted)) return null;
  const others = bindings.filter((binding) => binding.condition?.title !== title);
  return { ...policy, version: 3, bindings: [...others, wanted] };
}

/** The policy without this grant's bindings, or null when it has none. */
export function withoutGrantBindings(policy: Policy, grantId: string): Policy | null {
  const bindings = policy.bindings ?? [];
  const others = bindings.filter((binding) => !isGrantBinding(binding, grantId));
  if (others.length === bindings.length) return null;
  return { ...policy, version: 3, bindings: others };
}

function sameBinding(held: Binding, wanted: Binding): boolean {
  return (
    held.role === wanted.role &&
    held.members.length === 1 &&
    held.members[0]?.toLowerCase() === wanted.members[0] &&
    held.condition?.expression === wanted.condition?.expression
  );
}
