import type { ClaimPatterns, PipelineRule } from '../config/api';
import type { Resource } from '../config/schema';
import { formatDuration } from '../config/duration';
import { listTokens } from './api-tokens';
import type { CoreContext } from './context';
import { resourceParts, type Explanation, type PipelineExplanation } from './explain';
import { ruleAutoApproves, ruleMatches, TOKEN_IDENTITY_RE, type PipelineCaller } from './pipelines';
import { describePeople, requestRefusal, type Answer, type Refusal } from './rules';

const OIDC_ISSUER_RE = /^oidc:([^:]+):/;

const BY_CLAIMS: Answer = {
  is: 'unknown',
  why: 'it depends on the claims of the ID token the pipeline presents',
};

/**
 * What a resource's rules say to a pipeline's identity now: its `pipelines` rules, never the
 * people rules, asked through the same functions that decide its requests (src/core/policy.ts,
 * src/core/pipelines.ts). An API token's identity is answered in full, with its live tokens; an
 * ID token's identity names its issuer but not its claims, so a rule of that issuer is told as
 * depending on them.
 */
export async function explainPipeline(
  ctx: CoreContext,
  identity: string,
  resource: Resource,
): Promise<Explanation> {
  const { policy } = ctx;
  const rules = policy.rulesOf(resource);
  const now = ctx.clock.now();
  // An API token's identity as a caller whose token is bound to the resource: whether one is
  // bound is told from its live tokens below.
  const asToken: PipelineCaller | undefined = TOKEN_IDENTITY_RE.test(identity)
    ? { via: 'token', id: identity, tokenId: '', scope: [resource.id] }
    : undefined;
  const issuer = OIDC_ISSUER_RE.exec(identity)?.[1];
  const pipeline: PipelineExplanation = {
    rules: resource.pipelines.map((rule, index) => ({
      index,
      names: ruleText(rule),
      ...(rule.autoApprove
        ? {
            autoApprove: {
              text: autoApproveText(rule.autoApprove),
              applies: autoApproveAnswer(rule, asToken, issuer),
            },
          }
        : {}),
      matches: matchAnswer(rule, asToken, issuer),
    })),
  };
  if (asToken) {
    const live = (await listTokens(ctx)).filter(
      (t) =>
        t.identity === identity &&
        t.revokedAt === null &&
        (t.expiresAt === null || t.expiresAt > now),
    );
    pipeline.tokens = {
      bound: live.filter((t) => t.resources.includes(resource.id)).map((t) => t.id),
      unbound: live.filter((t) => !t.resources.includes(resource.id)).map((t) => t.id),
    };
  }
  const facts = {
    person: identity,
    status: await policy.statusOf(identity),
    requester: undefined,
    autoApprove: [],
  };
  return {
    person: identity,
    ...resourceParts(rules, now),
    refusal:
      pipelineRefusal(ctx, identity, resource, asToken, pipeline) ??
      requestRefusal(rules, facts, now),
    decides: {
      quorum: resource.approvalsRequired,
      channel: rules.approverChannel,
      named: describePeople(resource.approvers),
      resolved: await policy.resolvePeople(resource.approvers),
      // Pipelines never decide requests.
      person: { is: false },
      selfApproval: resource.allowSelfApproval,
    },
    autoApproval: [],
    pipeline,
  };
}

function pipelineRefusal(
  ctx: CoreContext,
  identity: string,
  resource: Resource,
  asToken: PipelineCaller | undefined,
  pipeline: PipelineExplanation,
): Refusal | undefined {
  if (asToken) {
    const refused = ctx.policy.pipelineRefusal(asToken, resource);
    if (refused) return { rule: 'pipelines', message: refused.message };
    if (pipeline.tokens!.bound.length === 0)
      return {
        rule: 'token',
        message: `No live API token of ${identity} is bound to ${resource.id}. Create one with \`hallpass tokens create --identity ${identity} --resource ${resource.id}\`.`,
      };
    return undefined;
  }
  if (pipeline.rules.some((r) => r.matches.is !== false)) return undefined;
  return {
    rule: 'pipelines',
    message: `${identity} may not request ${resource.id}: no \`pipelines\` rule of the resource names its issuer. An admin can add one in hallpass.yml.`,
  };
}

function matchAnswer(
  rule: PipelineRule,
  asToken: PipelineCaller | undefined,
  issuer: string | undefined,
): Answer {
  if (rule.token !== undefined)
    return asToken && ruleMatches(rule, asToken)
      ? { is: true, via: 'its identity' }
      : { is: false };
  return rule.oidc === issuer ? BY_CLAIMS : { is: false };
}

function autoApproveAnswer(
  rule: PipelineRule,
  asToken: PipelineCaller | undefined,
  issuer: string | undefined,
): Answer {
  const auto = rule.autoApprove!;
  if (asToken)
    return ruleMatches(rule, asToken) && ruleAutoApproves(rule, asToken, auto.maxDuration)
      ? { is: true, via: 'its identity' }
      : { is: false };
  return rule.oidc === issuer ? BY_CLAIMS : { is: false };
}

function ruleText(rule: PipelineRule): string {
  if (rule.token !== undefined) return `API tokens of \`${rule.token}\``;
  return `ID tokens of ${rule.oidc} with ${claimsText(rule.claims)}`;
}

function autoApproveText(auto: NonNullable<PipelineRule['autoApprove']>): string {
  const when = auto.claims ? ` when also ${claimsText(auto.claims)}` : '';
  return `approved at once for up to ${formatDuration(auto.maxDuration)}${when}`;
}

/** `repository acme/app, ref refs/heads/main or refs/heads/release-*` */
function claimsText(claims: ClaimPatterns | undefined): string {
  return Object.entries(claims ?? {})
    .map(([name, value]) => `${name} ${(Array.isArray(value) ? value : [value]).join(' or ')}`)
    .join(', ');
}
