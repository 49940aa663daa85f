import { renameSync, rmSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';

export interface BackupReport {
  bytes: number;
  pages: number;
}

/**
 * An online, consistent copy of the SQLite file at `source` into `dest`, while the bot writes to
 * it. SQLite's backup API copies every page in one step (under a read snapshot, so writers in
 * WAL mode are not blocked and no write lands half-way), into `dest.partial` first: a failed
 * backup never leaves a file at `dest` that looks whole. The copy must pass `quick_check`.
 */
export async function backupSqlite(
  source: string,
  dest: string,
  busyTimeoutMs: number,
): Promise<BackupReport> {
  const partial = `${dest}.partial`;
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    rmSync(partial, { force: true });
    // No progress handler: the first step's page count of 0 copies every page at once.
    const { totalPages } = await db.backup(partial);
    const copy = new Database(partial, { fileMustExist: true });
    try {
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`the copy failed SQLite's quick_check: ${String(check)}`);
      // A self-contained file: fold any WAL the copy has into it before it is moved.
      copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
    renameSync(partial, dest);
    return { bytes: statSync(dest).size, pages: totalPages };
  } catch (err) {
    rmSync(partial, { force: true });
    throw err;
  } finally {
    db.close();
  }
}
