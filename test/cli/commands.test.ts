import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildDigest } from '../../src/audit/digest';
import { digestText } from '../../src/audit/digest-render';
import { chainEvent } from '../../src/core/audit';
import { USAGE } from '../../src/cli/usage';
import { fixtureWeek, PERIOD, WEEK_CONFIG, type FixtureWeek } from '../audit/fixture-week';
import { coreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';
import { tempDir } from '../support/tmp';
import { cliEnv, runCli } from './run';

const ROOT = join(__dirname, '..', '..');
const EXAMPLE = join(ROOT, 'hallpass.example.yml');

describe('hallpass policy check', () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());
  const file = (name: string, text: string) => {
    const path = join(dir.dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('says ok with the counts for a good file', async () => {
    const result = await runCli(['policy', 'check', EXAMPLE], {
      OPS_HOOK_SECRET: 'a-long-enough-secret',
    });
    expect(result).toEqual({ code: 0, stdout: 'ok: 2 resources, 2 providers\n', stderr: '' });
  });

  it('reads HALLPASS_CONFIG when no file is named', async () => {
    const result = await runCli(['policy', 'check'], {
      HALLPASS_CONFIG: EXAMPLE,
      OPS_HOOK_SECRET: 'a-long-enough-secret',
    });
    expect(result.stdout).toBe('ok: 2 resources, 2 providers\n');
  });

  it('passes the example without its secrets, warning that the bot needs them', async () => {
    const result = await runCli(['policy', 'check', EXAMPLE], {});
    expect(result).toEqual({
      code: 0,
      stdout: 'ok: 2 resources, 2 providers\n',
      stderr:
        'warning: environment variable OPS_HOOK_SECRET is not set here; the bot will not start without it\n',
    });
  });

  it('prints one line per problem and exits 1; an unset variable is only a warning', async () => {
    const bad = file(
      'bad.yml',
      `requests: { approverChannel: CAPPROVALS, colour: blue }
providers: { hook: { type: webhook, url: 'http://127.0.0.1:9/x', secret: '\${HOOK_SECRET}' } }
resources:
  - { id: db, name: DB, provider: hook, maxDuration: 1h, minDuration: 2h, approvalsRequired: 0 }
`,
    );
    const result = await runCli(['policy', 'check', bad], {});
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('warning: environment variable HOOK_SECRET is not set here');
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      'requests.colour: unknown key',
      'resources[0].maxDuration: must be >= minDuration',
      'resources[0].defaultDuration: must be between minDuration and maxDuration',
    ]);
  });

  it('checks provider settings and targets too', async () => {
    const bad = file(
      'providers.yml',
      `requests: { approverChannel: CAPPROVALS }
providers:
  hook: { type: webhook, url: 'not a url', secret: short }
  other: { type: carrier-pigeon }
resources:
  - { id: db, name: DB, provider: hook, maxDuration: 1h, approvalsRequired: 0 }
`,
    );
    const result = await runCli(['policy', 'check', bad], {});
    expect(result.code).toBe(1);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toContain(
      'providers.other.type: unknown provider type "carrier-pigeon" (known: webhook, command, postgres, slack-channel, aws-identity-center, gcp-iam, okta-group, kubernetes, ldap-group, module)',
    );
    expect(lines.some((l) => l.startsWith('providers.hook.url:'))).toBe(true);
    expect(lines.some((l) => l.startsWith('providers.hook.secret:'))).toBe(true);
  });

  it('names a file it cannot read', async () => {
    const missing = join(dir.dir, 'missing.yml');
    const result = await runCli(['policy', 'check', missing], {});
    expect(result).toEqual({
      code: 1,
      stdout: `${missing}: cannot read configuration (ENOENT)\n`,
      stderr: '',
    });
  });
});

// The CLI opens whichever store the environment names: every command group runs on both.
describe.each(STORE_KINDS)('hallpass commands on a real week (%s)', (kind) => {
  let w: FixtureWeek;
  let env: NodeJS.ProcessEnv;
  const dir = tempDir();
  beforeAll(async () => {
    w = await fixtureWeek(kind);
    const config = join(dir.dir, 'hallpass.yml');
    writeFileSync(config, WEEK_CONFIG);
    env = cliEnv(w.location, { HALLPASS_CONFIG: config });
  });
  afterAll(async () => {
    await w.close();
    dir.cleanup();
  });

  it('tells the story of a grant, its extension included, in order', async () => {
    const id = w.grants.r6!;
    const result = await runCli(['audit', 'show', id], env);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`Grant ${id}: UENG on quorum via hook, 3h; now revoked, expired`);
    const rest = lines.slice(1).map((l) => l.replace(/\s+/g, ' '));
    expect(rest).toEqual([
      '2026-10-21T12:00:00.000Z UENG UENG requested quorum for 1h: "investigating INC-42 slow queries"',
      '2026-10-21T12:10:00.000Z UA1 UA1 approved (1 of 2 needed)',
      '2026-10-21T12:30:00.000Z UA2 UA2 approved (2 of 2 needed)',
      '2026-10-21T12:30:00.000Z UA2 request approved, quorum reached with UA2',
      '2026-10-21T12:30:00.000Z hallpass grant created for provider hook, 1h',
      '2026-10-21T12:31:00.000Z hallpass provider grant ok (attempt 1, 40 ms): access from 2026-10-21T12:31:00.000Z until 2026-10-21T14:31:00.000Z',
      '2026-10-21T13:00:00.000Z UENG UENG asked to extend the grant by 1h: "investigating INC-42 slow queries"',
      '2026-10-21T13:05:00.000Z UA1 UA1 approved (1 of 2 needed)',
      '2026-10-21T13:45:00.000Z UA3 UA3 approved (2 of 2 needed)',
      '2026-10-21T13:45:00.000Z UA3 request approved, quorum reached with UA3',
      '2026-10-21T13:45:00.000Z hallpass extended: now ends 2026-10-21T15:31:00.000Z instead of 2026-10-21T14:31:00.000Z',
      '2026-10-21T15:31:00.000Z hallpass time up (expired 2026-10-21T15:31:00.000Z); revoking',
      '2026-10-21T15:31:01.000Z hallpass access ended because its time was up: provider revoke ok (attempt 1), 1s after expiry',
    ]);
  });

  it('shows failed provider calls in the story', async () => {
    const result = await runCli(['audit', 'show', w.grants.r9!], env);
    expect(result.stdout).toContain(
      'provider revoke failed (attempt 3): "revoke: connection refused"; next try',
    );
    const failed = await runCli(['audit', 'show', w.grants.r7!], env);
    expect(failed.stdout).toContain(
      'activation gave up after 5 attempts: "grant: provider says no"',
    );
  });

  it('says so for an unknown grant', async () => {
    expect(await runCli(['audit', 'show', 'gr_nope'], env)).toEqual({
      code: 1,
      stdout: '',
      stderr: 'hallpass: no grant gr_nope (hallpass grants list shows them)\n',
    });
  });

  it('lists grants as a table, filtered', async () => {
    const active = await runCli(['grants', 'list', '--active'], env);
    const lines = active.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /^GRANT\s+USER\s+RESOURCE\s+STATUS\s+STARTED\s+ENDS\/ENDED\s+END REASON$/,
    );
    expect(lines.slice(1).map((l) => l.split(/\s+/).slice(1, 4))).toEqual([
      ['URND', 'auto', 'activating'],
      ['UENG', 'auto', 'active'],
      ['UREQ', 'prod-db', 'revoking'],
    ]);
    const some = await runCli(
      [
        'grants',
        'list',
        '--user',
        'UREQ',
        '--user',
        'UENG',
        '--resource',
        'quorum',
        '--resource',
        'self-ok',
      ],
      env,
    );
    expect(
      some.stdout
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual([w.grants.r6, w.grants.r5]);
    const limited = await runCli(['grants', 'list', '--limit', '2'], env);
    expect(limited.stdout.trimEnd().split('\n').pop()).toBe('…and 10 more (raise --limit)');
    expect((await runCli(['grants', 'list', '--user', 'UNOBODY'], env)).stdout).toBe(
      'no grants match\n',
    );
    expect((await runCli(['grants', 'list', '--limit', '0'], env)).code).toBe(2);
  });

  it('prints the digest of the last 7 days as text', async () => {
    w.clock.set(PERIOD.end);
    const result = await runCli(['digest', '--print'], env, w.clock);
    expect(result.code).toBe(0);
    const digest = await buildDigest(w.store, w.config, PERIOD, PERIOD.end);
    expect(digest.requests.filed).toBe(14);
    expect(result.stdout).toBe(digestText(digest));
    // A week's few rows verify at once: progress is for runs of 100,000 rows and more.
    expect(result.stderr).toBe('');
    expect((await runCli(['digest'], env)).code).toBe(2);
  });
});

describe.each(STORE_KINDS)('hallpass grants revoke (%s)', (kind) => {
  it('ends a grant from the CLI, audited as the OS user, for the sweeper to finish', async () => {
    const w = await fixtureWeek(kind);
    const dir = tempDir();
    try {
      const config = join(dir.dir, 'hallpass.yml');
      writeFileSync(config, WEEK_CONFIG);
      const env = cliEnv(w.location, { HALLPASS_CONFIG: config });
      const id = w.grants.r14!;
      const actor = `cli:${userInfo().username}`;

      const missing = await runCli(['grants', 'revoke', id], env);
      expect(missing.code).toBe(2);
      expect(missing.stderr.split('\n')[0]).toBe(
        'hallpass: grants revoke: --reason is required (it goes into the audit log)',
      );

      const result = await runCli(
        ['grants', 'revoke', id, '--reason', 'Slack is down; INC-77'],
        env,
        w.clock,
      );
      expect(result.code).toBe(0);
      expect(result.stdout).toBe(
        `${id} (UENG on auto) is now revoking, requested by ${actor}.\n` +
          'The running bot takes the access away at the provider and confirms it (if the bot is down, it does so when it starts).\n' +
          `Follow it with: hallpass audit show ${id}\n`,
      );
      const grant = await w.sql.get(
        'SELECT status, end_reason, ended_by, end_note FROM grants WHERE id = ?',
        id,
      );
      expect(grant).toEqual({
        status: 'revoking',
        end_reason: 'revoked_by_admin',
        ended_by: actor,
        end_note: 'Slack is down; INC-77',
      });
      const events = await w.sql.all<{ actor: string; details: string }>(
        "SELECT actor, details FROM audit_events WHERE grant_id = ? AND action = 'grant.revoke_requested'",
        id,
      );
      expect(events).toHaveLength(1);
      const event = events[0]!;
      expect(event.actor).toBe(actor);
      expect(JSON.parse(event.details)).toMatchObject({ via: 'cli', reason: 'revoked_by_admin' });

      const again = await runCli(['grants', 'revoke', id, '--reason', 'twice'], env, w.clock);
      expect(again).toEqual({
        code: 0,
        stdout: `${id} is already revoking; nothing to do\n`,
        stderr: '',
      });

      const unknown = await runCli(['grants', 'revoke', 'gr_nope', '--reason', 'x'], env, w.clock);
      expect(unknown).toMatchObject({
        code: 1,
        stderr: 'hallpass: no grant gr_nope (hallpass grants list shows them)\n',
      });

      const noConfig = await runCli(
        ['grants', 'revoke', id, '--reason', 'x'],
        cliEnv(w.location, { HALLPASS_CONFIG: join(dir.dir, 'missing.yml') }),
      );
      expect(noConfig.code).toBe(1);
      expect(noConfig.stderr).toContain('cannot read configuration (ENOENT)');
    } finally {
      await w.close();
      dir.cleanup();
    }
  });
});

describe('hallpass usage', () => {
  it('prints the usage for help (exit 0) and for no command (a usage error, exit 2)', async () => {
    expect(await runCli(['help'], {})).toEqual({ code: 0, stdout: USAGE, stderr: '' });
    expect(await runCli([], {})).toEqual({ code: 2, stdout: '', stderr: USAGE });
  });

  it('names an unknown command', async () => {
    expect(await runCli(['audit', 'delete'], {})).toEqual({
      code: 2,
      stdout: '',
      stderr: `hallpass: unknown command "audit delete"\n${USAGE}`,
    });
  });

  it('refuses extra arguments', async () => {
    const result = await runCli(['audit', 'verify', 'now'], {});
    expect(result.code).toBe(2);
    expect(result.stderr.split('\n')[0]).toBe(
      'hallpass: audit verify: unexpected argument(s): now',
    );
  });
});

describe('progress on long runs', () => {
  it('reports every 100,000 rows on stderr while verifying and exporting', async () => {
    const h = await coreHarness();
    try {
      await h.store.change(async (tx) => {
        let head = await tx.audit.head();
        const rows = [];
        for (let i = 0; i < 100_001; i++) {
          const row = chainEvent(head, i, {
            actor: 'UBULK',
            action: 'notification.failed',
            details: { i },
          });
          rows.push(row);
          head = row;
        }
        await tx.audit.append(rows);
      });
      const env = cliEnv(h.location);
      const verify = await runCli(['audit', 'verify'], env);
      expect(verify.stdout).toMatch(/^ok: 100,001 rows checked;/);
      const exported = await runCli(['audit', 'export', '--format', 'jsonl'], env);
      expect(exported.stderr).toBe('exported 100,000 events…\n');
      expect(exported.stdout.split('\n')).toHaveLength(100_002);
      expect(verify.stderr).toBe('verified 100,000 rows…\n');
    } finally {
      await h.close();
    }
  });
});

describe('the entry point', () => {
  it('runs as a program and exits with the command’s code', async () => {
    const h = await coreHarness();
    const run = promisify(execFile);
    const tsx = join(ROOT, 'node_modules', '.bin', 'tsx');
    try {
      const ok = await run(tsx, ['src/cli/main.ts', 'audit', 'verify'], {
        cwd: ROOT,
        env: { ...process.env, HALLPASS_DB: h.location.file },
      });
      expect(ok.stdout).toBe('ok: 0 rows checked\n');
      await expect(
        run(tsx, ['src/cli/main.ts', 'audit', 'verify'], {
          cwd: ROOT,
          env: { ...process.env, HALLPASS_DB: join(h.location.file, '..', 'missing.db') },
        }),
      ).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('no database at') });
    } finally {
      await h.close();
    }
  });
});
