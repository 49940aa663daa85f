import { createServer, type Socket } from 'node:net';
import { Client, escapeIdentifier } from 'pg';
import { postgresAdapter, type PostgresTarget } from '../../src/providers/postgres/adapter';
import { leftoversOwnerOf } from '../../src/providers/postgres/owned-objects';
import { grantRoleName } from '../../src/providers/postgres/role-name';
import type { GrantResult, Provider, RevokeResult } from '../../src/providers/types';
import { createProviderAdmin, startPostgres, type TestPostgres } from '../support/postgres';
import { callContext, providerContract } from './contract';

const ADMIN = { user: 'hallpass_admin', password: 'admin-Pa55word-for-tests' };
const TARGET: PostgresTarget = { roles: ['analytics_ro'] };
const HOUR = 3_600_000;
/** Who owns what the grant role `user` left, under the default. */
const leftoversOf = (user: string) => leftoversOwnerOf('hallpass_leftovers', user);

/** A name a URL's path cannot carry to pg (it reads the path with decodeURI: `%26` stays). */
const SECOND_DB = 'ops&second';

let pg: TestPostgres;
let superuser: Client;
let superuserInSecond: Client;

/**
 * The admin role the docs ask for, no more (createProviderAdmin). The target data belongs to the
 * superuser; `scratch_rw` may create tables in schema `scratch` of two databases, and in
 * `public`.
 */
beforeAll(async () => {
  pg = await startPostgres();
  superuser = new Client({ connectionString: pg.adminUrl });
  await superuser.connect();
  await superuser.query(`
    CREATE ROLE analytics_ro NOLOGIN;
    CREATE TABLE metrics (id int);
    INSERT INTO metrics VALUES (1), (2);
    GRANT SELECT ON metrics TO analytics_ro;
    CREATE SCHEMA scratch;
    CREATE ROLE scratch_rw NOLOGIN;
    GRANT USAGE, CREATE ON SCHEMA scratch TO scratch_rw;
    GRANT SELECT ON metrics TO scratch_rw;
    GRANT CREATE ON SCHEMA public TO scratch_rw;
    CREATE ROLE stash_keeper NOLOGIN;
  `);
  await superuser.query(`CREATE DATABASE ${escapeIdentifier(SECOND_DB)}`);
  await createProviderAdmin(superuser, ADMIN, ['analytics_ro', 'scratch_rw']);
  superuserInSecond = new Client({
    host: pg.host,
    port: pg.port,
    database: SECOND_DB,
    user: 'postgres',
    password: decodeURIComponent(new URL(pg.adminUrl).password),
  });
  await superuserInSecond.connect();
  await superuserInSecond.query(`
    CREATE SCHEMA scratch;
    GRANT USAGE, CREATE ON SCHEMA scratch TO scratch_rw;
  `);
});

afterAll(async () => {
  await superuserInSecond?.end();
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

async function login(user: string, password: string, database = 'postgres'): Promise<Client> {
  const client = new Client({ host: pg.host, port: pg.port, database, user, password });
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

describe('postgres revoke of a role that created objects', () => {
  const SCRATCH = { roles: ['scratch_rw'] };

  async function ownerOf(client: Client, relation: string): Promise<string> {
    const { rows } = await client.query<{ owner: string }>(
      'SELECT relowner::regrole::text AS owner FROM pg_class WHERE oid = $1::regclass',
      [relation],
    );
    return rows[0]!.owner;
  }

  async function adminMemberships(): Promise<string[]> {
    const { rows } = await superuser.query<{ name: string }>(
      `SELECT g.rolname AS name FROM pg_auth_members m
         JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles a ON a.oid = m.member
        WHERE a.rolname = $1 ORDER BY 1`,
      [ADMIN.user],
    );
    return rows.map((row) => row.name);
  }

  /** A grant of scratch_rw whose holder runs `sql` in `database`, then disconnects. */
  async function holderCreates(
    provider: Provider<PostgresTarget>,
    statements: { database?: string; sql: string }[],
  ) {
    const ctx = callContext(SCRATCH);
    const { user, password } = issued(await provider.grant(ctx));
    for (const { database, sql } of statements) {
      const session = await login(user, password, database);
      try {
        await session.query(sql);
      } finally {
        await session.end();
      }
    }
    return { ctx, user, password };
  }

  it('hands a table to an owner of its own in hallpass_leftovers, keeps its rows and drops the role', async () => {
    const provider = postgres();
    const { ctx, user } = await holderCreates(provider, [
      { sql: 'CREATE TABLE public.stash AS SELECT id FROM metrics' },
    ]);
    const { activity } = (await provider.revoke(ctx)) as RevokeResult;
    expect(await roleCount(user)).toBe(0);
    expect(await provider.check!(ctx)).toBe(false);
    const owner = leftoversOf(user);
    expect(await ownerOf(superuser, 'public.stash')).toBe(owner);
    const kept = await superuser.query('SELECT count(*)::int AS n FROM public.stash');
    expect(kept.rows[0].n).toBe(2);
    expect(activity?.details.keptObjects).toEqual([
      { database: 'postgres', object: 'table public.stash', owner },
    ]);
    expect(activity?.summary).toMatch(
      new RegExp(`; kept 1 object it created, now owned by ${owner}$`),
    );
    // The admin joined the role it dropped and the NOLOGIN owner it created, nothing else.
    expect(await adminMemberships()).toEqual(
      ['analytics_ro', owner, 'pg_read_all_stats', 'pg_signal_backend', 'scratch_rw'].sort(),
    );
    const leftovers = await superuser.query(
      `SELECT rolcanlogin, rolcreaterole, rolcreatedb, rolsuper FROM pg_roles WHERE rolname = $1`,
      [owner],
    );
    expect(leftovers.rows[0]).toEqual({
      rolcanlogin: false,
      rolcreaterole: false,
      rolcreatedb: false,
      rolsuper: false,
    });
  });

  it("gives no holder's leftover code the reach of another grant's leftover data", async () => {
    await superuser.query(`
      CREATE TABLE public.pii (email text);
      INSERT INTO public.pii VALUES ('vip@example.com');
      GRANT SELECT ON public.pii TO analytics_ro;
    `);
    const provider = postgres();
    await superuser.query('GRANT CREATE ON SCHEMA public TO hallpass_leftovers');
    try {
      // B may read pii, and keeps a copy in a table of its own.
      const b = callContext({ roles: ['scratch_rw', 'analytics_ro'] });
      const bLogin = issued(await provider.grant(b));
      const bSession = await login(bLogin.user, bLogin.password);
      await bSession.query('CREATE TABLE public.b_copy AS SELECT email FROM public.pii');
      await bSession.end();
      await provider.revoke(b);
      // A never could: it leaves a SECURITY DEFINER function, which runs as its owner.
      const { ctx: a } = await holderCreates(provider, [
        {
          sql: `CREATE FUNCTION public.peek(q text) RETURNS SETOF text LANGUAGE plpgsql
                  SECURITY DEFINER AS $$ BEGIN RETURN QUERY EXECUTE q; END $$`,
        },
      ]);
      await provider.revoke(a);
      const { ctx: later, user, password } = await holderCreates(provider, []);
      const session = await login(user, password);
      const peeked = await session
        .query("SELECT public.peek('SELECT email FROM public.b_copy')")
        .then(
          () => 'read',
          (err: Error) => err.message,
        );
      await session.end();
      await provider.revoke(later);
      expect(peeked).toBe('permission denied for table b_copy');
    } finally {
      await superuser.query('DROP FUNCTION IF EXISTS public.peek(text)');
      await superuser.query('DROP TABLE IF EXISTS public.b_copy, public.pii');
      await superuser.query('REVOKE CREATE ON SCHEMA public FROM hallpass_leftovers');
    }
  });

  it('hands them to the role named in reassignOwnedTo', async () => {
    await superuser.query(`GRANT stash_keeper TO ${ADMIN.user}`);
    const provider = postgres({ reassignOwnedTo: 'stash_keeper' });
    const { ctx, user } = await holderCreates(provider, [
      { sql: 'CREATE TABLE scratch.kept (x int)' },
    ]);
    await provider.revoke(ctx);
    expect(await roleCount(user)).toBe(0);
    expect(await ownerOf(superuser, 'scratch.kept')).toBe('stash_keeper');
  });

  it('finds the objects it owns in every database', async () => {
    const provider = postgres();
    const { ctx, user } = await holderCreates(provider, [
      { sql: 'CREATE TABLE scratch.here (x int)' },
      { database: SECOND_DB, sql: 'CREATE TABLE scratch.there (x int)' },
    ]);
    const { activity } = (await provider.revoke(ctx)) as RevokeResult;
    expect(await roleCount(user)).toBe(0);
    const owner = leftoversOf(user);
    expect(await ownerOf(superuser, 'scratch.here')).toBe(owner);
    expect(await ownerOf(superuserInSecond, 'scratch.there')).toBe(owner);
    expect(activity?.details.keptObjects).toEqual([
      { database: 'postgres', object: 'table scratch.here', owner },
      { database: SECOND_DB, object: 'table scratch.there', owner },
    ]);
  });

  it('says which privileges others granted to the role directly keep it, until they revoke them', async () => {
    const provider = postgres();
    const { ctx, user } = await holderCreates(provider, [
      { sql: 'CREATE TABLE scratch.granted (x int)' },
    ]);
    await superuser.query(`GRANT SELECT ON metrics TO ${user}`);
    await superuser.query(`GRANT CONNECT ON DATABASE ${escapeIdentifier(SECOND_DB)} TO ${user}`);
    await expect(provider.revoke(ctx)).rejects.toThrow(
      `postgres revoke failed: role "${user}" cannot be dropped because some objects depend on it [2BP01] (privileges for table public.metrics; privileges for database ${SECOND_DB}): the admin role cannot revoke privileges another role granted to it; that role must (REVOKE … FROM "${user}"), then the revoke completes`,
    );
    expect(await ownerOf(superuser, 'scratch.granted')).toBe(leftoversOf(user));
    await superuser.query(`REVOKE SELECT ON metrics FROM ${user}`);
    await superuser.query(`REVOKE CONNECT ON DATABASE ${escapeIdentifier(SECOND_DB)} FROM ${user}`);
    await provider.revoke(ctx);
    expect(await roleCount(user)).toBe(0);
  });

  it('a revoke cut off half-way is simply called again, and still reports all it did', async () => {
    const provider = postgres();
    const { ctx, user, password } = await holderCreates(provider, [
      { sql: 'CREATE TABLE scratch.half_here (x int)' },
      { database: SECOND_DB, sql: 'CREATE TABLE scratch.half_there (x int)' },
    ]);
    const open = await login(user, password, SECOND_DB);
    // Changing the owner needs an exclusive lock: the revoke blocks in the second database.
    await superuserInSecond.query('BEGIN');
    await superuserInSecond.query('LOCK TABLE scratch.half_there IN ACCESS SHARE MODE');
    try {
      await expect(provider.revoke({ ...ctx, signal: AbortSignal.timeout(2000) })).rejects.toThrow(
        'postgres revoke timed out',
      );
      expect(await provider.check!(ctx)).toBe(true);
      expect(await ownerOf(superuser, 'scratch.half_here')).toBe(leftoversOf(user));
      expect(await ownerOf(superuserInSecond, 'scratch.half_there')).toBe(user);
    } finally {
      await superuserInSecond.query('ROLLBACK');
    }
    await expect(open.query('SELECT 1')).rejects.toThrow();
    await open.end().catch(() => undefined);
    expect((await loginError(user, password)).code).toBe('28000');

    const { activity } = (await provider.revoke(ctx)) as RevokeResult;
    expect(await roleCount(user)).toBe(0);
    expect(await ownerOf(superuserInSecond, 'scratch.half_there')).toBe(leftoversOf(user));
    expect(activity?.details.keptObjects?.map((k) => k.object)).toEqual([
      'table scratch.half_here',
      'table scratch.half_there',
    ]);
    // The session the first attempt ended is still reported.
    expect(activity?.details.sessions).toEqual([
      { database: SECOND_DB, connectedAt: expect.any(String), openMs: expect.any(Number) },
    ]);
  });

  it('a function needs CREATE in its schema for the new owner: the revoke says so, then completes', async () => {
    const provider = postgres();
    const { ctx, user, password } = await holderCreates(provider, [
      { sql: "CREATE FUNCTION scratch.helper() RETURNS int LANGUAGE sql AS 'SELECT 1'" },
    ]);
    await expect(provider.revoke(ctx)).rejects.toThrow(
      /^postgres revoke failed: permission denied for schema scratch \(database "postgres"\): hallpass_leftovers_\w+ \(through the group hallpass_leftovers\) must be allowed to CREATE in that schema .*GRANT CREATE ON SCHEMA … TO "hallpass_leftovers"/,
    );
    expect((await loginError(user, password)).code).toBe('28000');
    await superuser.query('GRANT CREATE ON SCHEMA scratch TO hallpass_leftovers');
    try {
      await provider.revoke(ctx);
    } finally {
      await superuser.query('REVOKE CREATE ON SCHEMA scratch FROM hallpass_leftovers');
    }
    expect(await roleCount(user)).toBe(0);
    const { rows } = await superuser.query(
      `SELECT proowner::regrole::text AS owner FROM pg_proc WHERE proname = 'helper'`,
    );
    expect(rows).toEqual([{ owner: leftoversOf(user) }]);
  });

  it('refuses an owner whose powers code in the objects could borrow, or that it may not use', async () => {
    expect(
      postgresAdapter.configSchema.safeParse({
        url: pg.urlFor(ADMIN.user, ADMIN.password),
        reassignOwnedTo: ADMIN.user,
      }).error?.issues,
    ).toEqual([
      expect.objectContaining({
        path: ['reassignOwnedTo'],
        message: expect.stringMatching(/^must not be the admin role/),
      }),
    ]);
    await superuser.query(`
      CREATE ROLE powerful_owner NOLOGIN CREATEROLE;
      GRANT powerful_owner TO ${ADMIN.user};
      CREATE ROLE distant_owner NOLOGIN;
    `);
    const { ctx, user } = await holderCreates(postgres(), [
      { sql: 'CREATE TABLE scratch.contested (x int)' },
    ]);
    await expect(postgres({ reassignOwnedTo: 'powerful_owner' }).revoke(ctx)).rejects.toThrow(
      /reassignOwnedTo role "powerful_owner" has CREATEROLE: code in the objects it would take over/,
    );
    await expect(postgres({ reassignOwnedTo: 'distant_owner' }).revoke(ctx)).rejects.toThrow(
      /the admin role is not a member of reassignOwnedTo role "distant_owner", which REASSIGN OWNED needs: GRANT "distant_owner" TO "hallpass_admin"/,
    );
    await expect(postgres({ reassignOwnedTo: 'no_such_owner' }).revoke(ctx)).rejects.toThrow(
      /reassignOwnedTo role "no_such_owner" does not exist/,
    );
    expect(await ownerOf(superuser, 'scratch.contested')).toBe(user);
    await postgres().revoke(ctx);
    expect(await ownerOf(superuser, 'scratch.contested')).toBe(leftoversOf(user));
  });
});
