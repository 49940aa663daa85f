import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store';
import { coreHarness } from '../support/core';
import { sqliteInspector } from '../support/sql-inspector';
import { tempDir } from '../support/tmp';
import { cliEnv, runCli } from './run';

const CONFIG = `
requests: { approverChannel: CAPPROVALS }
providers: { hook: { type: webhook, url: 'http://127.0.0.1:9/x', secret: s3cret-value } }
resources:
  - { id: deploy, name: Deploys, provider: hook, maxDuration: 1h, approvers: { users: [ULEAD] }, pipelines: [{ token: 'ci:*' }] }
  - { id: prod-db, name: Production database, provider: hook, maxDuration: 1h, approvers: { users: [ULEAD] } }
`;

describe('hallpass tokens', () => {
  const tmp = tempDir();
  const env = {
    HALLPASS_DB: join(tmp.dir, 'hallpass.db'),
    HALLPASS_CONFIG: join(tmp.dir, 'hallpass.yml'),
  };
  const me = `cli:${userInfo().username}`;

  beforeAll(async () => {
    writeFileSync(env.HALLPASS_CONFIG, CONFIG);
    await (await openStore({ file: env.HALLPASS_DB })).close();
  });
  afterAll(() => tmp.cleanup());

  it('creates a token, prints it once, lists it without it, and revokes it', async () => {
    const created = await runCli(
      [
        'tokens',
        'create',
        '--identity',
        'ci:deploy-bot',
        '--resource',
        'deploy',
        '--resource',
        'prod-db',
        '--note',
        'release pipeline',
      ],
      env,
    );
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^hpt_tok_[0-9a-z]{10}_[A-Za-z0-9_-]{43}$/);
    const id = token.slice(4, 18);
    expect(created.stderr).toBe(
      `created ${id} for ci:deploy-bot (may request: deploy, prod-db)\n` +
        'the token is shown only now: store it as a secret of the pipeline (HALLPASS_TOKEN)\n' +
        'warning: no `pipelines` rule of prod-db matches ci:deploy-bot yet, so requests for it will be refused\n',
    );

    const listed = await runCli(['tokens', 'list'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain('ci:deploy-bot');
    expect(listed.stdout).toContain('release pipeline');
    expect(listed.stdout).not.toContain(token.slice(19));

    expect(await runCli(['tokens', 'revoke', id], env)).toEqual({
      code: 0,
      stdout: `revoked ${id} (ci:deploy-bot)\n`,
      stderr: '',
    });
    expect((await runCli(['tokens', 'list'], env)).stdout).toBe('no tokens\n');
    expect((await runCli(['tokens', 'list', '--all'], env)).stdout).toContain(`by ${me}`);
    const again = await runCli(['tokens', 'revoke', id], env);
    expect(again).toMatchObject({
      code: 1,
      stderr: `hallpass: API token ${id} is already revoked.\n`,
    });

    const sql = sqliteInspector(env.HALLPASS_DB);
    try {
      const actions = await sql.all<{ actor: string; action: string }>(
        'SELECT actor, action FROM audit_events ORDER BY seq',
      );
      expect(actions).toEqual([
        { actor: me, action: 'token.created' },
        { actor: me, action: 'token.revoked' },
      ]);
    } finally {
      await sql.close();
    }
  });

  it('names the access a revoked token leaves running, and ends it with --end-grants', async () => {
    const h = await coreHarness(CONFIG);
    try {
      const env = cliEnv(h.location, { HALLPASS_CONFIG: join(tmp.dir, 'hallpass.yml') });
      const grantWith = async (identity: string) => {
        const { token, info } = await h.core.pipelines.createToken({
          identity,
          resources: ['deploy'],
          actor: 'cli:ops',
        });
        const caller = (await h.core.pipelines.authenticate(token))!;
        const request = await h.core.createRequest({
          requester: caller.id,
          resourceId: 'deploy',
          duration: '30m',
          justification: 'deploying build 42 to production',
          caller,
        });
        await h.core.decide({ requestId: request.id, actor: 'ULEAD', decision: 'approve' });
        return { id: info.id, grant: (await h.core.grantOf(request))!.id };
      };
      const rotated = await grantWith('ci:release-bot');
      const leaked = await grantWith('ci:deploy-bot');

      expect(await runCli(['tokens', 'revoke', rotated.id], env, h.clock)).toEqual({
        code: 0,
        stdout:
          `revoked ${rotated.id} (ci:release-bot)\n` +
          `1 live grant obtained with it runs until it expires: ${rotated.grant}\n` +
          'to end it now: hallpass grants revoke <id> --reason …\n',
        stderr: '',
      });
      expect(await runCli(['tokens', 'revoke', leaked.id, '--end-grants'], env, h.clock)).toEqual({
        code: 0,
        stdout:
          `revoked ${leaked.id} (ci:deploy-bot)\n` +
          `ending 1 live grant obtained with it: ${leaked.grant}\n` +
          'The running bot takes the access away at the provider and confirms it (if the bot is down, it does so when it starts).\n',
        stderr: '',
      });
      expect((await h.core.grant(rotated.grant))!.status).toBe('activating');
      expect((await h.core.grant(leaked.grant))!.status).toBe('revoking');
      expect((await runCli(['audit', 'show', leaked.grant], env, h.clock)).stdout).toContain(
        `${me} asked to end it early by revoking API token ${leaked.id}: "API token revoked: ${leaked.id}"; revoking`,
      );
    } finally {
      await h.close();
    }
  });

  it('says what is wrong with the command line', async () => {
    expect(await runCli(['tokens', 'create', '--resource', 'deploy'], env)).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--identity is required'),
    });
    expect(
      await runCli(['tokens', 'create', '--identity', 'U0123ABCD', '--resource', 'deploy'], env),
    ).toMatchObject({ code: 1, stderr: expect.stringContaining('is not a pipeline identity') });
    expect(
      await runCli(
        ['tokens', 'create', '--identity', 'ci:x', '--resource', 'deploy', '--expires-in', 'soon'],
        env,
      ),
    ).toMatchObject({ code: 2, stderr: expect.stringContaining('"soon" is not a duration') });
    // An expiry past the dates anything can show is refused before a token is made.
    expect(
      await runCli(
        [
          'tokens',
          'create',
          '--identity',
          'ci:x',
          '--resource',
          'deploy',
          '--expires-in',
          '99999999d',
        ],
        env,
      ),
    ).toMatchObject({ code: 1, stderr: expect.stringContaining('A token lasts at most 3650d') });
    expect(await runCli(['tokens', 'list'], env)).toMatchObject({ code: 0 });
  });
});
