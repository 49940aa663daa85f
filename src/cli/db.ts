import { existsSync } from 'node:fs';
import { copyToPostgres } from '../store';
import { describeUrl } from '../store/errors';
import { parseCommand } from './args';
import { CliError, EXIT, paths, write, type CliIo } from './context';

const count = (n: number) => n.toLocaleString('en-US');

/**
 * `hallpass db copy --to postgres://…`: moves a SQLite deployment to PostgreSQL. The target
 * must be empty; the copy is checked (row counts, and the audit chain walked on both sides
 * ending on the same row and hash) before it says done.
 */
export async function dbCopy(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(
    'db copy',
    args,
    { to: { type: 'string' } },
    { min: 0, max: 0, names: '' },
  );
  const to = values.to;
  if (!to || !URL.canParse(to) || !/^postgres(ql)?:$/.test(new URL(to).protocol)) {
    throw new CliError('db copy: --to must be a postgres:// URL of an empty database', EXIT.usage);
  }
  const { db } = paths(io);
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
