import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeSlack } from '../support/fake-slack';
import { sqliteInspector } from '../support/sql-inspector';
import { freshPostgresDatabase } from '../support/stores';
import { tempDir } from '../support/tmp';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs src/main.ts as `npm start` would (through tsx instead of the build), with a clean env. */
function runMain(
  env: Record<string, string>,
  onStdout?: (text: string, kill: (signal: NodeJS.Signals) => void) => void,
): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(TSX, [join(ROOT, 'src', 'main.ts')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      onStdout?.(stdout, (signal) => child.kill(signal));
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Starts the bot with the example configuration, asks /healthz once it says it listens, then
 * sends SIGTERM.
 */
async function startAndStop(env: Record<string, string>) {
  const fake = await new FakeSlack().start();
  try {
    let health: { status: number; body: unknown } | undefined;
    let asked = false;
    const exit = await runMain(
      {
        SLACK_BOT_TOKEN: 'xoxb-smoke',
        SLACK_SIGNING_SECRET: 'smoke-signing-secret',
        SLACK_API_URL: fake.url,
        OPS_HOOK_SECRET: 'ops-hook-secret-value',
        HALLPASS_CONFIG: join(ROOT, 'hallpass.example.yml'),
        PORT: '0',
        HOST: '127.0.0.1',
        ...env,
      },
      (stdout, kill) => {
        const started = /"port":(\d+)/.exec(stdout);
        if (!started || asked) return;
        asked = true;
        void fetch(`http://127.0.0.1:${started[1]}/healthz`)
          .then(async (res) => (health = { status: res.status, body: await res.json() }))
          .finally(() => kill('SIGTERM'));
      },
    );
    return { health, exit };
  } finally {
    await fake.stop();
  }
}

describe('the hallpass process', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir()));
  afterEach(() => tmp.cleanup());

  it('exits at once naming every missing secret', async () => {
    const exit = await runMain({});
    expect(exit.code).toBe(1);
    expect(exit.stderr).toContain('hallpass: SLACK_BOT_TOKEN is not set');
    expect(exit.stderr).toContain('hallpass: SLACK_SIGNING_SECRET is not set');
  });

  it('refuses a bad configuration with one line per problem and starts nothing', async () => {
    const file = join(tmp.dir, 'hallpass.yml');
    writeFileSync(
      file,
      'requests: { approverChannel: CAPPROVALS }\nproviders: {}\nresources:\n  - { id: x-y, name: X, provider: nope, maxDuration: 1h, minDuration: 2h, approvalsRequired: 0 }\n',
    );
    const exit = await runMain({
      SLACK_BOT_TOKEN: 'xoxb-1',
      SLACK_SIGNING_SECRET: 'secret',
      HALLPASS_CONFIG: file,
      HALLPASS_DB: join(tmp.dir, 'db', 'h.db'),
    });
    expect(exit.code).toBe(1);
    expect(exit.stderr.trim().split('\n').sort()).toEqual([
      `hallpass: ${file}: resources[0].defaultDuration: must be between minDuration and maxDuration`,
      `hallpass: ${file}: resources[0].maxDuration: must be >= minDuration`,
      `hallpass: ${file}: resources[0].provider: unknown provider "nope" (known: none defined)`,
    ]);
  });

  it('starts with the example configuration, answers /healthz, and stops cleanly on SIGTERM', async () => {
    const file = join(tmp.dir, 'data', 'hallpass.db');
    const { health, exit } = await startAndStop({ HALLPASS_DB: file });
    expect(health).toEqual({ status: 200, body: { status: 'ok', database: 'ok', leader: true } });
    expect(exit.code).toBe(0);
    expect(exit.stdout).toContain('"message":"stopping"');
    expect(exit.stdout).not.toContain('ops-hook-secret-value');
    expect(exit.stdout).not.toContain('smoke-signing-secret');
    // It created and migrated its SQLite file.
    const sql = sqliteInspector(file);
    try {
      expect(
        await sql.value("SELECT count(*) FROM sqlite_master WHERE name = 'audit_events'"),
      ).toBe(1);
    } finally {
      await sql.close();
    }
  });

  it('runs on PostgreSQL when HALLPASS_DATABASE_URL is set, and never logs its password', async () => {
    const database = await freshPostgresDatabase();
    try {
      const password = decodeURIComponent(new URL(database.url).password);
      expect(password.length).toBeGreaterThan(8);
      const file = join(tmp.dir, 'data', 'hallpass.db');
      const { health, exit } = await startAndStop({
        HALLPASS_DB: file,
        HALLPASS_DATABASE_URL: database.url,
      });
      expect(health).toEqual({ status: 200, body: { status: 'ok', database: 'ok', leader: true } });
      expect(exit.code).toBe(0);
      expect(exit.stdout).toContain('"message":"stopping"');
      expect(`${exit.stdout}${exit.stderr}`).not.toContain(password);
      expect(existsSync(file)).toBe(false);
    } finally {
      await database.release();
    }
  });

  it('refuses a HALLPASS_DATABASE_URL that is not PostgreSQL', async () => {
    const exit = await runMain({
      SLACK_BOT_TOKEN: 'xoxb-1',
      SLACK_SIGNING_SECRET: 'secret',
      HALLPASS_DATABASE_URL: 'mysql://root:hunter22@127.0.0.1/hallpass',
    });
    expect(exit.code).toBe(1);
    expect(exit.stderr).toContain(
      'hallpass: HALLPASS_DATABASE_URL must be a postgres:// or postgresql:// connection URL',
    );
    expect(exit.stderr).not.toContain('hunter22');
  });
});
