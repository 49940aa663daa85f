import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { z } from 'zod';
import { registerSecret } from '../log';

const KEY = '[A-Za-z][A-Za-z0-9-]*';
const OID = '\\d+(?:\\.\\d+)*';
/** An attribute value of RFC 4514: `#hex`, or characters with `,+"\<>;` escaped. */
const VALUE = '(?:#[0-9A-Fa-f]+|(?:[^,+"\\\\<>;]|\\\\[0-9A-Fa-f]{2}|\\\\[ "#+,;<=>\\\\])+)';
const ATTRIBUTE_VALUE = `(?:${KEY}|${OID})\\s*=\\s*${VALUE}`;
const RDN = `${ATTRIBUTE_VALUE}(?:\\s*\\+\\s*${ATTRIBUTE_VALUE})*`;
const DN_RE = new RegExp(`^${RDN}(?:\\s*,\\s*${RDN})*$`);

/** A distinguished name (RFC 4514), checked for its shape only: the server decides if it exists. */
export const distinguishedName = z
  .string()
  .regex(DN_RE, 'must be a DN like cn=db-admins,ou=groups,dc=example,dc=org');

export const attributeName = z
  .string()
  .regex(new RegExp(`^${KEY}$`), 'must be an attribute name like mail or uid');

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1']);

/** How to reach and bind to the directory; shared by the ldap-group provider and the directory. */
export const ldapConnectionSettings = z.strictObject({
  url: z
    .string()
    .refine(
      (text) =>
        URL.canParse(text) &&
        /^ldaps?:$/.test(new URL(text).protocol) &&
        /^\/?$/.test(new URL(text).pathname) &&
        new URL(text).hostname !== '',
      'must be an ldaps:// or ldap:// URL with a host and no DN (ldaps://ldap.example.com:636)',
    ),
  startTls: z.boolean().default(false),
  tls: z
    .strictObject({
      caFile: z.string().min(1).optional(),
      serverName: z
        .string()
        .regex(/^[A-Za-z0-9.-]+$/, 'must be a host name like ldap.example.com')
        .refine(
          (name) => isIP(name) === 0,
          'must be a host name; an IP address needs no serverName',
        )
        .optional(),
    })
    .optional(),
  bindDn: distinguishedName,
  bindPassword: z.string().min(1, 'must not be empty (an empty password is an anonymous bind)'),
});

type ConnectionSettings = z.infer<typeof ldapConnectionSettings>;

/** What the cross-key rules read: on a config with other problems, any of it may be invalid. */
interface ConnectionKeys {
  url?: unknown;
  startTls?: unknown;
  tls?: unknown;
}

/** Runs cross-key rules even when single keys failed, so every problem is reported at once. */
export const always = { when: () => true };

/**
 * The rules that span several keys; call it from superRefine (with `always`) of a schema that
 * extends ldapConnectionSettings. The bind password must not cross the network in clear, so a
 * plain ldap:// URL needs StartTLS unless it stays on this machine.
 */
export function checkConnectionSettings(settings: ConnectionKeys, ctx: z.RefinementCtx): void {
  if (typeof settings.url !== 'string' || !URL.canParse(settings.url)) return;
  const url = new URL(settings.url);
  const secure = url.protocol === 'ldaps:';
  const startTls = settings.startTls === true;
  if (secure && startTls) {
    ctx.addIssue({
      code: 'custom',
      path: ['startTls'],
      message: 'is for ldap:// URLs; ldaps:// is TLS from the start',
    });
  }
  if (url.protocol !== 'ldap:' || startTls) return;
  if (!LOOPBACK.has(hostOf(url))) {
    ctx.addIssue({
      code: 'custom',
      path: ['url'],
      message: 'ldap:// would send the bind password in clear: use ldaps:// or startTls: true',
    });
  } else if (settings.tls !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['tls'],
      message: 'applies only to ldaps:// or with startTls: true',
    });
  }
}

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** Connection settings ready for a session: the CA file read, the password registered as a secret. */
export interface LdapConnection {
  url: string;
  startTls: boolean;
  /** For the TLS handshake (ldaps:// or StartTLS): the CA and the name the certificate must carry. */
  tls: ConnectionOptions;
  bindDn: string;
  bindPassword: string;
}

/** Reads `tls.caFile` (relative to the folder of hallpass.yml); throws a clear error if it cannot. */
export function ldapConnection(settings: ConnectionSettings, configDir: string): LdapConnection {
  registerSecret(settings.bindPassword);
  const url = new URL(settings.url);
  const host = hostOf(url);
  const tls: ConnectionOptions = { host };
  const serverName = settings.tls?.serverName ?? (isIP(host) ? undefined : host);
  if (serverName) tls.servername = serverName;
  if (settings.tls?.caFile) {
    const path = resolve(configDir, settings.tls.caFile);
    try {
      tls.ca = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(
        `tls.caFile: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
  }
  return {
    url: `${url.protocol}//${url.host}`,
    startTls: settings.startTls,
    tls,
    bindDn: settings.bindDn,
    bindPassword: settings.bindPassword,
  };
}
