import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load';
import { BASE_CONFIG } from '../support/core';

function problemsOf(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected the configuration to be refused');
}

const EXAMPLE = join(__dirname, '..', '..', 'hallpass.example.yml');

describe('configuration', () => {
  it('accepts the example file with its secret from the environment', () => {
    const config = loadConfig(EXAMPLE, { OPS_HOOK_SECRET: 'x' });
    const db = config.resources.find((r) => r.id === 'prod-db-read')!;
    expect(db.maxDuration).toBe(4 * 3_600_000);
    expect(db.minDuration).toBe(5 * 60_000);
    expect(db.allowSelfApproval).toBe(false);
    expect(config.providers['ops-hook']).toMatchObject({ type: 'webhook', secret: 'x' });
  });

  it('names a missing environment variable', () => {
    expect(problemsOf(readFileSync(EXAMPLE, 'utf8'))).toEqual([
      'environment variable OPS_HOOK_SECRET is not set (referenced as ${OPS_HOOK_SECRET})',
    ]);
  });

  it('fills defaults', () => {
    const config = parseConfig(BASE_CONFIG, {});
    expect(config.sweeper.schedule).toBe('*/30 * * * * *');
    expect(config.timezone).toBe('UTC');
    const auto = config.resources.find((r) => r.id === 'auto')!;
    expect(auto.defaultDuration).toBe(3_600_000);
    expect(auto.maxTotalDuration).toBe(3_600_000);
  });

  it('gives one line per problem, naming the path', () => {
    const yaml = `
timezone: Mars/Olympus
requests: { approverChannel: CAPPROVALS, surprise: 1 }
providers: { hook: { type: webhook } }
resources:
  - id: ok-one
    name: One
    provider: hook
    maxDuration: 1h
    approvers: { users: [UAPPROVER1] }
  - id: ok-one
    name: Dup
    provider: nope
    maxDuration: 1h
    approvers: { users: [UAPPROVER1] }
  - id: Bad_Id
    name: Bad
    provider: hook
    minDuration: 2h
    maxDuration: 1h
    defaultDuration: 1x
    approvalsRequired: 1
`;
    expect(problemsOf(yaml).sort()).toEqual(
      [
        'timezone: is not an IANA time zone (e.g. UTC, Europe/Berlin)',
        'requests.surprise: unknown key',
        'resources[2].id: must match [a-z0-9][a-z0-9-]{1,62}',
        'resources[2].defaultDuration: "1x" is not a duration (use 90s, 30m, 4h, 1d, 1h30m)',
      ].sort(),
    );
    const second = problemsOf(
      yaml
        .replace('Mars/Olympus', 'UTC')
        .replace(', surprise: 1', '')
        .replace('Bad_Id', 'bad-id')
        .replace('1x', '1h'),
    );
    expect(second.sort()).toEqual(
      [
        'resources[1].id: duplicate id (also resources[0])',
        'resources[1].provider: unknown provider "nope" (known: hook)',
        'resources[2].maxDuration: must be >= minDuration',
        'resources[2].defaultDuration: must be between minDuration and maxDuration',
        'resources[2].approvers: must name at least one user, group or on-call source when approvalsRequired > 0',
      ].sort(),
    );
  });

  it('refuses a quorum larger than the listed approvers', () => {
    const yaml = BASE_CONFIG.replace(
      'approvers: { users: [UA1, UA2, UA3] }',
      'approvers: { users: [UA1] }',
    );
    expect(problemsOf(yaml)).toEqual([
      'resources[1].approvalsRequired: needs 2 approvers but only 1 are listed',
    ]);
  });

  it('refuses bad YAML and a missing file clearly', () => {
    expect(problemsOf('resources: [')[0]).toMatch(/^yaml: /);
    expect(() => loadConfig('/nonexistent/hallpass.yml', {})).toThrow(
      '/nonexistent/hallpass.yml: cannot read configuration (ENOENT)',
    );
  });

  it('refuses bad ids, cron and regex', () => {
    const yaml = BASE_CONFIG.replace('admins: [UADMIN]', 'admins: [admin]')
      .replace("ticketPattern: '^[A-Z]+-[0-9]+$'", "ticketPattern: '([A-Z'")
      .concat('sweeper: { schedule: "every minute" }\n');
    expect(problemsOf(yaml).sort()).toEqual(
      [
        'admins[0]: must be a Slack user id like U012ABCDEF',
        'resources[4].ticketPattern: is not a valid regular expression',
        'sweeper.schedule: is not a valid cron expression',
      ].sort(),
    );
  });

  it('refuses a ticket example its own pattern would refuse', () => {
    const yaml = BASE_CONFIG.replace(
      "ticketPattern: '^[A-Z]+-[0-9]+$'",
      (line) => `${line}\n    ticketExample: ops-7`,
    );
    expect(problemsOf(yaml)).toEqual([
      'resources[4].ticketExample: "ops-7" does not match ticketPattern ^[A-Z]+-[0-9]+$',
    ]);
    const good = yaml.replace('ticketExample: ops-7', 'ticketExample: OPS-7');
    expect(parseConfig(good, {}).resources[4]!.ticketExample).toBe('OPS-7');
  });
});
