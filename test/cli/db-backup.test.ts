import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sqliteInspector } from '../support/sql-inspector';
import { tempDir } from '../support/tmp';
import { runCli } from './run';

const ROOT = join(__dirname, '..', '..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/** The burst writer as its own process, resolved once it has committed `atLeast` requests. */
async function startWriter(file: string, atLeast: number): Promise<ChildProcess> {
  const child = spawn(TSX, [join(ROOT, 'test', 'support', 'burst-writer.ts'), file], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '' },
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      const counts = [...c.toString().matchAll(/committed (\d+)/g)].map((m) => Number(m[1]));
      if (counts.some((n) => n >= atLeast)) resolve();
    });
    child.on('exit', (code) => reject(new Error(`the writer exited (${code}):\n${stderr}`)));
  });
  return child;
}

async function auditRows(file: string): Promise<number> {
  const sql = sqliteInspector(file);
  try {
    return await sql.value<number>('SELECT count(*) FROM audit_events');
  } finally {
    await sql.close();
  }
}

describe('hallpass db backup', () => {
  let tmp: ReturnType<typeof tempDir>;
  let writer: ChildProcess | undefined;
  beforeEach(() => (tmp = tempDir()));
  afterEach(async () => {
    if (writer && writer.exitCode === null) {
      writer.kill('SIGTERM');
      await new Promise((resolve) => writer!.once('exit', resolve));
    }
    writer = undefined;
    tmp.cleanup();
  });

  it('takes consistent copies while another process writes, and each verifies', async () => {
    const live = join(tmp.dir, 'hallpass.db');
    writer = await startWriter(live, 40);
    const env = { HALLPASS_DB: live };
    for (const name of ['one.db', 'two.db', 'three.db']) {
      const before = await auditRows(live);
      const dest = join(tmp.dir, name);
      const result = await runCli(['db', 'backup', dest], env);
      const after = await auditRows(live);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const copied = await auditRows(dest);
      expect(result.stdout).toMatch(
        new RegExp(
          `^backed up ${live} to ${dest} \\(\\d[\\d,]* KiB\\)\\n` +
            `the copy opens and its audit chain verifies: ${copied.toLocaleString('en-US')} rows; head row ${copied}, hash [0-9a-f]{64}\\n$`,
        ),
      );
      // A snapshot of a moment during the backup: never less than before, never more than after.
      expect(copied).toBeGreaterThanOrEqual(before);
      expect(copied).toBeLessThanOrEqual(after);
      // Checked on its own, as a restore would find it.
      const verify = await runCli(['audit', 'verify'], { HALLPASS_DB: dest });
      expect(verify.code).toBe(0);
      expect(existsSync(`${dest}.partial`)).toBe(false);
      expect(existsSync(`${dest}-wal`)).toBe(false);
    }
    // The writer really wrote throughout: the live database grew past the last copy.
    await new Promise((r) => setTimeout(r, 300));
    expect(await auditRows(live)).toBeGreaterThan(await auditRows(join(tmp.dir, 'three.db')));
  }, 120_000);

  it('keeps an existing file and names a missing database', async () => {
    const dest = join(tmp.dir, 'taken.db');
    writeFileSync(dest, 'mine');
    const live = join(tmp.dir, 'hallpass.db');
    expect(await runCli(['db', 'backup', dest], { HALLPASS_DB: live })).toEqual({
      code: 1,
      stdout: '',
      stderr: `hallpass: no database at ${live} (set HALLPASS_DB)\n`,
    });
    writer = await startWriter(live, 1);
    expect(await runCli(['db', 'backup', dest], { HALLPASS_DB: live })).toEqual({
      code: 1,
      stdout: '',
      stderr: `hallpass: db backup: ${dest} exists; give a new file name (a date in it helps)\n`,
    });
  }, 60_000);

  it('says to use pg_dump for PostgreSQL', async () => {
    const result = await runCli(['db', 'backup', join(tmp.dir, 'x.db')], {
      HALLPASS_DATABASE_URL: 'postgres://hallpass@127.0.0.1:5432/hallpass',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      'with HALLPASS_DATABASE_URL (PostgreSQL) use pg_dump: pg_dump --format=custom',
    );
    expect(existsSync(join(tmp.dir, 'x.db'))).toBe(false);
  });
});
