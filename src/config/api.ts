import { z } from 'zod';
import { parseDuration } from './duration';

/** `90s`, `15m`, `1h`… in milliseconds, with the same message as every duration in the file. */
const duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === null) {
    ctx.addIssue({
      code: 'custom',
      message: `"${text}" is not a duration (use 90s, 30m, 4h, 1d, 1h30m)`,
    });
    return z.NEVER;
  }
  return ms;
});

/** The name an OIDC issuer goes by in rules and in the identities it vouches for. */
const ISSUER_NAME_RE = /^[a-z][a-z0-9-]{0,30}$/;
const ISSUER_NAME_RULE = 'must match [a-z][a-z0-9-]{0,30} (e.g. github, gitlab)';
const issuerName = z.string().regex(ISSUER_NAME_RE, ISSUER_NAME_RULE);

/**
 * A claim's expected value: one pattern or a list of them (any may match). `*` stands for any
 * run of characters; nothing else is special.
 */
const claimPattern = z
  .string()
  .min(1)
  .max(500)
  .refine((p) => p.replace(/\*/g, '') !== '', 'must not match everything (pin a value)');
const claimPatterns = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/, 'is not a claim name'),
  z.union([claimPattern, z.array(claimPattern).min(1)]),
);
export type ClaimPatterns = z.infer<typeof claimPatterns>;

export const oidcIssuerSchema = z.strictObject({
  /** The `iss` the tokens carry, exactly (https://token.actions.githubusercontent.com). */
  issuer: z.url('must be the issuer URL the ID tokens carry in `iss`'),
  /** The `aud` Hallpass accepts: what the pipeline asks its CI for. */
  audience: z.string().min(1),
  /** Where the signing keys are; by default from the issuer's OpenID discovery document. */
  jwksUrl: z.url().optional(),
  /** How far the issuer's clock may be from ours for `exp`, `nbf` and `iat`. */
  clockSkew: duration.default(60_000),
  /** The claim whose value names the pipeline in the requester id (`oidc:<name>:<value>`). */
  identityClaim: z.string().min(1).default('sub'),
  /** The claims that say whose pipeline it is; one must be pinned by every rule of this issuer. */
  ownerClaims: z.array(z.string().min(1)).min(1).optional(),
});
export type OidcIssuer = z.infer<typeof oidcIssuerSchema> & { name: string };

export const apiSchema = z.strictObject({
  /** Calls one pipeline identity may make within `per`, on each replica. */
  rateLimit: z
    .strictObject({
      requests: z.number().int().min(1).max(100_000).default(60),
      per: duration.default(60_000),
    })
    .default({ requests: 60, per: 60_000 }),
  /** The longest a wait for a decision may be held open. */
  maxWait: duration.default(5 * 60_000),
  /** CI systems whose ID tokens are accepted, by the name rules use. */
  oidc: z
    .record(z.string(), oidcIssuerSchema)
    // Checked here rather than by the record's key schema, whose message would not say why.
    .superRefine((issuers, ctx) => {
      for (const name of Object.keys(issuers).filter((n) => !ISSUER_NAME_RE.test(n)))
        ctx.addIssue({ code: 'custom', path: [name], message: `name ${ISSUER_NAME_RULE}` });
    })
    .default({}),
});
export type ApiConfig = z.infer<typeof apiSchema>;

/**
 * Who among pipelines may request a resource: API tokens whose identity matches `token`, or ID
 * tokens of the `oidc` issuer whose claims match `claims`. With `autoApprove`, a matching
 * pipeline asking for at most `maxDuration` (and matching its extra `claims`) is approved
 * without a human; everything else goes to the approvers.
 */
export const pipelineRuleSchema = z
  .strictObject({
    token: z
      .string()
      .regex(/^[a-z*][a-z0-9*-]*:[A-Za-z0-9._@/*-]+$/, 'must be an identity like ci:deploy-bot')
      .optional(),
    oidc: issuerName.optional(),
    claims: claimPatterns.optional(),
    autoApprove: z
      .strictObject({
        maxDuration: duration,
        claims: claimPatterns.optional(),
      })
      .optional(),
  })
  .superRefine((rule, ctx) => {
    if ((rule.token === undefined) === (rule.oidc === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'name exactly one of `token` (an API token identity) or `oidc` (an issuer)',
      });
    }
    if (rule.oidc !== undefined && Object.keys(rule.claims ?? {}).length === 0) {
      // Anyone can get an ID token from a public CI with any audience: the claims say whose.
      ctx.addIssue({
        code: 'custom',
        path: ['claims'],
        message:
          'an oidc rule must pin at least one claim (e.g. repository: acme/app), or any pipeline on that CI would match',
      });
    }
    if (rule.token !== undefined && rule.claims !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['claims'],
        message: 'API tokens carry no claims; match them by `token` alone',
      });
    }
  });
export type PipelineRule = z.infer<typeof pipelineRuleSchema>;

/**
 * Claims that say whose pipeline a token is, on GitHub Actions and GitLab CI (for another CI, name
 * its own with `ownerClaims`). `ref`, `environment` or `workflow` alone are not: every repository
 * on that CI has a `main`. Nor is GitHub's `job_workflow_ref`: it names a reusable workflow, which
 * a repository of anyone may call.
 */
export const OWNER_CLAIMS = [
  'sub',
  'repository',
  'repository_owner',
  'repository_id',
  'repository_owner_id',
  'workflow_ref',
  'project_path',
  'project_id',
  'namespace_path',
  'namespace_id',
] as const;

/**
 * Whether a pattern fixes the owner: no `*`, or a `/` before the first one (`acme/*` names acme's
 * repositories; `acme*` also matches `acme-evil`, which anyone may register).
 */
function fixesOwner(pattern: string): boolean {
  const star = pattern.indexOf('*');
  return star === -1 || pattern.slice(0, star).includes('/');
}

/** Whether an oidc rule pins one of its issuer's owner claims so that no stranger matches it. */
function pinsOwner(claims: ClaimPatterns, owners: readonly string[]): boolean {
  return owners.some((name) => {
    const value = claims[name];
    if (value === undefined) return false;
    return (Array.isArray(value) ? value : [value]).every(fixesOwner);
  });
}

/** Cross-checks a resource's pipeline rules against the `api` section and its own bounds. */
export function pipelineRuleProblems(
  rules: readonly PipelineRule[],
  api: ApiConfig | undefined,
  maxDuration: number,
): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  rules.forEach((rule, i) => {
    const issuer = rule.oidc === undefined ? undefined : api?.oidc[rule.oidc];
    if (rule.oidc !== undefined && !issuer) {
      const known = Object.keys(api?.oidc ?? {}).join(', ') || 'none under api.oidc';
      problems.push({
        path: [i, 'oidc'],
        message: `unknown issuer "${rule.oidc}" (known: ${known})`,
      });
    }
    const owners = issuer?.ownerClaims ?? OWNER_CLAIMS;
    if (issuer && rule.claims && !pinsOwner(rule.claims, owners)) {
      problems.push({
        path: [i, 'claims'],
        message: `must pin whose pipeline it is: one of ${owners.join(', ')}, with the owner written out (acme/app or acme/*, not acme*), or a pipeline of anyone on that CI could match (another CI's owner claims go in api.oidc.${rule.oidc!}.ownerClaims)`,
      });
    }
    if (rule.autoApprove && rule.autoApprove.maxDuration > maxDuration) {
      problems.push({
        path: [i, 'autoApprove', 'maxDuration'],
        message: 'must be <= the resource maxDuration',
      });
    }
  });
  return problems;
}
