import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../src/core/clock';
import { coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS, type StoreKind } from '../support/stores';
import { tempDir } from '../support/tmp';
import { cliEnv, runCli } from './run';

const T0 = Date.UTC(2026, 2, 3, 10, 0, 0); // Tuesday 3 March 2026
const DAY = 86_400_000;

const CONFIG = (approvers: string, selfApproval: boolean) => `
timezone: UTC
requests: { approverChannel: CAPPROVALS }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: prod-db
    name: Production <db>
    provider: hook
    maxDuration: 4h
    approvers: { users: [${approvers}], usergroups: [SDBA] }
    allowSelfApproval: ${selfApproval}
    requireTicket: true
    ticketPattern: '^OPS-[0-9]+$'
    requesters: { users: [UBOB, ULEAD] }
`;

describe.each(STORE_KINDS)('hallpass policy explain (%s)', (kind: StoreKind) => {
  let h: CoreHarness;
  const dir = tempDir();
  const configFile = join(dir.dir, 'hallpass.yml');
  afterAll(() => dir.cleanup());
  beforeEach(async () => {
    writeFileSync(configFile, CONFIG('ULEAD, UBOB', true));
    h = await coreHarness(CONFIG('ULEAD, UBOB', true), {}, kind);
    h.clock.set(T0);
  });
  afterEach(() => h.close());

  const explain = (args: string[], at = T0 + 60 * DAY) =>
    runCli(
      ['policy', 'explain', ...args],
      cliEnv(h.location, { HALLPASS_CONFIG: configFile }),
      new ManualClock(at),
    );

  it('says what /jit explain says, as plain text, and exits 1 when a rule stops the person', async () => {
    const bob = await explain(['--user', 'UBOB', '--resource', 'prod-db']);
    expect(bob.code).toBe(0);
    expect(bob.stdout).toBe(
      [
        'Production <db> (`prod-db`) for UBOB, as of Sat 2 May 2026 10:00 UTC',
        'yes: May request it.',
        'Who may request: UBOB or ULEAD',
        'Duration: 5m to 4h (default 1h), at most 4h in all with extensions',
        'Ticket: required, matching `^OPS-[0-9]+$`',
        'Who decides: 1 approval from ULEAD, UBOB or members of SDBA, in #CAPPROVALS',
        '  Now that is: ULEAD, UBOB; SDBA: unknown (the CLI does not ask Slack)',
        '  You are an approver (listed by name); you may approve your own requests',
        'Auto-approval: none; every request waits for a decision',
        '',
      ].join('\n'),
    );
    const eve = await explain(['--user', 'UEVE', '--resource', 'prod-db']);
    expect(eve.code).toBe(1);
    expect(eve.stdout).toContain(
      'NO: Cannot request it (rule: `requesters`): You are not allowed to request prod-db (only UBOB or ULEAD may). Ask in #CAPPROVALS if you think you should be.',
    );
    expect(eve.stdout).toContain(
      'Whether you are an approver cannot be verified (the CLI does not ask Slack).',
    );
  });

  it('--as-of answers "could Bob have self-approved on 3 March?" from the rules recorded then', async () => {
    await h.core.createRequest({
      requester: 'UBOB',
      resourceId: 'prod-db',
      duration: '1h',
      justification: 'rotating the replica keys',
      ticket: 'OPS-1',
    });
    // Later the file changed: Bob is no approver any more and self-approval is off.
    writeFileSync(configFile, CONFIG('ULEAD', false));
    h.clock.set(T0 + 10 * DAY);
    await h.withConfig(CONFIG('ULEAD', false)).createRequest({
      requester: 'ULEAD',
      resourceId: 'prod-db',
      duration: '1h',
      justification: 'rotating the replica keys',
      ticket: 'OPS-2',
    });

    const then = await explain([
      '--user',
      'UBOB',
      '--resource',
      'prod-db',
      '--as-of',
      '2026-03-03T18:00Z',
    ]);
    expect(then.code).toBe(0);
    expect(then.stdout).toContain('for UBOB, on Tue 3 Mar 2026 18:00 UTC');
    expect(then.stdout).toMatch(
      /Rules as recorded by req_\w+ on Tue 3 Mar 2026 10:00, the last request filed on or before then\. The next request \(req_\w+, Fri 13 Mar 2026 10:00\) recorded different rules\./,
    );
    expect(then.stdout).toContain(
      'You are an approver (listed by name); you may approve your own requests',
    );
    expect(then.stdout).not.toContain('Now that is');

    const now = await explain(['--user', 'UBOB', '--resource', 'prod-db']);
    expect(now.stdout).toContain(
      'Whether you are an approver cannot be verified (the CLI does not ask Slack).',
    );
    expect(now.stdout).toContain('Who decides: 1 approval from ULEAD or members of SDBA');

    const before = await explain([
      '--user',
      'UBOB',
      '--resource',
      'prod-db',
      '--as-of',
      '2026-03-01',
    ]);
    expect(before).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'hallpass: No request for prod-db was filed on or before 2026-03-01 00:00 UTC with its rules recorded, so Hallpass holds no record of what they were then.\n',
    });
  });

  it('names a missing option as a usage error', async () => {
    const result = await explain(['--user', 'UBOB']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('policy explain: --user and --resource are required');
  });
});

const PIPELINES = `
timezone: UTC
requests: { approverChannel: CAPPROVALS }
api:
  oidc:
    gitlab: { issuer: 'https://gitlab.example.com', audience: hallpass }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: deploy
    name: Deploys
    provider: hook
    maxDuration: 2h
    approvers: { users: [ULEAD] }
    requesters: { users: [UENG] }
    pipelines:
      - token: 'ci:deploy-*'
        autoApprove: { maxDuration: 30m }
      - oidc: gitlab
        claims: { project_path: [acme/app, acme/infra] }
        autoApprove: { maxDuration: 15m, claims: { ref: main } }
  - { id: sandbox, name: Sandbox, provider: hook, maxDuration: 1h, approvers: { users: [ULEAD] } }
`;

describe.each(STORE_KINDS)('hallpass policy explain for a pipeline (%s)', (kind: StoreKind) => {
  let h: CoreHarness;
  const dir = tempDir();
  const configFile = join(dir.dir, 'hallpass.yml');
  afterAll(() => dir.cleanup());
  beforeEach(async () => {
    writeFileSync(configFile, PIPELINES);
    h = await coreHarness(PIPELINES, {}, kind);
    h.clock.set(T0);
  });
  afterEach(() => h.close());

  const explain = (user: string, ...more: string[]) =>
    runCli(
      ['policy', 'explain', '--user', user, '--resource', 'deploy', ...more],
      cliEnv(h.location, { HALLPASS_CONFIG: configFile }),
      new ManualClock(T0),
    );
  const token = async (identity: string, resources: string[]) =>
    (await h.core.pipelines.createToken({ identity, resources, actor: 'cli:ops' })).info.id;

  const RULES = [
    'Pipelines that may request it: those a `pipelines` rule names (people’s rules never let a pipeline in)',
  ];
  const TAIL = [
    'Duration: 5m to 2h (default 1h), at most 2h in all with extensions',
    'Ticket: optional',
    'Who decides: 1 approval from ULEAD, in #CAPPROVALS',
    '  Now that is: ULEAD',
    '  Pipelines never decide requests.',
    '',
  ];

  it('answers an API token identity from the pipelines rules and its live tokens, not the people rules', async () => {
    const bound = await token('ci:deploy-web', ['deploy']);
    const other = await token('ci:deploy-web', ['sandbox']);
    await token('ci:deploy-api', ['deploy']);
    const revoked = await token('ci:deploy-web', ['deploy']);
    await h.core.pipelines.revokeToken(revoked, 'cli:ops');

    expect(await explain('ci:deploy-web')).toEqual({
      code: 0,
      stdout: [
        'Deploys (`deploy`) for pipeline `ci:deploy-web`, as of Tue 3 Mar 2026 10:00 UTC',
        'yes: May request it.',
        ...RULES,
        '  1. API tokens of `ci:deploy-*`: names it; approved at once for up to 30m: applies',
        '  2. ID tokens of gitlab with project_path acme/app or acme/infra: does not name it; approved at once for up to 15m when also ref main: does not apply',
        `Its API tokens: bound to deploy: ${bound}; not bound to it: ${other}`,
        ...TAIL,
      ].join('\n'),
      stderr: '',
    });
  });

  it('says which rule stops a pipeline: none names it, or no live token of it is bound', async () => {
    const unnamed = await explain('ci:release-bot');
    expect(unnamed.code).toBe(1);
    expect(unnamed.stdout).toContain(
      'NO: Cannot request it (rule: `pipelines`): ci:release-bot may not request deploy: no `pipelines` rule of the resource matches it.',
    );
    await token('ci:deploy-web', ['sandbox']);
    const unbound = await explain('ci:deploy-web');
    expect(unbound.code).toBe(1);
    expect(unbound.stdout).toContain(
      'NO: Cannot request it (rule: `token`): No live API token of ci:deploy-web is bound to deploy. Create one with `hallpass tokens create --identity ci:deploy-web --resource deploy`.',
    );
  });

  it('tells an ID token identity what depends on its claims, and refuses one whose issuer no rule names', async () => {
    const gitlab = await explain('oidc:gitlab:project_path:acme/app:ref_type:branch:ref:main');
    expect(gitlab.code).toBe(0);
    expect(gitlab.stdout).toContain(
      'maybe: May request it if the claims of its ID token match a rule below.',
    );
    expect(gitlab.stdout).toContain(
      '  2. ID tokens of gitlab with project_path acme/app or acme/infra: it depends on the claims of the ID token the pipeline presents; approved at once for up to 15m when also ref main: it depends on the claims of the ID token the pipeline presents',
    );
    expect(gitlab.stdout).not.toContain('Its API tokens');
    const github = await explain('oidc:github:repo:acme/app');
    expect(github.code).toBe(1);
    expect(github.stdout).toContain('no `pipelines` rule of the resource names its issuer');
  });

  it('refuses a past moment for a pipeline: requests do not record the pipelines rules', async () => {
    const then = await explain('ci:deploy-web', '--as-of', '2026-03-01');
    expect(then.code).toBe(1);
    expect(then.stderr).toContain(
      'Requests record the rules for people, not the `pipelines` rules, so Hallpass holds no record of what they said to ci:deploy-web then.',
    );
  });
});
