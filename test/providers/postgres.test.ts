import { createServer, type Socket } from 'node:net';
import { Client } from 'pg';
import { postgresAdapter, type PostgresTarget } from '../../src/providers/postgres/adapter';
import { grantRoleName } from '../../src/providers/postgres/role-name';
import type { GrantResult, Provider } from '../../src/providers/types';
import { startPostgres, type TestPostgres } from '../support/postgres';
import { callContext, providerContract } from './contract';

const ADMIN = { user: 'hallpass_admin', password: 'admin-Pa55word-for-tests' };
const TARGET: PostgresTarget = { roles: ['analytics_ro'] };
const HOUR = 3_600_000;

let pg: TestPostgres;
let superuser: Client;

/**
 * The admin role the docs ask for, no more: CREATEROLE, pg_signal_backend, and ADMIN OPTION on
 * the roles it hands out. The target data belongs to the superuser.
 */
beforeAll(async () => {
  pg = await startPostgres();
  superuser = new Client({ connectionString: pg.adminUrl });
  await superuser.connect();
  await superuser.query(`
    CREATE ROLE ${ADMIN.user} LOGIN CREATEROLE PASSWORD '${ADMIN.password}';
    GRANT pg_signal_backend TO ${ADMIN.user};
    CREATE ROLE analytics_ro NOLOGIN;
    CREATE TABLE metrics (id int);
    INSERT INTO metrics VALUES (1), (2);
    GRANT SELECT ON metrics TO analytics_ro;
    GRANT analytics_ro TO ${ADMIN.user} WITH ADMIN OPTION;
    CREATE SCHEMA scratch;
    CREATE ROLE scratch_rw NOLOGIN;
    GRANT USAGE, CREATE ON SCHEMA scratch TO scratch_rw;
    GRANT scratch_rw TO ${ADMIN.user} WITH ADMIN OPTION;
  `);
});

afterAll(async () => {
  await superuser?.end();
  await pg?.stop();
});

function postgres(settings: Record<string, unknown> = {}): Provider<PostgresTarget> {
  const config = postgresAdapter.configSchema.parse({
    url: pg.urlFor(ADMIN.user, ADMIN.password),
    ...settings,
  });
  return postgresAdapter.create(config, { configDir: __dirname });
}

function issued(result: GrantResult): { user: string; password: string } {
  const text = result.credentials?.text ?? '';
  const user = /• user: `([^`]+)`/.exec(text)?.[1];
  const password = /• password: `([^`]+)`/.exec(text)?.[1];
  if (!user || !password) throw new Error(`no credentials in: ${text}`);
  return { user, password };
}

async function login(user: string, password: string): Promise<Client> {
  const client = new Client({ host: pg.host, port: pg.port, database: 'postgres', user, password });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

async function loginError(
  user: string,
  password: string,
): Promise<{ code?: string; message: string }> {
  const client = await login(user, password).then(
    (c) => c,
    (err: { code?: string; message: string }) => err,
  );
  if (client instanceof Client) {
    await client.end();
    throw new Error(`${user} could log in`);
  }
  return client;
}

async function roleCount(role: string): Promise<number> {
  const { rows } = await superuser.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1',
    [role],
  );
  return rows[0]?.n ?? 0;
}

/** The role's VALID UNTIL as PostgreSQL keeps it, null without one (or without the role). */
async function validUntil(role: string): Promise<Date | null> {
  const { rows } = await superuser.query<{ until: Date | null }>(
    'SELECT rolvaliduntil AS until FROM pg_roles WHERE rolname = $1',
    [role],
  );
  return rows[0]?.until ?? null;
}

async function backendAlive(pid: number): Promise<boolean> {
  const { rowCount } = await superuser.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [
    pid,
  ]);
  return (rowCount ?? 0) > 0;
}

async function until(predicate: () => Promise<boolean>): Promise<void> {
  while (!(await predicate())) await new Promise((resolve) => setTimeout(resolve, 10));
}

providerContract('postgres', async () => {
  const sockets: Socket[] = [];
  // Accepts connections and never says a word: a server that hangs.
  const blackHole = createServer((socket) => sockets.push(socket));
  return {
    provider: postgres(),
    target: TARGET,
    held: (ctx) => roleCount(grantRoleName(ctx.user.slackId, ctx.grantId)),
    expiryHeld: (ctx) => validUntil(grantRoleName(ctx.user.slackId, ctx.grantId)),
    stalled: async () => {
      await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
      const { port } = blackHole.address() as { port: number };
      return {
        provider: postgres({ url: `postgresql://${ADMIN.user}:x@127.0.0.1:${port}/postgres` }),
        release: async () => {
          sockets.forEach((s) => s.destroy());
          await new Promise((resolve) => blackHole.close(resolve));
        },
      };
    },
    stop: async () => undefined,
  };
});

describe('postgres provider', () => {
  it('issues a login of its own with the target role’s privileges and nothing more', async () => {
    const ctx = callContext(TARGET);
    const result = await postgres().grant(ctx);
    const { user, password } = issued(result);
    expect(user).toBe(grantRoleName(ctx.user.slackId, ctx.grantId));
    expect(result.state).toEqual({ role: user });
    expect(result.credentials?.text).toContain(`• host: \`127.0.0.1\``);
    expect(result.credentials?.text).toContain(`• port: \`${pg.port}\``);
    expect(result.credentials?.text).toContain('• database: `postgres`');
    expect(result.credentials?.text).toContain(`• valid until: ${ctx.expiresAt.toISOString()}`);
    expect(result.credentials?.text).toContain(
      `psql "host=127.0.0.1 port=${pg.port} dbname=postgres user=${user}"`,
    );
    expect(password.length).toBeGreaterThanOrEqual(24);

    const session = await login(user, password);
    try {
      const { rows } = await session.query('SELECT count(*)::int AS n FROM metrics');
      expect(rows[0].n).toBe(2);
      await expect(session.query('INSERT INTO metrics VALUES (3)')).rejects.toMatchObject({
        code: '42501',
      });
      await expect(session.query('CREATE ROLE sneaky')).rejects.toMatchObject({ code: '42501' });
    } finally {
      await session.end();
    }
    await postgres().revoke({ ...ctx, state: result.state });
  });

  it('shows the connect settings people should use, when they differ from the admin URL', async () => {
    const ctx = callContext(TARGET);
    const provider = postgres({
      connect: { host: 'db.internal', port: 6432, database: 'analytics' },
    });
    const result = await provider.grant(ctx);
    expect(result.credentials?.text).toContain(
      'psql "host=db.internal port=6432 dbname=analytics user=',
    );
    await provider.revoke(ctx);
  });

  it('a retry without state resets the password; a re-grant with state only moves VALID UNTIL', async () => {
    const provider = postgres();
    const ctx = callContext(TARGET);
    const first = issued(await provider.grant(ctx));
    const retried = await provider.grant(ctx);
    const second = issued(retried);
    expect(second.user).toBe(first.user);
    expect(second.password).not.toBe(first.password);
    expect((await loginError(first.user, first.password)).code).toBe('28P01');

    const later = new Date(ctx.expiresAt.getTime() + 2 * HOUR);
    const extended = await provider.grant({ ...ctx, state: retried.state, expiresAt: later });
    expect(extended).toEqual({ state: { role: first.user } });
    const { rows } = await superuser.query(
      'SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1',
      [first.user],
    );
    expect((rows[0].rolvaliduntil as Date).toISOString()).toBe(later.toISOString());
    await (await login(second.user, second.password)).end();
    await provider.revoke(ctx);
  });

  it('revoke ends open sessions, refuses new logins and leaves no role', async () => {
    const provider = postgres();
    const ctx = callContext(TARGET);
    const result = await provider.grant(ctx);
    const { user, password } = issued(result);
    const open = await login(user, password);
    const { rows } = await open.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await provider.revoke({ ...ctx, state: result.state });
    await until(async () => !(await backendAlive(rows[0]!.pid)));
    await expect(open.query('SELECT 1')).rejects.toThrow();
    await open.end().catch(() => undefined);
    expect((await loginError(user, password)).code).toBe('28P01');
    expect(await roleCount(user)).toBe(0);
  });

  it('PostgreSQL itself refuses the login once VALID UNTIL has passed', async () => {
    const now = Date.now();
    const ctx = callContext(TARGET, {
      startsAt: new Date(now - 2 * HOUR),
      expiresAt: new Date(now - HOUR),
    });
    const provider = postgres();
    const { user, password } = issued(await provider.grant(ctx));
    expect((await loginError(user, password)).code).toBe('28P01');
    await provider.revoke(ctx);
  });

  it('a call blocked inside the server is cut off by its signal, and the next one works', async () => {
    const ctx = callContext(TARGET);
    const role = grantRoleName(ctx.user.slackId, ctx.grantId);
    await superuser.query('BEGIN');
    await superuser.query('SELECT pg_advisory_xact_lock(hashtext($1))', [role]);
    try {
      await expect(postgres().grant({ ...ctx, signal: AbortSignal.timeout(200) })).rejects.toThrow(
        'postgres grant timed out',
      );
    } finally {
      await superuser.query('ROLLBACK');
    }
    expect(await roleCount(role)).toBe(0);
    await postgres().grant(ctx);
    expect(await roleCount(role)).toBe(1);
    await postgres().revoke(ctx);
  });

  it('a target role that does not exist fails the grant and leaves nothing behind', async () => {
    const ctx = callContext({ roles: ['analytics_ro', 'no_such_role'] });
    await expect(postgres().grant(ctx)).rejects.toThrow(
      /^postgres grant failed: role "no_such_role" does not exist/,
    );
    expect(await postgres().check!(ctx)).toBe(false);
  });

  it('a role that came to own objects is locked out, and revoke fails until they are gone', async () => {
    const provider = postgres();
    const ctx = callContext({ roles: ['scratch_rw'] });
    const { user, password } = issued(await provider.grant(ctx));
    const session = await login(user, password);
    await session.query('CREATE TABLE scratch.leftover (x int)');
    await expect(provider.revoke(ctx)).rejects.toThrow(
      /^postgres revoke failed: role ".*" cannot be dropped because some objects depend on it/,
    );
    await expect(session.query('SELECT 1')).rejects.toThrow();
    await session.end().catch(() => undefined);
    expect((await loginError(user, password)).code).toBe('28000');
    expect(await provider.check!(ctx)).toBe(true);

    await superuser.query('DROP TABLE scratch.leftover');
    await provider.revoke(ctx);
    expect(await provider.check!(ctx)).toBe(false);
  });

  it('says why the admin cannot connect without repeating its password or URL', async () => {
    const url = pg.urlFor(ADMIN.user, 'wrong-admin-password');
    const error = (await postgres({ url })
      .grant(callContext(TARGET))
      .catch((err: Error) => err)) as Error;
    expect(error.message).toMatch(/^postgres grant failed: password authentication failed/);
    expect(error.message).not.toContain('wrong-admin-password');
    expect(error.message).not.toContain(url);
  });
});
