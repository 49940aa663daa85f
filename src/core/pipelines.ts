import { z } from 'zod';
import type { ClaimPatterns, PipelineRule } from '../config/api';
import type { Directory } from './directory';

/**
 * The identity an API token is bound to: `<namespace>:<name>`, like `ci:deploy-bot`. Never a
 * Slack user id (those are capitals and digits only), never the CLI's `cli:<user>` actors, and
 * never in the `oidc:` namespace that ID tokens' identities live in.
 */
export const TOKEN_IDENTITY_RE =
  /^(?!(?:oidc|cli|hallpass|slack):)[a-z][a-z0-9-]{0,30}:[A-Za-z0-9._@/-]{1,100}$/;

const OIDC_PREFIX = 'oidc:';

/** The requester id of a pipeline that proved itself with an ID token of `issuer`. */
export function oidcIdentity(issuer: string, value: string): string {
  return `${OIDC_PREFIX}${issuer}:${value}`;
}

/** Whether a requester or actor id is a pipeline's rather than a person's. */
export function isPipelineId(id: string): boolean {
  return id.startsWith(OIDC_PREFIX) || TOKEN_IDENTITY_RE.test(id);
}

/**
 * A pipeline as the API authenticated it: an API token (its identity, and the resources it is
 * bound to), or an ID token of a configured issuer with its claims. Recorded on the request, so
 * the policy can be asked again when the request is decided.
 */
export const pipelineCallerSchema = z.discriminatedUnion('via', [
  z.object({
    via: z.literal('token'),
    id: z.string().regex(TOKEN_IDENTITY_RE),
    tokenId: z.string(),
    scope: z.array(z.string()),
  }),
  z.object({
    via: z.literal('oidc'),
    id: z.string().startsWith(OIDC_PREFIX),
    issuer: z.string(),
    claims: z.record(z.string(), z.string()),
  }),
]);
export type PipelineCaller = z.infer<typeof pipelineCallerSchema>;

/** The caller a request was filed by, when a pipeline filed it. */
export function callerOf(request: { caller: string | null }): PipelineCaller | undefined {
  if (request.caller === null) return undefined;
  const parsed = pipelineCallerSchema.safeParse(JSON.parse(request.caller));
  return parsed.success ? parsed.data : undefined;
}

/** `*` matches any run of characters; everything else matches itself. */
function globMatches(pattern: string, value: string): boolean {
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 's').test(value);
}

function claimsMatch(patterns: ClaimPatterns | undefined, claims: Record<string, string>) {
  return Object.entries(patterns ?? {}).every(([name, expected]) => {
    const value = claims[name];
    if (value === undefined) return false;
    const options = Array.isArray(expected) ? expected : [expected];
    return options.some((pattern) => globMatches(pattern, value));
  });
}

/** Whether `rule` names this caller: its token identity, or its issuer and claims. */
export function ruleMatches(rule: PipelineRule, caller: PipelineCaller): boolean {
  if (caller.via === 'token') return rule.token !== undefined && globMatches(rule.token, caller.id);
  return rule.oidc === caller.issuer && claimsMatch(rule.claims, caller.claims);
}

/** Whether `rule` approves this caller's ask for `durationMs` without a human. */
export function ruleAutoApproves(
  rule: PipelineRule,
  caller: PipelineCaller,
  durationMs: number,
): boolean {
  const auto = rule.autoApprove;
  if (!auto || durationMs > auto.maxDuration) return false;
  if (auto.claims === undefined) return true;
  return caller.via === 'oidc' && claimsMatch(auto.claims, caller.claims);
}

/**
 * A directory that knows pipelines are not people in it: they are active for as long as their
 * credentials authenticate, have no email, and are never looked up (Slack would call them
 * deactivated, and offboard them).
 */
export function withPipelines(directory: Directory): Directory {
  return {
    usergroupMembers: (group) => directory.usergroupMembers(group),
    ldapGroupMembers: (group) => directory.ldapGroupMembers(group),
    oktaGroupMembers: (group) => directory.oktaGroupMembers(group),
    emailOf: async (userId) => (isPipelineId(userId) ? undefined : directory.emailOf(userId)),
    statusOf: async (userId, options) =>
      isPipelineId(userId) ? 'active' : directory.statusOf(userId, options),
  };
}
