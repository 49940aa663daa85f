import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { AuditReads } from '../core';
import { backupSqlite, copyToPostgres, openStore } from '../store';
import { describeStoreError, describeUrl } from '../store/errors';
import { parseCommand } from './args';
import { busyTimeoutMs, CliError, EXIT, paths, write, type CliIo } from './context';

const count = (n: number) => n.toLocaleString('en-US');

/**
 * `hallpass db copy`: moves a SQLite deployment (HALLPASS_DB) to PostgreSQL, into the database
 * HALLPASS_DATABASE_URL names, or `--to postgres://…` without a password. The target must be
 * empty; the copy is checked (row counts, and the audit chain walked on both sides ending on the
 * same row and hash) before it says done.
 */
export async function dbCopy(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(
    'db copy',
    args,
    { to: { type: 'string' } },
    { min: 0, max: 0, names: '' },
  );
  const { db, databaseUrl } = paths(io);
  const to = copyTarget(values.to, databaseUrl);
  if (!existsSync(db)) throw new CliError(`no database at ${db} (set HALLPASS_DB)`);
  const target = describeUrl(to);
  let report;
  try {
    report = await copyToPostgres(db, to, (table, rows) => {
      if (rows % 100_000 === 0) io.stderr.write(`${table}: ${count(rows)} rows…\n`);
    });
  } catch (err) {
    throw new CliError(`db copy to ${target} failed: ${(err as Error).message}`);
  }
  const lines = Object.entries(report.rows).map(([table, rows]) => `  ${table}: ${count(rows)}\n`);
  const head = report.target.head;
  await write(
    io.stdout,
    `copied ${db} to ${target}:\n${lines.join('')}` +
      `audit chain verified on both sides: ${count(report.target.checked)} rows` +
      `${head ? `, head row ${head.seq} hash ${head.hash}` : ''}\n` +
      'Point every replica at it with HALLPASS_DATABASE_URL, and keep the SQLite file as a backup.\n',
  );
  return EXIT.ok;
}

const POSTGRES_URL = 'a postgres:// URL of an empty database';

/**
 * Where `db copy` writes: `--to`, else HALLPASS_DATABASE_URL (checked with the environment). A
 * password in `--to` is refused: every local user sees a command line in the process list, and
 * the shell keeps it in history.
 */
function copyTarget(flag: string | undefined, fromEnv: string | undefined): string {
  if (flag === undefined) {
    if (fromEnv !== undefined) return fromEnv;
    throw new CliError(
      `db copy: set HALLPASS_DATABASE_URL to ${POSTGRES_URL} (or give --to without a password)`,
      EXIT.usage,
    );
  }
  const url = URL.canParse(flag) ? new URL(flag) : undefined;
  if (!url || !/^postgres(ql)?:$/.test(url.protocol)) {
    throw new CliError(`db copy: --to must be ${POSTGRES_URL}`, EXIT.usage);
  }
  const passwordParams = [...url.searchParams.keys()].filter((key) => /password/i.test(key));
  if (url.password !== '' || passwordParams.length > 0) {
    throw new CliError(
      'db copy: --to must not carry a password (the process list and shell history would show ' +
        'it); set HALLPASS_DATABASE_URL to the URL instead, or leave the password to PGPASSWORD ' +
        'or ~/.pgpass',
      EXIT.usage,
    );
  }
  return flag;
}

/**
 * `hallpass db backup <file>`: an online copy of the SQLite database, taken while the bot runs,
 * then opened on its own and its audit chain walked (with every digest anchor it records), so
 * a backup that says ok can be restored. PostgreSQL has its own tools for this.
 */
export async function dbBackup(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parseCommand('db backup', args, {}, { min: 1, max: 1, names: 'file' });
  const where = paths(io);
  if (where.databaseUrl) {
    throw new CliError(
      'db backup copies the SQLite file; with HALLPASS_DATABASE_URL (PostgreSQL) use pg_dump: ' +
        'pg_dump --format=custom --file=hallpass.dump "$HALLPASS_DATABASE_URL" ' +
        '(restore with pg_restore --clean --if-exists --dbname "$HALLPASS_DATABASE_URL" hallpass.dump)',
    );
  }
  const dest = resolve(positionals[0]!);
  if (!existsSync(where.db)) throw new CliError(`no database at ${where.db} (set HALLPASS_DB)`);
  if (existsSync(dest)) {
    throw new CliError(`db backup: ${dest} exists; give a new file name (a date in it helps)`);
  }
  let bytes: number;
  try {
    ({ bytes } = await backupSqlite(where.db, dest, busyTimeoutMs(io)));
  } catch (err) {
    const sentence = describeStoreError(err, where.db);
    throw new CliError(`db backup failed: ${sentence ?? (err as Error).message}`);
  }
  const copy = await openStore({ file: dest }, { readonly: true });
  let check;
  try {
    check = await new AuditReads(copy, io.clock).verifyAll([]);
  } finally {
    await copy.close();
  }
  const { report, anchors } = check;
  const size = `${count(Math.ceil(bytes / 1024))} KiB`;
  if (!report.intact) {
    const broken = report.firstBroken!;
    await write(
      io.stdout,
      `wrote ${dest} (${size}), but its audit chain is BROKEN at row ${broken.seq}: ${broken.problem}\n` +
        'The live database is likely broken there too: run hallpass audit verify on it.\n',
    );
    return EXIT.failed;
  }
  const head = report.head ? `; head row ${report.head.seq}, hash ${report.head.hash}` : '';
  const anchored = anchors > 0 ? ` and ${anchors} digest anchor${anchors === 1 ? '' : 's'}` : '';
  await write(
    io.stdout,
    `backed up ${where.db} to ${dest} (${size})\n` +
      `the copy opens and its audit chain verifies: ${count(report.checked)} rows${anchored}${head}\n`,
  );
  return EXIT.ok;
}
