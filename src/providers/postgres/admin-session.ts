import { Socket } from 'node:net';
import { Client, type ClientConfig } from 'pg';
import { abortReason } from '../abort';

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
  if (signal.aborted) throw new Error(`${what} ${abortReason(signal)}`);
  const socket = new Socket();
  const client = new Client({ ...settings, stream: () => socket });
  // Errors reach the pending call; an 'error' event without a listener would crash the process.
  client.on('error', () => undefined);
  const onAbort = () => socket.destroy();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect();
    return await work(client);
  } catch (err) {
    if (signal.aborted) throw new Error(`${what} ${abortReason(signal)}`);
    throw new Error(`${what} failed: ${describePgError(err)}`);
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

/** The server's message with its SQLSTATE and detail; never the connection string. */
function describePgError(err: unknown): string {
  const e = err as { message?: string; code?: string; detail?: string };
  const message = e.message ?? String(err);
  const code = e.code && /^[0-9A-Z]{5}$/.test(e.code) ? ` [${e.code}]` : '';
  return `${message}${code}${e.detail ? ` (${e.detail})` : ''}`;
}
