import { createServer } from 'node:net';
import { Client } from 'ldapts';
import { formatIssues } from '../../src/config/load';
import {
  LdapGroupDirectory,
  LdapGroupLookupError,
  ldapDirectorySettings,
  type LdapGroupDirectoryOptions,
} from '../../src/directory/ldap-groups';
import { GROUPS, PEOPLE, startSlapd, SUFFIX, type TestSlapd } from '../support/slapd';

const person = (uid: string, mail?: string) =>
  [
    `dn: uid=${uid},${PEOPLE}`,
    'objectClass: inetOrgPerson',
    `uid: ${uid}`,
    `cn: ${uid}`,
    `sn: ${uid}`,
    ...(mail ? [`mail: ${mail}`] : []),
  ].join('\n');
const dnOf = (uid: string) => `uid=${uid},${PEOPLE}`;
const group = (cn: string, objectClass: string, attribute: string, values: string[]) =>
  [
    `dn: cn=${cn},${GROUPS}`,
    `objectClass: ${objectClass}`,
    ...(objectClass === 'posixGroup' ? ['gidNumber: 5000'] : []),
    ...values.map((v) => `${attribute}: ${v}`),
  ].join('\n');
const groupDn = (cn: string) => `cn=${cn},${GROUPS}`;

/** More people than the server's size limit (5) and page size allow in one answer. */
const CREW = Array.from({ length: 12 }, (_, i) => `crew${String(i + 1).padStart(2, '0')}`);

const ENTRIES = [
  person('alice', 'alice@example.com'),
  person('bob', 'Bob@Example.com'),
  person('carol', 'carol@example.com'),
  person('dave', 'dave@example.com'),
  person('nomail'),
  ...CREW.map((uid) => person(uid, `${uid}@example.com`)),
  group('approvers', 'groupOfNames', 'member', [
    dnOf('alice'),
    dnOf('bob'),
    groupDn('leads'),
    dnOf('ghost'),
    dnOf('nomail'),
    `cn=placeholder,${SUFFIX}`,
  ]),
  group('leads', 'groupOfNames', 'member', [dnOf('carol'), groupDn('approvers')]),
  group('oncall', 'groupOfUniqueNames', 'uniqueMember', [`${dnOf('dave')}#'0101'B`, dnOf('alice')]),
  group('shell', 'posixGroup', 'memberUid', [...CREW, 'ghost']),
  group('crew', 'groupOfNames', 'member', CREW.map(dnOf)),
  group('level1', 'groupOfNames', 'member', [groupDn('level2')]),
  group('level2', 'groupOfNames', 'member', [groupDn('level3')]),
  group('level3', 'groupOfNames', 'member', [dnOf('carol')]),
  `dn: ou=elsewhere,${SUFFIX}\nobjectClass: organizationalUnit`,
  `dn: cn=hidden,ou=elsewhere,${SUFFIX}\nobjectClass: groupOfNames\nmember: ${dnOf('alice')}`,
].join('\n\n');

const CREW_EMAILS = CREW.map((uid) => `${uid}@example.com`);

let slapd: TestSlapd;

beforeAll(async () => {
  slapd = await startSlapd(ENTRIES);
});

afterAll(async () => {
  await slapd?.stop();
});

function directory(
  settings: Record<string, unknown> = {},
  options: Partial<LdapGroupDirectoryOptions> = {},
): LdapGroupDirectory {
  const parsed = ldapDirectorySettings.parse({
    url: slapd.url,
    bindDn: slapd.service.dn,
    bindPassword: slapd.service.password,
    userBase: PEOPLE,
    ...settings,
  });
  return new LdapGroupDirectory(parsed, { configDir: __dirname, ...options });
}

async function lookupError(promise: Promise<unknown>): Promise<LdapGroupLookupError> {
  const result = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(result instanceof LdapGroupLookupError)) {
    throw new Error(`expected an LdapGroupLookupError, got ${String(result)}`);
  }
  return result;
}

describe('LdapGroupDirectory', () => {
  it('resolves member DNs to their mail, follows nested groups once, skips what it cannot map', async () => {
    expect(await directory().memberEmails(groupDn('approvers'))).toEqual([
      'alice@example.com',
      'bob@example.com',
      'carol@example.com',
    ]);
  });

  it('reads uniqueMember, without the optional unique id after the DN', async () => {
    expect(await directory().memberEmails(groupDn('oncall'))).toEqual([
      'alice@example.com',
      'dave@example.com',
    ]);
  });

  it('finds memberUid people under userBase, paging past the server’s size limit', async () => {
    expect(await directory().memberEmails(groupDn('shell'))).toEqual(CREW_EMAILS);
    // Three pages: the lookup reads on until the server says there are no more.
    expect(await directory({ pageSize: 5 }).memberEmails(groupDn('shell'))).toEqual(CREW_EMAILS);
  });

  it('reads every member of a group larger than the size limit', async () => {
    expect(await directory().memberEmails(groupDn('crew'))).toEqual(CREW_EMAILS);
  });

  it('follows nested groups down to maxDepth', async () => {
    expect(await directory().memberEmails(groupDn('level1'))).toEqual(['carol@example.com']);
    expect(await directory({}, { maxDepth: 1 }).memberEmails(groupDn('level1'))).toEqual([]);
  });

  it('takes mail from mailAttribute', async () => {
    // The ACL lets the service account read uid but not cn: the attribute is really asked for.
    expect(await directory({ mailAttribute: 'uid' }).memberEmails(groupDn('oncall'))).toEqual([
      'alice',
      'dave',
    ]);
    expect(await directory({ mailAttribute: 'cn' }).memberEmails(groupDn('oncall'))).toEqual([]);
  });

  it('a group that does not exist, or that the bind DN may not see, is a permanent answer', async () => {
    for (const dn of [groupDn('deleted'), `cn=hidden,ou=elsewhere,${SUFFIX}`]) {
      const error = await lookupError(directory().memberEmails(dn));
      expect(error).toMatchObject({ kind: 'no-such-group', transient: false, groupDn: dn });
      expect(error.message).toBe(`no LDAP group ${dn}`);
    }
  });

  it('a group deleted between two lookups', async () => {
    const lookups = directory();
    const admin = new Client({ url: slapd.url, timeout: 5_000 });
    await admin.bind(slapd.manager.dn, slapd.manager.password);
    try {
      await admin.add(groupDn('short-lived'), { objectClass: 'groupOfNames', member: dnOf('bob') });
      expect(await lookups.memberEmails(groupDn('short-lived'))).toEqual(['bob@example.com']);
      await admin.del(groupDn('short-lived'));
      expect(await lookupError(lookups.memberEmails(groupDn('short-lived')))).toMatchObject({
        kind: 'no-such-group',
      });
    } finally {
      await admin.unbind();
    }
  });

  it('a refused bind is a configuration problem, and its message keeps the password out', async () => {
    const error = await lookupError(
      directory({ bindPassword: 'wrong-directory-password' }).memberEmails(groupDn('approvers')),
    );
    expect(error).toMatchObject({ kind: 'misconfigured', transient: false });
    expect(error.message).toBe(
      `ldap lookup of ${groupDn('approvers')} failed: bind as ${slapd.service.dn}: invalidCredentials (49); check bindDn and bindPassword`,
    );
    expect(error.message).not.toContain('wrong-directory-password');
  });

  it('a userBase the bind DN cannot search is a configuration problem', async () => {
    const error = await lookupError(
      directory({ userBase: `ou=elsewhere,${SUFFIX}` }).memberEmails(groupDn('shell')),
    );
    expect(error).toMatchObject({ kind: 'misconfigured' });
    expect(error.message).toMatch(/search of ou=elsewhere,.* for memberUid people: noSuchObject/);
  });

  it('an untrusted certificate is a configuration problem; the configured CA is trusted', async () => {
    const error = await lookupError(
      directory({ url: slapd.ldapsUrl }).memberEmails(groupDn('oncall')),
    );
    expect(error).toMatchObject({ kind: 'misconfigured' });
    expect(error.message).toMatch(/self-signed certificate$/);
    expect(
      await directory({ startTls: true, tls: { caFile: slapd.caFile } }).memberEmails(
        groupDn('oncall'),
      ),
    ).toEqual(['alice@example.com', 'dave@example.com']);
  });

  it('a directory that hangs is transient: the lookup times out', async () => {
    slapd.freeze();
    try {
      const started = Date.now();
      const error = await lookupError(
        directory({}, { timeoutMs: 300 }).memberEmails(groupDn('approvers')),
      );
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(error).toMatchObject({ kind: 'unavailable', transient: true });
      expect(error.message).toBe(`ldap lookup of ${groupDn('approvers')} timed out`);
    } finally {
      slapd.thaw();
    }
    expect(await directory().memberEmails(groupDn('oncall'))).toHaveLength(2);
  });

  it('the caller’s signal cuts a lookup short', async () => {
    const caller = new AbortController();
    slapd.freeze();
    try {
      const lookup = directory().memberEmails(groupDn('approvers'), caller.signal);
      setTimeout(() => caller.abort(new Error('shutting down')), 100);
      expect(await lookupError(lookup)).toMatchObject({
        kind: 'unavailable',
        message: `ldap lookup of ${groupDn('approvers')} aborted: shutting down`,
      });
    } finally {
      slapd.thaw();
    }
  });

  it('a stopped server is transient', async () => {
    const other = await startSlapd();
    const url = other.url;
    await other.stop();
    const error = await lookupError(directory({ url }).memberEmails(groupDn('approvers')));
    expect(error).toMatchObject({ kind: 'unavailable', transient: true });
    expect(error.message).toMatch(/failed: bind as .*: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
  });

  it('a server that closes the connection is transient', async () => {
    const rude = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => rude.listen(0, '127.0.0.1', resolve));
    const { port } = rude.address() as { port: number };
    try {
      const error = await lookupError(
        directory({ url: `ldap://127.0.0.1:${port}` }).memberEmails(groupDn('approvers')),
      );
      expect(error).toMatchObject({ kind: 'unavailable' });
    } finally {
      await new Promise((resolve) => rude.close(resolve));
    }
  });

  it('settings: userBase is required, the same TLS rules as the provider apply', () => {
    const parsed = ldapDirectorySettings.safeParse({
      url: 'ldap://ldap.example.com',
      bindDn: 'cn=hallpass,dc=example,dc=org',
      bindPassword: 'pw',
      mailAttribute: 'e-mail address',
    });
    expect(parsed.success).toBe(false);
    expect(formatIssues(parsed.error!.issues, ['directory', 'ldap'])).toEqual([
      'directory.ldap.userBase: Invalid input: expected string, received undefined',
      'directory.ldap.mailAttribute: must be an attribute name like mail or uid',
      'directory.ldap.url: ldap:// would send the bind password in clear: use ldaps:// or startTls: true',
    ]);
  });
});
