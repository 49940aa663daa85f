import { OWNER_CLAIMS } from '../../src/config/api';
import { ConfigError, parseConfig } from '../../src/config/load';

const config = (api: string, pipelines: string) => `
requests: { approverChannel: CAPPROVALS }
${api}
providers: { hook: { type: webhook, url: 'http://127.0.0.1:9/x', secret: s3cret-value } }
resources:
  - id: deploy
    name: Deploys
    provider: hook
    maxDuration: 1h
    approvers: { users: [ULEAD] }
    pipelines:
${pipelines}
`;

const GITHUB = `api:
  oidc:
    github: { issuer: 'https://token.actions.githubusercontent.com', audience: hallpass }`;

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, {});
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('api and pipelines configuration', () => {
  it('takes the documented example, with defaults for what is left out', () => {
    const parsed = parseConfig(
      config(
        GITHUB,
        `      - token: ci:deploy-bot
      - oidc: github
        claims: { repository: acme/app, ref: [refs/heads/main, 'refs/tags/v*'] }
        autoApprove: { maxDuration: 15m, claims: { workflow: deploy } }`,
      ),
      {},
    );
    expect(parsed.api).toEqual({
      rateLimit: { requests: 60, per: 60_000 },
      maxWait: 300_000,
      oidc: {
        github: {
          issuer: 'https://token.actions.githubusercontent.com',
          audience: 'hallpass',
          clockSkew: 60_000,
          identityClaim: 'sub',
        },
      },
    });
    expect(parsed.resources[0]!.pipelines[1]!.autoApprove!.maxDuration).toBe(900_000);
  });

  it('says exactly what is wrong with each rule', () => {
    expect(
      problems(
        config(
          GITHUB,
          `      - oidc: github
      - oidc: gitlab
        claims: { project_path: acme/app }
      - token: ci:bot
        oidc: github
        claims: { repository: acme/app }
      - oidc: github
        claims: { repository: '*' }
      - token: ci:bot
        autoApprove: { maxDuration: 2h }
      - token: Deploy Bot`,
        ),
      ),
    ).toEqual([
      'resources[0].pipelines[0].claims: an oidc rule must pin at least one claim (e.g. repository: acme/app), or any pipeline on that CI would match',
      'resources[0].pipelines[2]: name exactly one of `token` (an API token identity) or `oidc` (an issuer)',
      'resources[0].pipelines[2].claims: API tokens carry no claims; match them by `token` alone',
      'resources[0].pipelines[3].claims.repository: must not match everything (pin a value)',
      'resources[0].pipelines[5].token: must be an identity like ci:deploy-bot',
      'resources[0].pipelines[1].oidc: unknown issuer "gitlab" (known: github)',
      `resources[0].pipelines[3].claims: must pin whose pipeline it is: one of ${OWNER_CLAIMS.join(', ')}, with the owner written out (acme/app or acme/*, not acme*), or a pipeline of anyone on that CI could match (another CI's owner claims go in api.oidc.github.ownerClaims)`,
      'resources[0].pipelines[4].autoApprove.maxDuration: must be <= the resource maxDuration',
    ]);
    expect(
      problems(
        config(
          GITHUB,
          `      - oidc: gitlab
        claims: { project_path: acme/app }
      - token: ci:bot
        autoApprove: { maxDuration: 2h }`,
        ),
      ),
    ).toEqual([
      'resources[0].pipelines[0].oidc: unknown issuer "gitlab" (known: github)',
      'resources[0].pipelines[1].autoApprove.maxDuration: must be <= the resource maxDuration',
    ]);
  });

  it('refuses an oidc rule that does not say whose pipeline it is, which anyone on the CI could match', () => {
    const owner = (i: number, issuer = 'github', owners = OWNER_CLAIMS.join(', ')) =>
      `resources[0].pipelines[${i}].claims: must pin whose pipeline it is: one of ${owners}, with the owner written out (acme/app or acme/*, not acme*), or a pipeline of anyone on that CI could match (another CI's owner claims go in api.oidc.${issuer}.ownerClaims)`;
    expect(
      problems(
        config(
          GITHUB,
          `      - oidc: github
        claims: { ref: refs/heads/main }
      - oidc: github
        claims: { environment: production, workflow: deploy }
      - oidc: github
        claims: { repository: 'acme*' }
      - oidc: github
        claims: { repository_owner: 'acme*', ref: refs/heads/main }
      - oidc: github
        claims: { repository: [acme/app, '*/app'] }
      - oidc: github
        claims: { sub: '*:environment:production' }
      - oidc: github
        claims: { job_workflow_ref: 'acme/shared/.github/workflows/deploy.yml@refs/heads/main' }`,
        ),
      ),
    ).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => owner(i)));
    expect(
      problems(
        config(
          GITHUB,
          `      - oidc: github
        claims: { repository: 'acme/*', ref: refs/heads/main }
      - oidc: github
        claims: { repository_owner: acme }
      - oidc: github
        claims: { sub: 'repo:acme/app:*' }
      - oidc: github
        claims: { repository: [acme/app, 'acme/infra-*'] }`,
        ),
      ),
    ).toEqual([]);
    const custom = `api:
  oidc:
    ci: { issuer: 'https://ci.example.com', audience: hallpass, ownerClaims: [project] }`;
    expect(
      problems(
        config(
          custom,
          `      - oidc: ci
        claims: { project: acme/prod }
      - oidc: ci
        claims: { repository: acme/app }`,
        ),
      ),
    ).toEqual([owner(1, 'ci', 'project')]);
  });

  it('checks the issuers', () => {
    expect(
      problems(
        config(
          `api:
  maxWait: soon
  oidc:
    GitHub: { issuer: not-a-url, audience: '' }`,
          '      - token: ci:bot',
        ),
      ),
    ).toEqual([
      'api.maxWait: "soon" is not a duration (use 90s, 30m, 4h, 1d, 1h30m)',
      'api.oidc.GitHub.issuer: must be the issuer URL the ID tokens carry in `iss`',
      'api.oidc.GitHub.audience: Too small: expected string to have >=1 characters',
      'api.oidc.GitHub: name must match [a-z][a-z0-9-]{0,30} (e.g. github, gitlab)',
    ]);
  });
});
