import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { escapeIdentifier, escapeLiteral, type Client } from 'pg';
import { tempDir } from './tmp';

const run = promisify(execFile);

/** A throwaway PostgreSQL cluster on 127.0.0.1, for the postgres provider's tests. */
export interface TestPostgres {
  /** A superuser's connection URL (password authentication over TCP). */
  adminUrl: string;
  /** The superuser's connection URL to another database. */
  adminUrlFor(database: string): string;
  host: string;
  port: number;
  /** A connection URL for another role of this cluster. */
  urlFor(user: string, password: string, database?: string): string;
  /** Restarts the server (every session is cut off), keeping its data and port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const MISSING = [
  'PostgreSQL server binaries (initdb, pg_ctl) were not found in /usr/lib/postgresql/*/bin or on PATH.',
  'The postgres provider is tested against a real server: install it (apt-get install postgresql; .ci/run does).',
].join(' ');

/** The newest installed server's bin folder; throws, saying how to install one, when there is none. */
export function findBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  if (versions[0]) return join(root, versions[0], 'bin');
  const onPath = (process.env.PATH ?? '')
    .split(delimiter)
    .find((dir) => dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
  if (onPath) return onPath;
  throw new Error(MISSING);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * initdb refuses to run as root, so as root the cluster belongs to the `postgres` OS user and
 * its tools run through runuser.
 */
async function asOwner(command: string, args: string[]): Promise<void> {
  const isRoot = process.getuid?.() === 0;
  const [file, argv] = isRoot
    ? ['runuser', ['-u', 'postgres', '--', command, ...args]]
    : [command, args];
  await run(file, argv, { timeout: 60_000 });
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  try {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    return { uid, gid };
  } catch {
    throw new Error(
      'running as root needs a `postgres` OS user to own the test cluster (the postgresql package creates it)',
    );
  }
}

/** For tests: nothing is flushed to disk, so a crash of the machine may lose the cluster. */
const TEST_SETTINGS = ['fsync=off', 'full_page_writes=off'];

/**
 * `preloadStatements` (default true) loads pg_stat_statements, so the postgres provider's activity
 * record runs against the real extension; a test creates the extension where it wants it.
 * `settings` are server settings (`name=value`), by default the tests' own.
 */
export async function startPostgres({
  preloadStatements = true,
  settings = TEST_SETTINGS,
}: { preloadStatements?: boolean; settings?: readonly string[] } = {}): Promise<TestPostgres> {
  const bin = findBinDir();
  const { dir, cleanup } = tempDir('hallpass-pg-');
  const data = join(dir, 'data');
  const log = join(dir, 'server.log');
  const pwfile = join(dir, 'pwfile');
  const password = randomBytes(12).toString('hex');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (process.getuid?.() === 0) {
    const { uid, gid } = await postgresIds();
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  const port = await freePort();
  const pgCtl = join(bin, 'pg_ctl');
  const options = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    ...settings.map((setting) => `-c ${setting}`),
    ...(preloadStatements ? ['-c shared_preload_libraries=pg_stat_statements'] : []),
  ].join(' ');
  try {
    await asOwner(join(bin, 'initdb'), [
      '-D',
      data,
      '-U',
      'postgres',
      '--pwfile',
      pwfile,
      '--auth-host=scram-sha-256',
      '--auth-local=scram-sha-256',
      '--no-sync',
      '--encoding=UTF8',
      '--no-locale',
    ]);
    await asOwner(pgCtl, ['start', '-w', '-t', '60', '-D', data, '-l', log, '-o', options]);
  } catch (err) {
    const serverLog = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : '';
    cleanup();
    throw new Error(`could not start a test PostgreSQL: ${(err as Error).message}\n${serverLog}`);
  }
  const urlFor = (user: string, pass: string, database = 'postgres') =>
    `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@127.0.0.1:${port}/${database}`;
  return {
    adminUrl: urlFor('postgres', password),
    adminUrlFor: (database) => urlFor('postgres', password, database),
    host: '127.0.0.1',
    port,
    urlFor,
    async restart() {
      // Fast: every session is ended, as when a failover or a restart cuts clients off.
      await asOwner(pgCtl, [
        'restart',
        '-w',
        '-t',
        '60',
        '-m',
        'fast',
        '-D',
        data,
        '-l',
        log,
        '-o',
        options,
      ]);
    },
    async stop() {
      try {
        await asOwner(pgCtl, ['stop', '-w', '-m', 'immediate', '-D', data]);
      } finally {
        cleanup();
      }
    },
  };
}

/**
 * The postgres provider's admin role as docs/providers.md sets it up, no more: CREATEROLE,
 * pg_signal_backend to end sessions, pg_read_all_stats to read what a grant's role did, and ADMIN
 * OPTION on each role it hands out (which must exist).
 */
export async function createProviderAdmin(
  superuser: Client,
  admin: { user: string; password: string },
  targetRoles: string[],
  { readAllStats = true } = {},
): Promise<void> {
  const id = escapeIdentifier(admin.user);
  await superuser.query(
    `CREATE ROLE ${id} LOGIN CREATEROLE PASSWORD ${escapeLiteral(admin.password)}`,
  );
  await superuser.query(`GRANT pg_signal_backend TO ${id}`);
  if (readAllStats) await superuser.query(`GRANT pg_read_all_stats TO ${id}`);
  for (const role of targetRoles) {
    await superuser.query(`GRANT ${escapeIdentifier(role)} TO ${id} WITH ADMIN OPTION`);
  }
}
