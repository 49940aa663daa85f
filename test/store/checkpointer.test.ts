import { statSync } from 'node:fs';
import { join } from 'node:path';
import { logger } from '../../src/log';
import { checkpointInBackground } from '../../src/store/checkpointer';
import { inTransaction, openDb, type Db } from '../../src/store/db';
import { captureLogs } from '../hostile/support';
import { tempDir } from '../support/tmp';

const PAGE = 4096;

/** About 1,500 pages of WAL in 300 commits: more than SQLite's 1,000-page automatic checkpoint. */
function fill(db: Db): void {
  db.$client.exec('CREATE TABLE filler (n INTEGER, pad TEXT)');
  const insert = db.$client.prepare('INSERT INTO filler VALUES (?, ?)');
  for (let i = 0; i < 300; i++) inTransaction(db, () => insert.run(i, 'x'.repeat(20_000)));
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('WAL checkpoints on their own thread', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('leaves every frame in the WAL while the thread waits: commits no longer checkpoint', async () => {
    const file = join(tmp.dir, 'quiet.db');
    const db = openDb(file);
    const checkpoints = checkpointInBackground(db, file, { logger, intervalMs: 60_000 });
    fill(db);
    const [state] = db.$client.pragma('wal_checkpoint(PASSIVE)') as { log: number }[];
    expect(state!.log).toBeGreaterThan(1000);
    await checkpoints.stop();
    expect(db.$client.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    db.$client.close();
  });

  it('copies the WAL into the database file from the other thread', async () => {
    const file = join(tmp.dir, 'busy.db');
    const db = openDb(file);
    const checkpoints = checkpointInBackground(db, file, { logger, intervalMs: 20 });
    fill(db);
    await until(() => statSync(file).size > 1000 * PAGE, 'the database file to hold the rows');
    await checkpoints.stop();
    expect(db.$client.prepare('SELECT count(*) FROM filler').pluck().get()).toBe(300);
    db.$client.close();
  });

  it('hands checkpoints back to the connection when the thread cannot open the file', async () => {
    const file = join(tmp.dir, 'other.db');
    const db = openDb(file);
    const logs = captureLogs('warn');
    try {
      const checkpoints = checkpointInBackground(db, join(tmp.dir, 'missing', 'nope.db'), {
        logger,
      });
      await logs.waitFor((l) => l.level === 'error', 'the thread to fail');
      expect(db.$client.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
      await checkpoints.stop();
    } finally {
      logs.stop();
      db.$client.close();
    }
  });
});
