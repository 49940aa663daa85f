import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { findBinDir, startPostgres, type TestPostgres } from '../test/support/postgres';
import type { Row } from './report';

/**
 * Commits return before their WAL is flushed, as SQLite's `synchronous = NORMAL` in WAL mode
 * (the embedded store's setting) does not sync on commit either; checkpoints still sync. Pages
 * are written as a durable server writes them (fsync and full page writes on, unlike the tests).
 */
export const BENCH_SETTINGS = ['synchronous_commit=off'];

/** The bench's own PostgreSQL cluster on 127.0.0.1: databases made, copied and dropped by name. */
export interface BenchPostgres {
  readonly cluster: TestPostgres;
  /** A new empty database, or a copy of `template` (which nobody may be connected to). */
  create(template?: string): Promise<{ name: string; url: string }>;
  drop(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Why the PostgreSQL rows cannot be measured here, or undefined when they can. */
export function postgresMissing(): string | undefined {
  try {
    findBinDir();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The one row of a bench that needs PostgreSQL where it is not installed; says why on stderr. */
export function skippedWithoutPostgres(bench: string, rows: string, missing: string): Row[] {
  process.stderr.write(`bench: the ${rows} rows are skipped: ${missing}\n`);
  return [
    {
      bench,
      figure: 'skipped: PostgreSQL is not installed here',
      value: '—',
      floor: '—',
      ratio: '—',
      target: '—',
      met: null,
    },
  ];
}

/** Starts a throwaway cluster (initdb as the `postgres` OS user when run as root); stop it after. */
export async function startBenchPostgres(): Promise<BenchPostgres> {
  const cluster = await startPostgres({ preloadStatements: false, settings: BENCH_SETTINGS });
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: cluster.adminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  return {
    cluster,
    async create(template) {
      const name = `bench_${randomBytes(5).toString('hex')}`;
      await admin(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
      // PostgreSQL 15 copies a template through its shared buffers and leaves the copy's pages
      // dirty there: the first reads of the copy would write them out under the measurement
      // (counting the dense week's activations read 2,090 pages and wrote 1,907 of them).
      // Written out first, as each step starts after `sync`.
      await admin('CHECKPOINT');
      return { name, url: cluster.adminUrlFor(name) };
    },
    async drop(name) {
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
    stop: () => cluster.stop(),
  };
}
