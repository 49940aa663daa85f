import { Socket } from 'node:net';
import { Client, type ClientConfig } from 'pg';
import { abortReason } from '../abort';

/** A failed admin session, already saying which one and why: an enclosing session passes it on. */
export class PostgresCallError extends Error {}

/**
 * Runs `work` on a fresh connection of the admin role and closes it. The socket is ours so that an
 * abort can cut it, which fails a pending connect or query at once (pg takes no AbortSignal).
 */
export async function withAdminSession<T>(
  settings: ClientConfig,
  signal: AbortSignal,
  what: string,
  work: (client: Client) => Promise<T>,
): Promise<T> {
  if (signal.aborted) throw new PostgresCallError(`${what} ${abortReason(signal)}`);
  const socket = new Socket();
  const client = new Client({ ...settings, stream: () => socket });
  // Errors reach the pending call; an 'error' event without a listener would crash the process.
  client.on('error', () => undefined);
  const onAbort = () => socket.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect();
    // Holders may create objects in schemas on the default path: nothing of theirs may stand in
    // for a catalog function the admin calls. Object names are then printed schema-qualified.
    await client.query('SET search_path TO pg_catalog');
    return await work(client);
  } catch (err) {
    if (signal.aborted) throw new PostgresCallError(`${what} ${abortReason(signal)}`);
    if (err instanceof PostgresCallError) throw err;
    throw new PostgresCallError(`${what} failed: ${describePgError(err)}`);
  } finally {
    signal.removeEventListener('abort', onAbort);
    // A closed socket has already ended the client; end() would wait for an event that came.
    if (!socket.destroyed) await client.end().catch(() => undefined);
  }
}

export async function inTransaction<T>(client: Client, work: () => Promise<T>): Promise<T> {
  await client.query('BEGIN');
  try {
    const result = await work();
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Serialises calls for one role (a retry racing a slow first attempt) until the transaction ends. */
export async function lockRole(client: Client, role: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [role]);
}

/** The SQLSTATE of a server error, if `err` is one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The server's message with its SQLSTATE and detail; never the connection string. */
function describePgError(err: unknown): string {
  const e = err as { message?: string; detail?: string };
  const message = e.message ?? String(err);
  const state = sqlState(err);
  const code = state ? ` [${state}]` : '';
  return `${message}${code}${e.detail ? ` (${e.detail})` : ''}`;
}
