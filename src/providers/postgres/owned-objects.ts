import { createHash } from 'node:crypto';
import { escapeIdentifier, type Client } from 'pg';
import { inTransaction, sqlState } from './admin-session';
import type { HandedOver } from './revoke-memo';

/** The role that takes over what a grant's role created, and whether Hallpass looks after it. */
export interface LeftoversOwner {
  role: string;
  /**
   * Hallpass's own default: `role` is then a group, and each grant's leftovers get an owner of
   * their own in it (leftoversOwnerOf), which Hallpass creates and joins.
   */
  managed: boolean;
}

/**
 * The owner of what one grant's role left, under Hallpass's own default: a NOLOGIN role of its
 * own, so that code one holder left (a SECURITY DEFINER function, an index expression run on
 * ANALYZE, a view) runs as a role that owns that holder's objects only, never another grant's.
 * Derived from the grant's role, so a retry finds the one an earlier attempt made.
 */
export function leftoversOwnerOf(group: string, grantRole: string): string {
  return `${group}_${createHash('sha256').update(grantRole).digest('hex').slice(0, 16)}`;
}

/** Runs `work` on an admin connection to another database of the cluster. */
export type InDatabase = <T>(database: string, work: (client: Client) => Promise<T>) => Promise<T>;

interface GrantRole {
  name: string;
  oid: number;
}

/** Attributes that would let code in a handed-over object reach beyond the objects themselves. */
const POWERS = ['rolsuper', 'rolcreaterole', 'rolcreatedb', 'rolreplication', 'rolbypassrls'];

/**
 * Hands what the grant's role owns to `owner` and drops its privileges, in every database where
 * pg_shdepend (a shared catalog, the same from any database) says the role owns objects or holds
 * privileges, so that DROP ROLE can succeed. Listing them there finds every database without
 * configuration, including ones the holder created objects in that nobody thought of. REASSIGN
 * OWNED and DROP OWNED act on the current database only (and on shared objects), hence one
 * connection per database. Each database's step is one transaction and finds nothing left to do
 * when repeated, so a revoke that failed half-way is simply called again. `onHandOver` hears of
 * the objects of a database before they change owner.
 */
export async function handOverOwned(
  client: Client,
  role: GrantRole,
  owner: LeftoversOwner,
  inDatabase: InDatabase,
  onHandOver: (objects: HandedOver[]) => Promise<void>,
): Promise<void> {
  const { rows } = await client.query<{ database: string; owns: boolean; here: boolean }>(
    `SELECT COALESCE(d.datname, current_database()) AS database,
            bool_or(s.deptype = 'o') AS owns,
            COALESCE(d.datname, current_database()) = current_database() AS here
       FROM pg_shdepend s LEFT JOIN pg_database d ON d.oid = s.dbid
      WHERE s.refclassid = 'pg_authid'::regclass AND s.refobjid = $1
      GROUP BY 1
      ORDER BY 3 DESC, 1`,
    [role.oid],
  );
  if (rows.length === 0) return;
  await takePrivilegesOf(client, role);
  const to = owner.managed ? leftoversOwnerOf(owner.role, role.name) : owner.role;
  if (rows.some((row) => row.owns))
    await (owner.managed ? prepareOwnOwner(client, owner.role, to) : checkOwner(client, to));
  for (const { database, owns, here } of rows) {
    const work = async (session: Client) => {
      if (owns) await onHandOver(await ownedObjects(session, role, database, to));
      await inTransaction(session, async () => {
        if (owns) await reassign(session, role, to, owner, database);
        await session.query(`DROP OWNED BY ${escapeIdentifier(role.name)}`);
      });
    };
    if (here) await work(client);
    else await inDatabase(database, work);
  }
}

/**
 * REASSIGN OWNED and DROP OWNED need the privileges of the role whose objects they touch. The
 * admin created the role, so its CREATEROLE (ADMIN OPTION from PostgreSQL 16) lets it join it; the
 * membership goes with the role when it is dropped, and the role has no memberships left by now.
 */
async function takePrivilegesOf(client: Client, role: GrantRole): Promise<void> {
  const { rows } = await client.query<{ has: boolean }>(
    "SELECT pg_has_role(current_user, $1::oid, 'USAGE') AS has",
    [role.oid],
  );
  if (!rows[0]?.has) await client.query(`GRANT ${escapeIdentifier(role.name)} TO CURRENT_USER`);
}

/**
 * Hallpass's own default: the group (NOLOGIN, no attributes, owning nothing, so that a DBA may
 * give it CREATE on a schema for routines to be handed over) and the grant's own owner in it,
 * both created when first needed; the admin joins the grant's owner, as REASSIGN OWNED needs.
 */
async function prepareOwnOwner(client: Client, group: string, owner: string): Promise<void> {
  await inTransaction(client, async () => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [group]);
    const { rows } = await client.query<{ rolname: string }>(
      'SELECT rolname FROM pg_roles WHERE rolname = ANY($1)',
      [[group, owner]],
    );
    const exists = new Set(rows.map((row) => row.rolname));
    if (!exists.has(group)) await client.query(`CREATE ROLE ${escapeIdentifier(group)} NOLOGIN`);
    if (exists.has(owner)) return;
    const id = escapeIdentifier(owner);
    await client.query(`CREATE ROLE ${id} NOLOGIN IN ROLE ${escapeIdentifier(group)}`);
    await client.query(`GRANT ${id} TO CURRENT_USER`);
  });
}

/**
 * A role named in the config must exist, carry no attribute that code in the objects could use
 * (an index expression runs as the table's owner on ANALYZE; a SECURITY DEFINER function as its
 * owner), and the admin must have its privileges. Hallpass does not join it, since that would
 * give the admin that role's privileges for good.
 */
async function checkOwner(client: Client, owner: string): Promise<void> {
  const id = escapeIdentifier(owner);
  const setting = `reassignOwnedTo role "${owner}"`;
  const { rows } = await client.query<Record<string, boolean>>(
    `SELECT ${POWERS.join(', ')} FROM pg_roles WHERE rolname = $1`,
    [owner],
  );
  const found = rows[0];
  if (!found) {
    throw new Error(
      `${setting} does not exist: create it (CREATE ROLE ${id} NOLOGIN) and grant it to the admin role`,
    );
  }
  const powers = POWERS.filter((power) => found[power]).map((p) => p.slice(3).toUpperCase());
  if (powers.length > 0) {
    throw new Error(
      `${setting} has ${powers.join(', ')}: code in the objects it would take over (index expressions, SECURITY DEFINER functions) would run with it; use a NOLOGIN role without these attributes`,
    );
  }
  const member = await client.query<{ has: boolean; admin: string }>(
    "SELECT pg_has_role(current_user, $1, 'USAGE') AS has, current_user AS admin",
    [owner],
  );
  if (!member.rows[0]?.has) {
    throw new Error(
      `the admin role is not a member of ${setting}, which REASSIGN OWNED needs: GRANT ${id} TO ${escapeIdentifier(member.rows[0]?.admin ?? '')}`,
    );
  }
}

/** How PostgreSQL names what the role owns in this database (default privileges are dropped, not kept). */
async function ownedObjects(
  session: Client,
  role: GrantRole,
  database: string,
  owner: string,
): Promise<HandedOver[]> {
  const { rows } = await session.query<{ object: string }>(
    `SELECT left(pg_describe_object(classid, objid, objsubid), 500) AS object
       FROM pg_shdepend
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND refclassid = 'pg_authid'::regclass AND refobjid = $1 AND deptype = 'o'
        AND classid <> 'pg_default_acl'::regclass
      ORDER BY 1`,
    [role.oid],
  );
  return rows.map(({ object }) => ({ database, object, owner }));
}

/**
 * Functions, operators and other routines change owner only if the new owner may CREATE in their
 * schema (tables, views, sequences and types do not ask); say so rather than PostgreSQL's bare
 * "permission denied for schema".
 */
async function reassign(
  session: Client,
  role: GrantRole,
  to: string,
  owner: LeftoversOwner,
  database: string,
): Promise<void> {
  try {
    await session.query(
      `REASSIGN OWNED BY ${escapeIdentifier(role.name)} TO ${escapeIdentifier(to)}`,
    );
  } catch (err) {
    const message = (err as Error).message;
    if (sqlState(err) !== '42501' || !message.startsWith('permission denied for schema')) throw err;
    const who = owner.managed ? `${to} (through the group ${owner.role})` : to;
    throw new Error(
      `${message} (database "${database}"): ${who} must be allowed to CREATE in that schema to take over the functions or other routines the grant's role created there (GRANT CREATE ON SCHEMA … TO ${escapeIdentifier(owner.role)}), or a DBA drops them`,
    );
  }
}
