import { Client } from 'pg';
import { postgresAdapter, type PostgresTarget } from '../../src/providers/postgres/adapter';
import type { ActivityReport, Provider, RevokeResult } from '../../src/providers/types';
import { createProviderAdmin, startPostgres, type TestPostgres } from '../support/postgres';
import { callContext } from './contract';

const ADMIN = { user: 'hallpass_admin', password: 'admin-Pa55word-for-tests' };
const BLIND_ADMIN = { user: 'hallpass_blind', password: 'blind-Pa55word-for-tests' };
const ORDERS: PostgresTarget = { roles: ['orders_rw'] };
/** The cluster's second database, where pg_stat_statements is not created. */
const NO_STATS_DB = 'nostats';

let pg: TestPostgres;
let superuser: Client;

/** pg_stat_statements is loaded by the test cluster and created in database `postgres` only. */
beforeAll(async () => {
  pg = await startPostgres();
  superuser = new Client({ connectionString: pg.adminUrl });
  await superuser.connect();
  await superuser.query(`
    CREATE EXTENSION pg_stat_statements;
    CREATE TABLE orders (id int PRIMARY KEY, total numeric);
    INSERT INTO orders SELECT g, g * 10 FROM generate_series(1, 50) g;
    CREATE ROLE orders_rw NOLOGIN;
    GRANT SELECT, UPDATE ON orders TO orders_rw;
    CREATE SCHEMA scratch;
    GRANT USAGE, CREATE ON SCHEMA scratch TO orders_rw;
  `);
  await superuser.query(`CREATE DATABASE ${NO_STATS_DB}`);
  await createProviderAdmin(superuser, ADMIN, ['orders_rw']);
  await createProviderAdmin(superuser, BLIND_ADMIN, ['orders_rw'], { readAllStats: false });
});

afterAll(async () => {
  await superuser?.end();
  await pg?.stop();
});

function postgres(
  admin = ADMIN,
  database = 'postgres',
  settings: Record<string, unknown> = {},
): Provider<PostgresTarget> {
  const config = postgresAdapter.configSchema.parse({
    url: pg.urlFor(admin.user, admin.password, database),
    ...settings,
  });
  return postgresAdapter.create(config, { configDir: __dirname });
}

/** Grants ORDERS, lets the holder run `work` on a session of its own, and returns that session. */
async function holderSession(
  provider: Provider<PostgresTarget>,
  database = 'postgres',
): Promise<{ ctx: ReturnType<typeof callContext<PostgresTarget>>; session: Client; user: string }> {
  const ctx = callContext(ORDERS);
  const text = (await provider.grant(ctx)).credentials?.text ?? '';
  const user = /• user: `([^`]+)`/.exec(text)![1]!;
  const password = /• password: `([^`]+)`/.exec(text)![1]!;
  const session = new Client({ host: pg.host, port: pg.port, database, user, password });
  session.on('error', () => undefined);
  await session.connect();
  return { ctx, session, user };
}

async function revoked(
  provider: Provider<PostgresTarget>,
  ctx: ReturnType<typeof callContext<PostgresTarget>>,
): Promise<ActivityReport> {
  const result = (await provider.revoke(ctx)) as RevokeResult;
  if (!result?.activity) throw new Error('the revoke reported no activity');
  // What the audit log stores: JSON, unchanged by a round trip.
  expect(JSON.parse(JSON.stringify(result.activity))).toEqual(result.activity);
  return result.activity;
}

async function statementTexts(user: string): Promise<string[]> {
  const { rows } = await superuser.query<{ query: string }>(
    'SELECT query FROM pg_stat_statements WHERE userid = $1::regrole',
    [user],
  );
  return rows.map((row) => row.query);
}

describe('postgres revoke reports what the grant’s role did', () => {
  it('counts the normalized statements by command and names the table', async () => {
    const provider = postgres();
    const { ctx, session } = await holderSession(provider);
    for (let id = 1; id <= 40; id++) await session.query(`SELECT * FROM orders WHERE id = ${id}`);
    await session.query('UPDATE orders SET total = total + 1 WHERE id = 7');
    await session.query('UPDATE orders SET total = total + 1 WHERE id = 9');

    const activity = await revoked(provider, ctx);
    expect(activity.summary).toBe('42 statements: 40 SELECT, 2 UPDATE on orders');
    expect(activity.details).toEqual({
      source: 'pg_stat_statements',
      statements: [
        {
          command: 'SELECT',
          text: 'SELECT * FROM orders WHERE id = $1',
          database: 'postgres',
          calls: 40,
          totalMs: expect.any(Number),
          rows: 40,
          tables: ['orders'],
        },
        {
          command: 'UPDATE',
          text: 'UPDATE orders SET total = total + $1 WHERE id = $2',
          database: 'postgres',
          calls: 2,
          totalMs: expect.any(Number),
          rows: 2,
          tables: ['orders'],
        },
      ],
      sessions: [
        { database: 'postgres', connectedAt: expect.any(String), openMs: expect.any(Number) },
      ],
    });
    await session.end().catch(() => undefined);
  });

  it('reads the statements of every database from the one it connects to', async () => {
    const provider = postgres();
    const { ctx, session, user } = await holderSession(provider);
    await session.query('SELECT count(*) FROM orders');
    await session.end();
    await superuser.query(`ALTER ROLE ${user} PASSWORD 'elsewhere-Pa55'`);
    const other = new Client({ connectionString: pg.urlFor(user, 'elsewhere-Pa55', NO_STATS_DB) });
    await other.connect();
    await other.query('SELECT count(*) FROM pg_class WHERE relkind = $1', ['r']);
    await other.end();
    const activity = await revoked(provider, ctx);
    expect(activity.details.statements?.map((s) => [s.database, s.command])).toEqual(
      expect.arrayContaining([
        ['postgres', 'SELECT'],
        [NO_STATS_DB, 'SELECT'],
      ]),
    );
    expect(activity.summary).toBe('2 statements: 2 SELECT on orders, pg_class');
  });

  it('never reports a literal, though PostgreSQL kept some as typed', async () => {
    const provider = postgres();
    const { ctx, session, user } = await holderSession(provider);
    const keptAsTyped = [
      'hunter2-Pa55',
      'card-4111',
      'into-secret',
      '4111111111111111',
      'do-secret',
      'app-secret',
      'explain-secret',
      'comment-secret',
    ];
    const normalized = ['prepared-secret', 'planned-secret'];
    for (const sql of [
      "ALTER ROLE CURRENT_USER PASSWORD 'hunter2-Pa55'",
      "CREATE TABLE scratch.stash AS SELECT 'card-4111' AS c",
      "SELECT 'into-secret' AS x INTO scratch.t2",
      'SELECT 4111111111111111 AS n INTO scratch.t3',
      "DO $$BEGIN PERFORM 'do-secret'; END$$",
      "SET application_name = 'app-secret'",
      "EXPLAIN SELECT 'explain-secret'",
      "PREPARE p AS SELECT 'prepared-secret' AS x",
      'EXECUTE p',
      'SELECT count(*) FROM orders /* comment-secret */',
      "SELECT * FROM orders WHERE total::text = 'planned-secret'",
    ]) {
      await session.query(sql);
    }
    // The danger is real: PostgreSQL holds these literals in pg_stat_statements.
    const kept = (await statementTexts(user)).join('\n');
    for (const secret of keptAsTyped) expect(kept).toContain(secret);

    const activity = await revoked(provider, ctx);
    const reported = JSON.stringify(activity);
    for (const secret of [...keptAsTyped, ...normalized]) expect(reported).not.toContain(secret);
    const commands = activity.details.statements?.map((s) => s.command);
    expect(commands).toEqual(
      expect.arrayContaining([
        'ALTER ROLE',
        'CREATE TABLE AS',
        'SELECT INTO',
        'DO',
        'SET',
        'EXPLAIN',
      ]),
    );
    const texts = activity.details.statements?.flatMap((s) => (s.text ? [s.text] : []));
    expect(texts).toEqual(
      expect.arrayContaining([
        'SELECT count(*) FROM orders',
        'SELECT * FROM orders WHERE total::text = $1',
        'PREPARE p AS SELECT $1 AS x',
      ]),
    );
    // Utility statements keep their command only.
    for (const s of activity.details.statements ?? []) {
      if (!['SELECT', 'UPDATE'].includes(s.command)) expect(s.text).toBeUndefined();
    }
    await session.end().catch(() => undefined);
  });

  it('without pg_stat_statements, reports the open sessions and says why there is no more', async () => {
    const provider = postgres(ADMIN, NO_STATS_DB);
    const { ctx, session } = await holderSession(provider, NO_STATS_DB);
    await session.query('SELECT 1');
    const activity = await revoked(provider, ctx);
    expect(activity.summary).toBe(
      '1 session open at revoke; statements not recorded (pg_stat_statements not available)',
    );
    expect(activity.details).toEqual({
      source: 'pg_stat_activity',
      note: `pg_stat_statements is not installed in database "${NO_STATS_DB}", the one Hallpass connects to: statements were not recorded, only the sessions still open at revoke; see "Recording activity" in docs/providers.md`,
      sessions: [
        { database: NO_STATS_DB, connectedAt: expect.any(String), openMs: expect.any(Number) },
      ],
    });
    const connectedAt = Date.parse(activity.details.sessions![0]!.connectedAt!);
    expect(Date.now() - connectedAt).toBeLessThan(60_000);
    await expect(session.query('SELECT 1')).rejects.toThrow();
    await session.end().catch(() => undefined);
  });

  it('says so when pg_stat_statements is installed but not loaded', async () => {
    const unloaded = await startPostgres({ preloadStatements: false });
    const owner = new Client({ connectionString: unloaded.adminUrl });
    await owner.connect();
    try {
      await owner.query('CREATE EXTENSION pg_stat_statements; CREATE ROLE orders_rw NOLOGIN');
      await createProviderAdmin(owner, ADMIN, ['orders_rw']);
      const config = postgresAdapter.configSchema.parse({
        url: unloaded.urlFor(ADMIN.user, ADMIN.password),
      });
      const provider = postgresAdapter.create(config, { configDir: __dirname });
      const ctx = callContext(ORDERS);
      await provider.grant(ctx);
      const activity = await revoked(provider, ctx);
      expect(activity.details.source).toBe('pg_stat_activity');
      expect(activity.details.note).toMatch(
        /^pg_stat_statements is installed but not loaded \(it must be in shared_preload_libraries\): statements were not recorded/,
      );
      expect(activity.summary).toBe(
        '0 sessions open at revoke; statements not recorded (pg_stat_statements not available)',
      );
    } finally {
      await owner.end();
      await unloaded.stop();
    }
  });

  it('an admin without pg_read_all_stats gets counts only, and is told what it lacks', async () => {
    const provider = postgres(BLIND_ADMIN);
    const { ctx, session } = await holderSession(provider);
    await session.query('SELECT * FROM orders WHERE id = 3');
    await session.end();
    const activity = await revoked(provider, ctx);
    expect(activity.summary).toBe('1 statement: 1 UNKNOWN');
    expect(activity.details.note).toMatch(/GRANT pg_read_all_stats/);
    expect(activity.details.statements).toEqual([
      { command: 'UNKNOWN', database: 'postgres', calls: 1, totalMs: expect.any(Number), rows: 1 },
    ]);
  });
});
