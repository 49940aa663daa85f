import { setTimeout as sleep } from 'node:timers/promises';
import { escapeIdentifier, type Client } from 'pg';
import type { RevokeResult } from '../types';
import { activityReport, openSessions, recordedStatements } from './activity';
import { inTransaction, lockRole, sqlState } from './admin-session';
import { handOverOwned, type InDatabase, type LeftoversOwner } from './owned-objects';
import { readMemo, withHandedOver, withSessions, writeMemo, type RevokeMemo } from './revoke-memo';

/** How long a revoke waits for the sessions it ended to be gone before it goes on. */
const SESSION_EXIT_MS = 5_000;

export interface RevokeOptions {
  owner: LeftoversOwner;
  inDatabase: InDatabase;
  signal: AbortSignal;
}

/**
 * Closes the role to logins and strips its memberships, notes its open sessions and ends them,
 * reads what it did, hands over what it owns in every database, then drops it. Each step is safe
 * to repeat, so a revoke that failed half-way is simply called again; what a step learned and
 * PostgreSQL then forgets (the sessions, the objects) is kept on the role until it is dropped.
 * Nothing is reported when the role is already gone.
 */
export async function revokeRole(
  client: Client,
  role: string,
  options: RevokeOptions,
): Promise<RevokeResult | undefined> {
  const closed = await closeRole(client, role);
  if (!closed) return undefined;
  let memo = closed.memo;
  await endSessions(client, closed.oid, options.signal);
  // After the sessions are gone, so the counts are final; before the drop, as they are keyed by the role's oid.
  const statements = await recordedStatements(client, closed.oid);
  await handOverOwned(
    client,
    { name: role, oid: closed.oid },
    options.owner,
    options.inDatabase,
    async (objects) => {
      memo = withHandedOver(memo, objects);
      await writeMemo(client, role, memo);
    },
  );
  await dropRole(client, role);
  return { activity: activityReport(statements, memo.sessions, memo.kept) };
}

async function closeRole(
  client: Client,
  role: string,
): Promise<{ oid: number; memo: RevokeMemo } | undefined> {
  const id = escapeIdentifier(role);
  return inTransaction(client, async () => {
    await lockRole(client, role);
    const found = await client.query<{ oid: number }>(
      'SELECT oid FROM pg_roles WHERE rolname = $1',
      [role],
    );
    const oid = found.rows[0]?.oid;
    if (oid === undefined) return undefined;
    await client.query(`ALTER ROLE ${id} NOLOGIN`);
    const memberships = await client.query<{ name: string }>(
      'SELECT g.rolname AS name FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = $1',
      [oid],
    );
    const names = [...new Set(memberships.rows.map((row) => escapeIdentifier(row.name)))];
    if (names.length > 0) await client.query(`REVOKE ${names.join(', ')} FROM ${id}`);
    const memo = withSessions(await readMemo(client, oid), await openSessions(client, oid));
    await writeMemo(client, role, memo);
    return { oid, memo };
  });
}

/**
 * pg_terminate_backend only signals; waiting for the sessions to exit makes the statement counts
 * final and lets a statement that was being cut off roll back before the role's objects are listed.
 */
async function endSessions(client: Client, oid: number, signal: AbortSignal): Promise<void> {
  await client.query(
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usesysid = $1 AND pid <> pg_backend_pid()',
    [oid],
  );
  const started = Date.now();
  while (Date.now() - started < SESSION_EXIT_MS) {
    const { rows } = await client.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE usesysid = $1',
      [oid],
    );
    if (rows[0]?.n === 0) return;
    await sleep(25, undefined, { signal });
  }
}

/**
 * DROP OWNED revokes only the privileges the admin could revoke itself: those another role
 * granted to this one directly (a DBA, another grant's role) stay, and PostgreSQL lists them.
 */
async function dropRole(client: Client, role: string): Promise<void> {
  try {
    await client.query(`DROP ROLE IF EXISTS ${escapeIdentifier(role)}`);
  } catch (err) {
    if (sqlState(err) !== '2BP01') throw err;
    const detail = (err as { detail?: string }).detail?.replace(/\n/g, '; ');
    throw new Error(
      `${(err as Error).message} [2BP01]${detail ? ` (${detail})` : ''}: the admin role cannot revoke privileges another role granted to it; that role must (REVOKE … FROM ${escapeIdentifier(role)}), then the revoke completes`,
    );
  }
}
