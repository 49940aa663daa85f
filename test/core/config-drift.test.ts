import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { webApi } from '@slack/bolt';
import { Core, DomainError, type GrantRow, type ProviderPlaces } from '../../src/core';
import { StaticDirectory } from '../../src/core/directory';
import { logger } from '../../src/log';
import { providerPlaces } from '../../src/providers/registry';
import { Sealer } from '../../src/secrets/seal';
import { OutboxDispatcher } from '../../src/slack/delivery/dispatcher';
import { cliEnv, runCli } from '../cli/run';
import { coreHarness, type CoreHarness } from '../support/core';
import { FakeSlack } from '../support/fake-slack';
import { grantLine } from '../../src/slack/ui/status-lines';
import { BotProcess } from '../support/process';
import { STORE_KINDS } from '../support/stores';
import { tempDir } from '../support/tmp';

/**
 * Issue #9, item 10: a configuration that no longer covers live grants. A grant whose provider
 * instance is gone cannot be revoked: the bot refuses to start until the provider is back or
 * the grant is closed by hand (`stranded`, never "revoked"). A grant whose resource is gone is
 * only a warning: it still ends through the provider recorded on it.
 */

const JUST = 'investigating INC-42 slow queries';
const SECRET = 'a-long-enough-hook-secret';
const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

const HOOK = `  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: ${SECRET} }`;
const OTHER = `  other: { type: webhook, url: 'http://127.0.0.1:9/other', secret: ${SECRET} }`;
const PROD_DB = `
  - id: prod-db
    name: Production database
    provider: hook
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    approverChannel: CDBA`;
const AUTO = `
  - id: auto
    name: Auto approved
    provider: hook
    maxDuration: 1h
    approvalsRequired: 0`;
const ELSEWHERE = `
  - id: elsewhere
    name: Another system
    provider: other
    maxDuration: 1h
    approvers: { users: [ULEAD] }`;

function yaml(providers: string[], resources: string[]): string {
  return `timezone: UTC
admins: [UADMIN]
requests:
  approverChannel: CAPPROVALS
providers:
${providers.join('\n')}
resources:${resources.join('')}
`;
}

/** What the grants were made under. */
const FULL = yaml([HOOK, OTHER], [PROD_DB, AUTO, ELSEWHERE]);
/** providers.hook dropped (and every resource that used it). */
const NO_HOOK = yaml([OTHER], [ELSEWHERE]);
/** providers.hook pointed at another receiver. */
const MOVED_HOOK = yaml([HOOK.replace('/hook', '/new-hook'), OTHER], [PROD_DB, AUTO, ELSEWHERE]);
/** Resource prod-db dropped; its provider stays. */
const NO_PROD_DB = yaml([HOOK, OTHER], [AUTO, ELSEWHERE]);

/** Provider instances configured by name, where they point not known (nothing compared). */
function configured(...names: string[]): ProviderPlaces {
  return new Map(names.map((name) => [name, undefined]));
}

function unrevocableLine(grant: GrantRow, status: string): string {
  return `grant ${grant.id} (${grant.userId} on ${grant.resourceId}, ${status}) was granted through provider "hook", which is no longer configured: keep providers.hook until it ends, or close it by hand with \`hallpass grants close ${grant.id} --reason "…"\` and remove the access yourself`;
}

function movedLine(grant: GrantRow): string {
  return `grant ${grant.id} (${grant.userId} on ${grant.resourceId}, active) was granted through provider "hook", whose providers.hook.url changed since (it now points elsewhere): keep providers.hook as it was until the grant ends (configure the new place as a provider of its own and point the resources at it), or close it by hand with \`hallpass grants close ${grant.id} --reason "…"\` and remove the access yourself`;
}

/** Delivers the outbox with `core` to FakeSlack, as the bot would. */
async function deliver(h: CoreHarness, core: Core, fake: FakeSlack): Promise<void> {
  const dispatcher = new OutboxDispatcher({
    clock: h.clock,
    client: new webApi.WebClient('xoxb-test', {
      slackApiUrl: fake.url,
      retryConfig: { retries: 0 },
      logLevel: webApi.LogLevel.ERROR,
    }),
    sealer: new Sealer('test-sealing-secret'),
    core,
    logger,
    options: { random: () => 0.5 },
  });
  try {
    await dispatcher.drain();
  } finally {
    await dispatcher.stop();
  }
}

/**
 * Runs src/main.ts as `npm start` would (through tsx), until it exits on its own; one still
 * running after 25 s (it started when it should not have) is killed with tsx's whole group.
 */
function runBot(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, [join(ROOT, 'src', 'main.ts')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
      detached: true,
    });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 25_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe.each(STORE_KINDS)('configuration drift (%s)', (kind) => {
  let h: CoreHarness;
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(async () => {
    h = await coreHarness(FULL, {}, kind);
    tmp = tempDir();
  });
  afterEach(async () => {
    await BotProcess.killAll();
    await h.close();
    tmp.cleanup();
  });

  const configFile = (name: string, text: string) => {
    const path = join(tmp.dir, name);
    writeFileSync(path, text);
    return path;
  };

  /** The environment of a bot on the harness's database, `file` and `fake` Slack. */
  const botEnv = (file: string, fake: FakeSlack): Record<string, string> => ({
    ...(cliEnv(h.location) as Record<string, string>),
    HALLPASS_CONFIG: file,
    SLACK_BOT_TOKEN: 'xoxb-drift',
    SLACK_SIGNING_SECRET: 'drift-signing-secret',
    SLACK_API_URL: fake.url,
    PORT: '0',
    HOST: '127.0.0.1',
  });

  /**
   * A grant of `resourceId` to `userId`, active for an hour unless `activating`; made by `core`,
   * which records where the provider instances point only when given them (`placedCore`).
   */
  async function grant(resourceId: string, userId = 'UREQ', activating = false, core = h.core) {
    const req = await core.createRequest({
      requester: userId,
      resourceId,
      duration: '1h',
      justification: JUST,
    });
    if (req.status === 'pending')
      await core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
    const row = (await h.store.grants.byRequest(req.id))!;
    if (activating) return row;
    const now = h.clock.now();
    await h.core.lifecycle.activated(row.id, {
      startsAt: now,
      expiresAt: now + 3_600_000,
      state: undefined,
      elapsedMs: 1,
    });
    return (await h.core.grant(row.id))!;
  }

  /** A core that records on each grant where its provider instance points under FULL. */
  async function placedCore(): Promise<Core> {
    return new Core({
      store: h.store,
      clock: h.clock,
      config: h.config,
      directory: new StaticDirectory(),
      providerPlaces: await providerPlaces(h.config, tmp.dir),
    });
  }

  describe('in the core', () => {
    it('names each live grant whose provider is gone, and each gone resource once', async () => {
      const active = await grant('prod-db');
      const second = await grant('prod-db', 'UENG');
      const activating = await grant('auto', 'UREQ', true);
      // An ended grant on the same provider is no problem.
      const ended = await grant('prod-db', 'UOLD');
      await h.core.revokeGrant({ grantId: ended.id, actor: 'UOLD', reason: 'done' });
      await h.core.lifecycle.revoked([{ grantId: ended.id }]);
      expect((await h.core.grant(ended.id))!.status).toBe('revoked');

      const gone = await h.core.checkLiveGrants(configured('other'));
      expect(gone.orphaned).toEqual([]);
      expect([...gone.unrevocable].sort()).toEqual(
        [
          unrevocableLine(active, 'active'),
          unrevocableLine(second, 'active'),
          unrevocableLine(activating, 'activating'),
        ].sort(),
      );

      const drifted = await h.withConfig(NO_PROD_DB).checkLiveGrants(configured('hook', 'other'));
      expect(drifted.unrevocable).toEqual([]);
      const ids = [active.id, second.id].sort();
      const listed = /\(([^)]*)\)/
        .exec(drifted.orphaned[0] ?? '')?.[1]
        ?.split(', ')
        .sort();
      expect(listed).toEqual(ids);
      expect(drifted.orphaned).toHaveLength(1);
      expect(drifted.orphaned[0]).toMatch(
        /^resource prod-db is no longer configured but 2 grants are not over \(gr_\w+, gr_\w+\); they will still be revoked through provider "hook" as granted$/,
      );

      // Everything configured: nothing to say.
      expect(await h.core.checkLiveGrants(configured('hook', 'other'))).toEqual({
        unrevocable: [],
        orphaned: [],
      });
    });

    it('names a gone resource once though its grants were made under different terms', async () => {
      const before = await grant('prod-db');
      // The resource's target was edited between the two grants: their recorded terms differ.
      const after = await grant('prod-db', 'UENG');
      const terms = JSON.parse(after.snapshot!) as Record<string, unknown>;
      await h.sql.run(
        'UPDATE grants SET snapshot = ? WHERE id = ?',
        JSON.stringify({ ...terms, target: { channel: 'CEDITED' } }),
        after.id,
      );
      const ids = [before.id, after.id].sort().join(', ');
      expect(
        (await h.withConfig(NO_PROD_DB).checkLiveGrants(configured('hook', 'other'))).orphaned,
      ).toEqual([
        `resource prod-db is no longer configured but 2 grants are not over (${ids}); they will still be revoked through provider "hook" as granted`,
      ]);
    });

    it('says it of one grant in the singular', async () => {
      const only = await grant('prod-db');
      expect(
        (await h.withConfig(NO_PROD_DB).checkLiveGrants(configured('hook', 'other'))).orphaned,
      ).toEqual([
        `resource prod-db is no longer configured but 1 grant is not over (${only.id}); it will still be revoked through provider "hook" as granted`,
      ]);
    });

    it('refuses to close by hand a grant whose provider is still configured, writing nothing', async () => {
      const g = await grant('prod-db');
      const before = await h.sql.all('SELECT * FROM audit_events ORDER BY seq');
      const err = await h.core.closeByHand(g.id, 'UADMIN', 'gone').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DomainError);
      expect((err as DomainError).code).toBe('bad_state');
      expect((err as DomainError).message).toBe(
        `Grant ${g.id}'s provider "hook" is still configured: revoke it (\`hallpass grants revoke\`) so Hallpass removes the access and confirms it. A grant whose revoke keeps failing can be closed by hand.`,
      );
      expect((await h.core.grant(g.id))!.status).toBe('active');
      expect(await h.sql.all('SELECT * FROM audit_events ORDER BY seq')).toEqual(before);
    });

    it('closes by hand a grant whose revoke keeps failing, its provider still configured', async () => {
      const g = await grant('prod-db');
      h.clock.advance(3_600_000);
      await h.core.lifecycle.expire([g.id]);
      // Before its revoke has failed, it is the sweeper's to finish.
      await expect(h.core.closeByHand(g.id, 'UADMIN', 'early')).rejects.toThrow(
        'is still configured',
      );
      const error = 'okta-group revoke (group 00g1) failed: 404 E0000007 (Not found)';
      const retry = { retryBase: 1000, retryMax: 60_000, alertAfterAttempts: 5 };
      await h.core.lifecycle.failed(g.id, 'revoke', error, retry);

      const closed = await h.core.closeByHand(g.id, 'UADMIN', 'group deleted in Okta');
      expect(closed).toMatchObject({
        status: 'stranded',
        endReason: 'expired',
        nextAttemptAt: null,
      });
      expect(grantLine(closed, { now: h.clock.now(), timezone: 'UTC' })).toContain(
        'its revoke kept failing, so the access may still exist and must be removed outside Hallpass',
      );
      const alert = await h.sql.value<string>(
        "SELECT payload FROM outbox WHERE topic = 'alert' AND key = ?",
        `alert:${g.id}:close`,
      );
      expect(JSON.parse(alert)).toMatchObject({
        action: 'close',
        error: `its revoke keeps failing (revoke: ${error}); closed by hand by UADMIN: group deleted in Okta`,
      });
      expect(await h.core.lifecycle.due(100)).toEqual([]);
    });

    it('marks a grant whose provider is gone stranded, audits it and alerts its approvers and the admins', async () => {
      const fake = await new FakeSlack().start();
      try {
        const g = await grant('prod-db');
        const later = h.withConfig(NO_HOOK);
        h.clock.advance(60_000);
        const outboxBefore = await h.sql.value<number>('SELECT max(id) FROM outbox');

        const closed = await later.closeByHand(g.id, 'UADMIN', '  hook service decommissioned  ');
        expect(closed.status).toBe('stranded');
        expect(
          await h.sql.get(
            'SELECT status, end_reason, ended_by, end_note, ended_at, next_attempt_at, recheck_at FROM grants WHERE id = ?',
            g.id,
          ),
        ).toEqual({
          status: 'stranded',
          end_reason: 'provider_removed',
          ended_by: 'UADMIN',
          end_note: 'hook service decommissioned',
          ended_at: h.clock.now(),
          next_attempt_at: null,
          recheck_at: null,
        });
        const audit = await h.sql.all<{ actor: string; grant_id: string; details: string }>(
          "SELECT actor, grant_id, details FROM audit_events WHERE action = 'grant.closed_by_hand'",
        );
        expect(audit.map((a) => ({ ...a, details: JSON.parse(a.details) as unknown }))).toEqual([
          {
            actor: 'UADMIN',
            grant_id: g.id,
            details: { provider: 'hook', note: 'hook service decommissioned', from: 'active' },
          },
        ]);
        const alerts = await h.sql.all<{ key: string; payload: string }>(
          "SELECT key, payload FROM outbox WHERE topic = 'alert' AND id > ?",
          outboxBefore,
        );
        expect(
          alerts.map((a) => ({ key: a.key, payload: JSON.parse(a.payload) as unknown })),
        ).toEqual([
          {
            key: `alert:${g.id}:close`,
            payload: {
              topic: 'alert',
              grantId: g.id,
              channel: 'CDBA', // the approver channel it was granted under
              admins: ['UADMIN'],
              action: 'close',
              attempts: 0,
              error:
                'it was granted through provider "hook", which is no longer configured; closed by hand by UADMIN: hook service decommissioned',
            },
          },
        ]);
        // Nothing is left for the sweeper to do with it.
        expect(await later.lifecycle.due(100)).toEqual([]);

        // Twice is refused; the record stays as the first close left it.
        await expect(later.closeByHand(g.id, 'UADMIN', 'again')).rejects.toThrow(
          `Grant ${g.id} is already stranded.`,
        );
        await expect(later.closeByHand('gr_nope', 'UADMIN', 'x')).rejects.toThrow(
          'No grant gr_nope.',
        );

        // The words the approver channel and the admins read.
        await deliver(h, later, fake);
        const posted = fake
          .callsOf('chat.postMessage')
          .filter((c) => JSON.stringify(c.args.blocks).includes('closed by hand'));
        expect(posted.map((c) => c.args.channel).sort()).toEqual(['CDBA', 'UADMIN']);
        const words = JSON.stringify(posted[0]!.args.blocks);
        expect(words).toContain('Access closed by hand: remove it yourself');
        expect(words).toContain(
          'Hallpass cannot revoke this grant any more, so it did not: the access may still be present. Remove it in the target system.',
        );
      } finally {
        await fake.stop();
      }
    });
  });

  describe('through the processes', () => {
    it('refuses to start a bot whose config dropped a provider a live grant uses, one line per grant', async () => {
      const active = await grant('prod-db');
      const activating = await grant('auto', 'UENG', true);
      const file = configFile('hallpass.yml', NO_HOOK);
      const fake = await new FakeSlack().start();
      try {
        const exit = await runBot(botEnv(file, fake));
        expect(exit.code).toBe(1);
        expect(exit.stderr.trim().split('\n').sort()).toEqual(
          [
            `hallpass: ${file}: ${unrevocableLine(active, 'active')}`,
            `hallpass: ${file}: ${unrevocableLine(activating, 'activating')}`,
          ].sort(),
        );
        // Nothing was posted, and nothing changed in the database.
        expect(fake.callsOf('chat.postMessage')).toEqual([]);
        expect((await h.core.grant(active.id))!.status).toBe('active');
      } finally {
        await fake.stop();
      }
    });

    it('starts a bot whose config dropped a resource a live grant uses, with a warning', async () => {
      h.clock.set(Date.now());
      const g = await grant('prod-db');
      const file = configFile('hallpass.yml', NO_PROD_DB);
      const fake = await new FakeSlack().start();
      try {
        const bot = await BotProcess.start(botEnv(file, fake));
        const warning = await bot.waitForLog((line) =>
          String(line.message).startsWith('resource prod-db is no longer configured'),
        );
        expect(warning).toMatchObject({
          level: 'warn',
          message: `resource prod-db is no longer configured but 1 grant is not over (${g.id}); it will still be revoked through provider "hook" as granted`,
        });
        expect(bot.logs.map((l) => l.message)).toContain('hallpass started');
        // How it stops is not the point here (see test/e2e/process.test.ts).
        await bot.kill();
      } finally {
        await fake.stop();
      }
    });

    it('`hallpass policy check` with a database reports a gone provider (exit 1) and only warns of a gone resource', async () => {
      const g = await grant('prod-db');
      const env = cliEnv(h.location);

      const noHook = await runCli(['policy', 'check', configFile('no-hook.yml', NO_HOOK)], env);
      expect(noHook).toEqual({
        code: 1,
        stdout: `${unrevocableLine(g, 'active')}\n`,
        stderr: '',
      });

      const noDb = await runCli(['policy', 'check', configFile('no-db.yml', NO_PROD_DB)], env);
      expect(noDb).toEqual({
        code: 0,
        stdout: 'ok: 2 resources, 2 providers\n',
        stderr: `warning: resource prod-db is no longer configured but 1 grant is not over (${g.id}); it will still be revoked through provider "hook" as granted\n`,
      });

      // Without a database at hand there is nothing to compare against.
      const alone = await runCli(['policy', 'check', join(tmp.dir, 'no-hook.yml')], {
        HALLPASS_DB: join(tmp.dir, 'absent.db'),
      });
      expect(alone).toEqual({ code: 0, stdout: 'ok: 1 resources, 1 providers\n', stderr: '' });
    });

    it('`hallpass grants close <id> --reason …` strands the grant, and refuses while the provider is configured', async () => {
      const g = await grant('prod-db');

      const refused = await runCli(
        ['grants', 'close', g.id, '--reason', 'hook decommissioned'],
        cliEnv(h.location, { HALLPASS_CONFIG: configFile('full.yml', FULL) }),
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(
        `hallpass: Grant ${g.id}'s provider "hook" is still configured: revoke it (\`hallpass grants revoke\`) so Hallpass removes the access and confirms it. A grant whose revoke keeps failing can be closed by hand.\n`,
      );
      expect((await h.core.grant(g.id))!.status).toBe('active');

      const env = cliEnv(h.location, { HALLPASS_CONFIG: configFile('hallpass.yml', NO_HOOK) });
      const noReason = await runCli(['grants', 'close', g.id], env);
      expect(noReason.code).toBe(2);
      expect(noReason.stderr).toContain(
        'hallpass: grants close: --reason is required (it goes into the audit log)',
      );

      const closed = await runCli(
        ['grants', 'close', g.id, '--reason', 'hook decommissioned'],
        env,
      );
      expect(closed).toEqual({
        code: 0,
        stdout:
          `${g.id} (UREQ on prod-db) is now stranded: Hallpass did not revoke it.\n` +
          'Remove the access in the target system yourself; the approver channel and the admins were told.\n',
        stderr: '',
      });
      expect(await h.core.grant(g.id)).toMatchObject({
        status: 'stranded',
        endReason: 'provider_removed',
        endedBy: `cli:${userInfo().username}`,
        endNote: 'hook decommissioned',
      });
      expect(
        await h.sql.value(
          "SELECT actor FROM audit_events WHERE action = 'grant.closed_by_hand' AND grant_id = ?",
          g.id,
        ),
      ).toBe(`cli:${userInfo().username}`);
      expect(
        await h.sql.value(
          "SELECT count(*) FROM outbox WHERE topic = 'alert' AND key = ?",
          `alert:${g.id}:close`,
        ),
      ).toBe(1);

      // With the provider gone and the grant closed, the bot would start again.
      expect(await h.withConfig(NO_HOOK).checkLiveGrants(configured('other'))).toEqual({
        unrevocable: [],
        orphaned: [],
      });
    });

    it('refuses to start a bot whose config points a live grant’s provider elsewhere, naming the setting', async () => {
      const g = await grant('prod-db', 'UREQ', false, await placedCore());
      // A grant made before places were recorded is acted on wherever its provider points.
      await grant('prod-db', 'UENG');
      const file = configFile('hallpass.yml', MOVED_HOOK);
      const fake = await new FakeSlack().start();
      try {
        const exit = await runBot(botEnv(file, fake));
        expect(exit.code).toBe(1);
        expect(exit.stderr.trim().split('\n')).toEqual([`hallpass: ${file}: ${movedLine(g)}`]);
        expect(fake.callsOf('chat.postMessage')).toEqual([]);
      } finally {
        await fake.stop();
      }
    });

    it('`hallpass policy check` reports a moved provider, and `grants close` strands its grant as moved', async () => {
      const g = await grant('prod-db', 'UREQ', false, await placedCore());
      const moved = configFile('moved.yml', MOVED_HOOK);
      expect(await runCli(['policy', 'check', moved], cliEnv(h.location))).toEqual({
        code: 1,
        stdout: `${movedLine(g)}\n`,
        stderr: '',
      });
      // The same file with the url left to a variable unset here says nothing of where it points.
      const unset = configFile(
        'unset.yml',
        FULL.replace("'http://127.0.0.1:9/hook'", "'${HOOK_URL}'"),
      );
      expect(await runCli(['policy', 'check', unset], cliEnv(h.location))).toMatchObject({
        code: 0,
        stdout: 'ok: 3 resources, 2 providers\n',
      });

      const closed = await runCli(
        ['grants', 'close', g.id, '--reason', 'hook moved to the new cluster'],
        cliEnv(h.location, { HALLPASS_CONFIG: moved }),
      );
      expect(closed.code).toBe(0);
      const stranded = (await h.core.grant(g.id))!;
      expect(stranded).toMatchObject({ status: 'stranded', endReason: 'provider_moved' });
      expect(grantLine(stranded, { now: h.clock.now(), timezone: 'UTC' })).toContain(
        'its provider points elsewhere than where it was granted, so the access may still exist',
      );
      const alert = await h.sql.value<string>(
        "SELECT payload FROM outbox WHERE topic = 'alert' AND key = ?",
        `alert:${g.id}:close`,
      );
      expect(JSON.parse(alert)).toMatchObject({
        error:
          'it was granted through provider "hook", whose providers.hook.url changed since (it now points elsewhere); closed by hand by ' +
          `cli:${userInfo().username}: hook moved to the new cluster`,
      });
    });
  });
});
