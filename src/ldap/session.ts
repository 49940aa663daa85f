import * as net from 'node:net';
import * as tls from 'node:tls';
import { Client } from 'ldapts';
import { abortReason, raceAbort } from '../providers/abort';
import { LdapFailure, ldapFailure, ResultCode } from './errors';
import type { LdapConnection } from './settings';

const BIND_HINTS = {
  [ResultCode.invalidCredentials]: 'check bindDn and bindPassword',
  [ResultCode.inappropriateAuthentication]: 'the bind DN cannot log in with a password',
  [ResultCode.confidentialityRequired]: 'the server requires TLS: use ldaps:// or startTls: true',
};

/**
 * Runs `work` on a fresh connection bound as the configured DN, then unbinds. Every socket the
 * client opens is ours, so an abort destroys them, which fails a pending connect, StartTLS, bind
 * or operation at once (ldapts takes no AbortSignal), and no new one opens after it.
 */
export async function withLdapSession<T>(
  connection: LdapConnection,
  signal: AbortSignal,
  what: string,
  work: (client: Client) => Promise<T>,
): Promise<T> {
  if (signal.aborted) throw aborted(what, signal);
  const sockets: net.Socket[] = [];
  const own = <S extends net.Socket>(socket: S): S => {
    if (signal.aborted) socket.destroy(new Error('aborted'));
    sockets.push(socket);
    return socket;
  };
  const secure = connection.url.startsWith('ldaps:');
  const client = new Client({
    url: connection.url,
    // ldapts takes any tlsOptions to mean ldaps://, so StartTLS gets them at the upgrade instead.
    ...(secure ? { tlsOptions: connection.tls } : {}),
    createConnection: ((port: number, host: string) =>
      own(net.connect(port, host))) as typeof net.connect,
    createSecureConnection: ((...args: Parameters<typeof tls.connect>) =>
      own(tls.connect(...args))) as typeof tls.connect,
  });
  const cut = () => sockets.forEach((socket) => socket.destroy());
  signal.addEventListener('abort', cut, { once: true });
  try {
    return await raceAbort(signal, what, async () => {
      if (connection.startTls) {
        await client
          .startTLS({ ...connection.tls })
          .catch((err: unknown) => Promise.reject(ldapFailure('StartTLS', err)));
      }
      await client
        .bind(connection.bindDn, connection.bindPassword)
        .catch((err: unknown) =>
          Promise.reject(ldapFailure(`bind as ${connection.bindDn}`, err, BIND_HINTS)),
        );
      return work(client);
    });
  } catch (err) {
    if (signal.aborted) throw aborted(what, signal);
    const failure = ldapFailure('connection', err);
    throw new LdapFailure(`${what} failed: ${failure.message}`, failure);
  } finally {
    signal.removeEventListener('abort', cut);
    if (signal.aborted) cut();
    else await client.unbind().catch(() => undefined);
  }
}

function aborted(what: string, signal: AbortSignal): LdapFailure {
  return new LdapFailure(`${what} ${abortReason(signal)}`, { aborted: true });
}
