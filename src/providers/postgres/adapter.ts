import { escapeIdentifier, escapeLiteral, type Client, type ClientConfig } from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';
import { z } from 'zod';
import { registerSecret } from '../../log';
import type { ProviderAdapter, ProviderCallContext } from '../types';
import { inTransaction, lockRole, withAdminSession } from './admin-session';
import type { LeftoversOwner } from './owned-objects';
import { revokeRole } from './revoke';
import { grantRoleName, newPassword } from './role-name';
import { scramVerifier } from './scram';

const postgresUrl = z
  .string()
  .refine(
    (text) => URL.canParse(text) && /^postgres(ql)?:$/.test(new URL(text).protocol),
    'must be a postgres:// or postgresql:// connection URL',
  );

const roleName = z
  .string()
  .max(63)
  .regex(/^[A-Za-z_][A-Za-z0-9_$-]*$/, 'must be a role name like analytics_ro');

/** Who owns what a grant's role created, once the role is gone, unless the config names another. */
const DEFAULT_LEFTOVERS_ROLE = 'hallpass_leftovers';

const postgresConfig = z
  .strictObject({
    url: postgresUrl,
    connect: z
      .strictObject({
        host: z.string().min(1).optional(),
        port: z.number().int().min(1).max(65535).optional(),
        database: z.string().min(1).optional(),
      })
      .default({}),
    ssl: z.boolean().optional(),
    reassignOwnedTo: roleName.optional(),
  })
  .refine(
    (config) =>
      config.reassignOwnedTo === undefined ||
      !URL.canParse(config.url) ||
      decodeURIComponent(new URL(config.url).username) !== config.reassignOwnedTo,
    {
      path: ['reassignOwnedTo'],
      message:
        'must not be the admin role: code in the objects it takes over would run with CREATEROLE; use a NOLOGIN role of its own',
    },
  );

const postgresTarget = z.strictObject({
  roles: z.array(roleName).min(1, 'must name at least one role'),
});

export type PostgresConfig = z.infer<typeof postgresConfig>;
export type PostgresTarget = z.infer<typeof postgresTarget>;

/** What `grant` keeps with the grant: the role's name, so a later call knows it is a re-grant. */
interface PostgresState {
  role: string;
}

interface Endpoint {
  host: string;
  port: number;
  database: string;
}

export const postgresAdapter: ProviderAdapter<PostgresConfig, PostgresTarget> = {
  type: 'postgres',
  configSchema: postgresConfig,
  targetSchema: postgresTarget,
  placeOf: (config) => ({ url: serverOf(config) }),
  create(config) {
    const url = new URL(config.url);
    registerSecret(decodeURIComponent(url.password));
    registerSecret(config.url);
    const settings: ClientConfig = {
      connectionString: config.url,
      ...(config.ssl === undefined ? {} : { ssl: config.ssl }),
    };
    const endpoint = endpointOf(url, config);
    const session = <T>(
      ctx: ProviderCallContext<unknown>,
      what: string,
      work: (c: Client) => Promise<T>,
    ) => withAdminSession(settings, ctx.signal, `postgres ${what}`, work);
    const owner: LeftoversOwner = {
      role: config.reassignOwnedTo ?? DEFAULT_LEFTOVERS_ROLE,
      managed: config.reassignOwnedTo === undefined,
    };

    return {
      guarantees: { enforcesExpiry: true, endsOpenSessions: true, isolation: 'per-grant' },
      grant: (ctx) =>
        session(ctx, 'grant', async (client) => {
          const role = grantRoleName(ctx.user.slackId, ctx.grantId);
          const password = await ensureRole(client, role, ctx);
          const state: PostgresState = { role };
          if (password === undefined) return { state };
          const text = credentialsText(
            endpoint,
            role,
            password,
            ctx.expiresAt,
            config.ssl === true,
          );
          return { state, credentials: { text, secrets: [password] } };
        }),
      revoke: (ctx) =>
        session(ctx, 'revoke', (client) =>
          revokeRole(client, grantRoleName(ctx.user.slackId, ctx.grantId), {
            owner,
            signal: ctx.signal,
            inDatabase: (database, work) =>
              withAdminSession(
                settingsInDatabase(config, database),
                ctx.signal,
                `postgres revoke in database "${database}"`,
                work,
              ),
          }),
        ),
      check: (ctx) =>
        session(ctx, 'check', (client) =>
          roleExists(client, grantRoleName(ctx.user.slackId, ctx.grantId)),
        ),
    };
  },
};

/**
 * Creates the grant's role, or brings an existing one up to date. A first activation (no state
 * yet, which includes a retry whose answer was lost) sets a fresh password and returns it; a
 * re-grant after an extension only moves VALID UNTIL and returns nothing, since the holder
 * already has their password. DDL takes no bind parameters, hence the escaping.
 */
async function ensureRole(
  client: Client,
  role: string,
  ctx: ProviderCallContext<PostgresTarget>,
): Promise<string | undefined> {
  const id = escapeIdentifier(role);
  const validUntil = `VALID UNTIL ${escapeLiteral(ctx.expiresAt.toISOString())}`;
  const memberOf = ctx.resource.target.roles.map(escapeIdentifier).join(', ');
  return inTransaction(client, async () => {
    await lockRole(client, role);
    const exists = await roleExists(client, role);
    let password: string | undefined;
    if (exists && ctx.state != null) {
      await client.query(`ALTER ROLE ${id} LOGIN ${validUntil}`);
    } else {
      password = newPassword();
      const secret = `PASSWORD ${escapeLiteral(scramVerifier(password))}`;
      await client.query(
        exists
          ? `ALTER ROLE ${id} LOGIN ${secret} ${validUntil}`
          : `CREATE ROLE ${id} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE ${secret} ${validUntil}`,
      );
    }
    await client.query(`GRANT ${memberOf} TO ${id}`);
    return password;
  });
}

async function roleExists(client: Client, role: string): Promise<boolean> {
  const found = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  return (found.rowCount ?? 0) > 0;
}

/**
 * The admin connection's settings, pointed at another database of the same cluster. Not through
 * the URL: pg reads its path with decodeURI, which leaves `%26`, `%2F`, `%40`… encoded, so a
 * database named `ops&audit` could not be reached; parsed as pg parses it, with the name set.
 */
function settingsInDatabase(config: PostgresConfig, database: string): ClientConfig {
  const parsed = parseConnectionString(config.url) as ClientConfig;
  return { ...(config.ssl === undefined ? {} : { ssl: config.ssl }), ...parsed, database };
}

/**
 * The server and database the roles live in, as the admin connection reaches them (`url` as pg
 * parses it): not the login, which may be rotated, nor `connect`, which only tells holders where
 * to connect.
 */
function serverOf(config: PostgresConfig): Endpoint {
  const parsed = parseConnectionString(config.url);
  const user = parsed.user ?? '';
  return {
    host: parsed.host || 'localhost',
    port: Number(parsed.port) || 5432,
    // libpq's default: the database named like the user.
    database: parsed.database || user || 'postgres',
  };
}

function endpointOf(url: URL, config: PostgresConfig): Endpoint {
  const urlDatabase = decodeURIComponent(url.pathname.replace(/^\//, ''));
  return {
    host: config.connect.host ?? (url.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost'),
    port: config.connect.port ?? (Number(url.port) || 5432),
    // libpq's default: the database named like the user.
    database:
      config.connect.database ?? (urlDatabase || decodeURIComponent(url.username) || 'postgres'),
  };
}

/** Slack mrkdwn for the DM. The psql line asks for the password rather than carrying it, to keep it out of shell history. */
function credentialsText(
  endpoint: Endpoint,
  role: string,
  password: string,
  expiresAt: Date,
  ssl: boolean,
): string {
  const conninfo = [
    `host=${endpoint.host}`,
    `port=${endpoint.port}`,
    `dbname=${endpoint.database}`,
    `user=${role}`,
    ...(ssl ? ['sslmode=verify-full'] : []),
  ].join(' ');
  return [
    '*PostgreSQL access*',
    `• host: \`${endpoint.host}\``,
    `• port: \`${endpoint.port}\``,
    `• database: \`${endpoint.database}\``,
    `• user: \`${role}\``,
    `• password: \`${password}\``,
    `• valid until: ${expiresAt.toISOString()}`,
    `\`\`\`psql "${conninfo}"\`\`\``,
    'psql asks for the password. PostgreSQL refuses this login after the time above.',
  ].join('\n');
}
