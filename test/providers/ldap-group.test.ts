import { createServer, type Socket } from 'node:net';
import { Attribute, Change, Client } from 'ldapts';
import { formatIssues } from '../../src/config/load';
import { ldapGroupAdapter, type LdapGroupTarget } from '../../src/providers/ldap-group/adapter';
import type { Provider, ProviderCallContext } from '../../src/providers/types';
import { GROUPS, JIT_GROUPS, PEOPLE, startSlapd, SUFFIX, type TestSlapd } from '../support/slapd';
import { callContext, providerContract } from './contract';

const person = (uid: string, mail?: string) =>
  [
    `dn: uid=${uid},${PEOPLE}`,
    'objectClass: inetOrgPerson',
    `uid: ${uid}`,
    `cn: ${uid}`,
    `sn: ${uid}`,
    ...(mail ? [`mail: ${mail}`] : []),
    'userPassword: not-for-hallpass',
  ].join('\n');
const groupOfNames = (dn: string, members: string[]) =>
  [`dn: ${dn}`, 'objectClass: groupOfNames', ...members.map((m) => `member: ${m}`)].join('\n');

/** A member the group keeps for good: groupOfNames and groupOfUniqueNames need one. */
const PLACEHOLDER = `cn=placeholder,${SUFFIX}`;

const DB_ADMINS = `cn=db-admins,${JIT_GROUPS}`;
const WIKI_EDITORS = `cn=wiki-editors,${JIT_GROUPS}`;
const SHELL = `cn=shell,${JIT_GROUPS}`;
const CONTRACT = `cn=contract,${JIT_GROUPS}`;
const ONLY_ALICE = `cn=only-alice,${JIT_GROUPS}`;
const ADMINS = `cn=admins,${GROUPS}`;
const ALICE = `uid=alice,${PEOPLE}`;

const ENTRIES = [
  person('alice', 'alice@example.com'),
  person('bob', 'Bob@Example.com'),
  person('twin1', 'twin@example.com'),
  person('twin2', 'twin@example.com'),
  person('starry', 'a*b@example.com'),
  person('slashy', 'x\\y@example.com'),
  person('nomail'),
  groupOfNames(DB_ADMINS, [PLACEHOLDER]),
  groupOfNames(CONTRACT, [PLACEHOLDER]),
  groupOfNames(ONLY_ALICE, [ALICE]),
  groupOfNames(ADMINS, [PLACEHOLDER]),
  `dn: ${WIKI_EDITORS}\nobjectClass: groupOfUniqueNames\nuniqueMember: ${PLACEHOLDER}`,
  `dn: ${SHELL}\nobjectClass: posixGroup\ngidNumber: 5000`,
].join('\n\n');

let slapd: TestSlapd;
let manager: Client;

beforeAll(async () => {
  slapd = await startSlapd(ENTRIES);
  manager = new Client({ url: slapd.url, timeout: 5_000 });
  await manager.bind(slapd.manager.dn, slapd.manager.password);
});

afterAll(async () => {
  await manager?.unbind();
  await slapd?.stop();
});

function ldapGroup(settings: Record<string, unknown> = {}): Provider<LdapGroupTarget> {
  const config = ldapGroupAdapter.configSchema.parse({
    url: slapd.url,
    bindDn: slapd.service.dn,
    bindPassword: slapd.service.password,
    userBase: PEOPLE,
    ...settings,
  });
  return ldapGroupAdapter.create(config, { configDir: __dirname });
}

/** Values of the group's attribute, as the manager (not bound by the ACL) reads them. */
async function values(group: string, attribute = 'member'): Promise<string[]> {
  const { searchEntries } = await manager.search(group, {
    scope: 'base',
    attributes: [attribute],
  });
  const raw = searchEntries[0]?.[attribute] ?? [];
  return (Array.isArray(raw) ? raw : [raw]).map(String);
}

const forUser = (email: string | undefined, group = DB_ADMINS) =>
  callContext<LdapGroupTarget>({ group }, { user: { slackId: 'U0ALICE', email } });

async function failure(promise: Promise<unknown>): Promise<Error> {
  const result = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(result instanceof Error)) throw new Error('the call succeeded');
  return result;
}

/**
 * The contract's people are new each time: like an HR system would, this makes a directory entry
 * for each before the provider under test is called, then calls it unchanged.
 */
function withDirectoryEntries(provider: Provider<LdapGroupTarget>): Provider<LdapGroupTarget> {
  const ensure = async (ctx: ProviderCallContext<LdapGroupTarget>) => {
    await manager
      .add(personDn(ctx), {
        objectClass: 'inetOrgPerson',
        uid: ctx.user.slackId,
        cn: ctx.user.slackId,
        sn: ctx.user.slackId,
        mail: ctx.user.email!,
      })
      .catch((err: { code?: number }) => {
        if (err.code !== 68) throw err;
      });
  };
  return {
    guarantees: provider.guarantees,
    grant: async (ctx) => (await ensure(ctx), provider.grant(ctx)),
    revoke: async (ctx) => (await ensure(ctx), provider.revoke(ctx)),
    check: async (ctx) => (await ensure(ctx), provider.check!(ctx)),
  };
}

const personDn = (ctx: ProviderCallContext<unknown>) => `uid=${ctx.user.slackId},${PEOPLE}`;

providerContract('ldap-group', async () => {
  const sockets: Socket[] = [];
  // Accepts connections and never says a word: a directory that hangs.
  const blackHole = createServer((socket) => sockets.push(socket));
  return {
    provider: withDirectoryEntries(ldapGroup()),
    target: { group: CONTRACT },
    held: async (ctx) =>
      (await values(CONTRACT)).filter((v) => v.toLowerCase() === personDn(ctx).toLowerCase())
        .length,
    // Group membership carries no expiry: Hallpass alone ends it.
    expiryHeld: async () => null,
    stalled: async () => {
      await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
      const { port } = blackHole.address() as { port: number };
      return {
        provider: withDirectoryEntries(ldapGroup({ url: `ldap://127.0.0.1:${port}` })),
        release: async () => {
          sockets.forEach((s) => s.destroy());
          await new Promise((resolve) => blackHole.close(resolve));
        },
      };
    },
    stop: async () => undefined,
  };
});

describe('ldap-group provider', () => {
  it('adds the person’s DN to a groupOfNames, keeps it as state, and removes exactly that', async () => {
    const provider = ldapGroup();
    const ctx = forUser('alice@example.com');
    const result = await provider.grant(ctx);
    expect(result).toEqual({ state: { attribute: 'member', value: ALICE } });
    expect(await values(DB_ADMINS)).toEqual([PLACEHOLDER, ALICE]);
    expect(await provider.check!(ctx)).toBe(true);
    await provider.revoke({ ...ctx, state: result.state });
    expect(await values(DB_ADMINS)).toEqual([PLACEHOLDER]);
    expect(await provider.check!({ ...ctx, state: result.state })).toBe(false);
  });

  it('finds the person whatever the case of their email, as the directory compares it', async () => {
    const provider = ldapGroup();
    const ctx = forUser('bob@example.com');
    expect((await provider.grant(ctx)).state).toEqual({
      attribute: 'member',
      value: `uid=bob,${PEOPLE}`,
    });
    await provider.revoke(ctx);
  });

  it('uses uniqueMember for a groupOfUniqueNames', async () => {
    const provider = ldapGroup({ memberAttribute: 'uniqueMember' });
    const ctx = forUser('alice@example.com', WIKI_EDITORS);
    await provider.grant(ctx);
    expect(await values(WIKI_EDITORS, 'uniqueMember')).toEqual([PLACEHOLDER, ALICE]);
    expect(await provider.check!(ctx)).toBe(true);
    await provider.revoke(ctx);
    expect(await values(WIKI_EDITORS, 'uniqueMember')).toEqual([PLACEHOLDER]);
  });

  it('uses memberUid with the person’s uid for a posixGroup, which may end up empty', async () => {
    const provider = ldapGroup({ memberAttribute: 'memberUid' });
    const ctx = forUser('alice@example.com', SHELL);
    expect(await provider.check!(ctx)).toBe(false);
    const { state } = await provider.grant(ctx);
    expect(state).toEqual({ attribute: 'memberUid', value: 'alice' });
    expect(await values(SHELL, 'memberUid')).toEqual(['alice']);
    expect(await provider.check!(ctx)).toBe(true);
    await provider.revoke(ctx);
    await provider.revoke(ctx);
    expect(await values(SHELL, 'memberUid')).toEqual([]);
    expect(await provider.check!(ctx)).toBe(false);
  });

  it('takes the uid from uidAttribute', async () => {
    const provider = ldapGroup({ memberAttribute: 'memberUid', uidAttribute: 'mail' });
    const ctx = forUser('alice@example.com', SHELL);
    expect((await provider.grant(ctx)).state).toEqual({
      attribute: 'memberUid',
      value: 'alice@example.com',
    });
    expect(await values(SHELL, 'memberUid')).toEqual(['alice@example.com']);
    await provider.revoke(ctx);
  });

  it('revokes with the state even after the person left the directory', async () => {
    const provider = ldapGroup();
    await manager.add(`uid=leaver,${PEOPLE}`, {
      objectClass: 'inetOrgPerson',
      uid: 'leaver',
      cn: 'leaver',
      sn: 'leaver',
      mail: 'leaver@example.com',
    });
    const ctx = forUser('leaver@example.com');
    const { state } = await provider.grant(ctx);
    await manager.del(`uid=leaver,${PEOPLE}`);
    expect(await provider.check!({ ...ctx, state })).toBe(true);
    await provider.revoke({ ...ctx, state });
    expect(await values(DB_ADMINS)).toEqual([PLACEHOLDER]);
    // Without state there is nothing left to find, so nothing to remove.
    await provider.revoke(ctx);
    expect(await provider.check!(ctx)).toBe(false);
  });

  it('a service account without write rights gets a clear error and changes nothing', async () => {
    const provider = ldapGroup({
      bindDn: slapd.auditor.dn,
      bindPassword: slapd.auditor.password,
    });
    const ctx = forUser('alice@example.com');
    const error = await failure(provider.grant(ctx));
    expect(error.message).toBe(
      `ldap-group grant failed: adding ${ALICE} to ${DB_ADMINS}: insufficientAccessRights (50); the bind DN needs write access to member of this group (see the ACL in docs/providers.md)`,
    );
    expect(await values(DB_ADMINS)).toEqual([PLACEHOLDER]);
    // Reading is within its rights.
    expect(await provider.check!(ctx)).toBe(false);
  });

  it('the documented ACL keeps the service account to the managed groups’ members', async () => {
    const error = await failure(ldapGroup().grant(forUser('alice@example.com', ADMINS)));
    expect(error.message).toMatch(/^ldap-group grant failed: adding .* insufficientAccessRights/);
    expect(await values(ADMINS)).toEqual([PLACEHOLDER]);

    const service = new Client({ url: slapd.url, timeout: 5_000 });
    await service.bind(slapd.service.dn, slapd.service.password);
    try {
      const { searchEntries } = await service.search(PEOPLE, {
        filter: '(uid=alice)',
        attributes: ['userPassword', 'mail', 'cn', 'sn'],
      });
      // ldapts lists the attributes it asked for; the server sent none of the others.
      expect(searchEntries).toEqual([
        { dn: ALICE, mail: 'alice@example.com', userPassword: [], cn: [], sn: [] },
      ]);
      await expect(
        service.modify(
          DB_ADMINS,
          new Change({
            operation: 'replace',
            modification: new Attribute({ type: 'description', values: ['x'] }),
          }),
        ),
      ).rejects.toMatchObject({ code: 50 });
      await expect(
        service.add(`cn=new,${JIT_GROUPS}`, { objectClass: 'groupOfNames', member: ALICE }),
      ).rejects.toMatchObject({ code: 50 });
    } finally {
      await service.unbind();
    }
  });

  it('says who is missing: no email, no entry, several entries', async () => {
    const provider = ldapGroup();
    expect((await failure(provider.grant(forUser(undefined)))).message).toBe(
      'ldap-group grant failed: U0ALICE has no email address in Slack (the app needs the users:read.email scope)',
    );
    expect((await failure(provider.grant(forUser('nobody@example.com')))).message).toBe(
      `ldap-group grant failed: no entry under ${PEOPLE} matches (mail=nobody@example.com)`,
    );
    expect((await failure(provider.grant(forUser('twin@example.com')))).message).toBe(
      `ldap-group grant failed: several entries under ${PEOPLE} match (mail=twin@example.com) (uid=twin1,${PEOPLE}; uid=twin2,${PEOPLE}): make userFilter match one person`,
    );
    // A revoke or check of someone who cannot have been added has nothing to do.
    await provider.revoke(forUser(undefined));
    expect(await provider.check!(forUser('nobody@example.com'))).toBe(false);
    await expect(provider.revoke(forUser('twin@example.com'))).rejects.toThrow(/several entries/);
  });

  it('a memberUid group needs exactly one uid', async () => {
    const provider = ldapGroup({ memberAttribute: 'memberUid', uidAttribute: 'mail' });
    await manager.modify(
      `uid=bob,${PEOPLE}`,
      new Change({
        operation: 'add',
        modification: new Attribute({ type: 'mail', values: ['robert@example.com'] }),
      }),
    );
    try {
      expect((await failure(provider.grant(forUser('bob@example.com', SHELL)))).message).toBe(
        `ldap-group grant failed: uid=bob,${PEOPLE} has 2 values of mail; memberUid needs exactly one (see uidAttribute)`,
      );
    } finally {
      await manager.modify(
        `uid=bob,${PEOPLE}`,
        new Change({
          operation: 'delete',
          modification: new Attribute({ type: 'mail', values: ['robert@example.com'] }),
        }),
      );
    }
  });

  it('escapes the email in the filter: wildcards and parentheses match only themselves', async () => {
    const provider = ldapGroup();
    // Unescaped, (mail=a*@example.com) would match alice and a*b; escaped, it matches nobody.
    expect((await failure(provider.grant(forUser('a*@example.com')))).message).toBe(
      `ldap-group grant failed: no entry under ${PEOPLE} matches (mail=a\\2a@example.com)`,
    );
    // Unescaped, this would close the filter and add one that matches everyone.
    const breakout = 'x)(|(mail=*';
    expect((await failure(provider.grant(forUser(breakout)))).message).toBe(
      `ldap-group grant failed: no entry under ${PEOPLE} matches (mail=x\\29\\28|\\28mail=\\2a)`,
    );
    for (const [email, uid] of [
      ['a*b@example.com', 'starry'],
      ['x\\y@example.com', 'slashy'],
    ]) {
      const ctx = forUser(email);
      expect((await provider.grant(ctx)).state).toEqual({
        attribute: 'member',
        value: `uid=${uid},${PEOPLE}`,
      });
      await provider.revoke(ctx);
    }
  });

  it('a custom userFilter narrows the search; {email} is escaped wherever it stands', async () => {
    const provider = ldapGroup({
      userFilter: '(&(objectClass=inetOrgPerson)(|(mail={email})(uid={email})))',
    });
    const ctx = forUser('twin@example.com');
    await expect(provider.grant(ctx)).rejects.toThrow(/several entries/);
    const byUid = forUser('alice');
    expect((await provider.grant(byUid)).state).toEqual({ attribute: 'member', value: ALICE });
    await provider.revoke(byUid);
  });

  it('removing the last member of a groupOfNames fails with what to do, and check agrees', async () => {
    const provider = ldapGroup();
    const ctx = forUser('alice@example.com', ONLY_ALICE);
    const error = await failure(provider.revoke(ctx));
    expect(error.message).toBe(
      `ldap-group revoke failed: removing ${ALICE} from ${ONLY_ALICE}: objectClassViolation (65): object class 'groupOfNames' requires attribute 'member'; the group's object class needs at least one member: give the group a placeholder member that Hallpass does not manage`,
    );
    expect(await provider.check!(ctx)).toBe(true);
  });

  it('a group that does not exist fails every call', async () => {
    const provider = ldapGroup();
    const ctx = forUser('alice@example.com', `cn=gone,${JIT_GROUPS}`);
    const hint = "no such group, or the bind DN cannot see it: check the target's group DN";
    expect((await failure(provider.grant(ctx))).message).toMatch(
      new RegExp(`^ldap-group grant failed: adding .*: noSuchObject \\(32\\).*; ${hint}$`),
    );
    expect((await failure(provider.revoke(ctx))).message).toContain(hint);
    expect((await failure(provider.check!(ctx))).message).toMatch(
      /^ldap-group check failed: reading member of cn=gone,.*: noSuchObject \(32\)/,
    );
  });

  it('a wrong bind password says so without repeating it', async () => {
    const provider = ldapGroup({ bindPassword: 'wrong-service-password' });
    const error = await failure(provider.grant(forUser('alice@example.com')));
    expect(error.message).toBe(
      `ldap-group grant failed: bind as ${slapd.service.dn}: invalidCredentials (49); check bindDn and bindPassword`,
    );
    expect(error.message).not.toContain('wrong-service-password');
  });

  it('a directory that is down fails with the network error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(
      ldapGroup({ url: `ldap://127.0.0.1:${port}` }).grant(forUser('alice@example.com')),
    );
    expect(error.message).toMatch(/^ldap-group grant failed: bind as .*: connect ECONNREFUSED/);
  });

  describe('TLS', () => {
    it('StartTLS with the configured CA file', async () => {
      const provider = ldapGroup({ startTls: true, tls: { caFile: slapd.caFile } });
      const ctx = forUser('alice@example.com');
      await provider.grant(ctx);
      expect(await provider.check!(ctx)).toBe(true);
      await provider.revoke(ctx);
    });

    it('ldaps:// with the configured CA file', async () => {
      const provider = ldapGroup({ url: slapd.ldapsUrl, tls: { caFile: slapd.caFile } });
      const ctx = forUser('alice@example.com');
      await provider.grant(ctx);
      expect(await provider.check!(ctx)).toBe(true);
      await provider.revoke(ctx);
    });

    it('refuses a certificate it cannot verify, before sending the password', async () => {
      const startTls = await failure(
        ldapGroup({ startTls: true }).grant(forUser('alice@example.com')),
      );
      expect(startTls.message).toBe('ldap-group grant failed: StartTLS: self-signed certificate');
      const ldaps = await failure(
        ldapGroup({ url: slapd.ldapsUrl }).grant(forUser('alice@example.com')),
      );
      expect(ldaps.message).toMatch(
        /^ldap-group grant failed: bind as .*: self-signed certificate$/,
      );
    });

    it('checks the certificate against serverName when one is set', async () => {
      const error = await failure(
        ldapGroup({
          startTls: true,
          tls: { caFile: slapd.caFile, serverName: 'ldap.example.com' },
        }).grant(forUser('alice@example.com')),
      );
      expect(error.message).toMatch(
        /^ldap-group grant failed: StartTLS: Hostname\/IP does not match/,
      );
    });
  });

  describe('settings', () => {
    const problems = (settings: Record<string, unknown>) => {
      const parsed = ldapGroupAdapter.configSchema.safeParse(settings);
      return parsed.success ? [] : formatIssues(parsed.error.issues, ['providers', 'dir']);
    };
    const base = {
      url: 'ldaps://ldap.example.com',
      bindDn: 'cn=hallpass,ou=services,dc=example,dc=org',
      bindPassword: 'pw',
      userBase: 'ou=people,dc=example,dc=org',
    };

    it('defaults to member and (mail={email})', () => {
      expect(ldapGroupAdapter.configSchema.parse(base)).toEqual({
        ...base,
        startTls: false,
        userFilter: '(mail={email})',
        memberAttribute: 'member',
      });
    });

    it('names each problem', () => {
      expect(
        problems({
          url: 'https://ldap.example.com',
          bindDn: 'hallpass',
          bindPassword: '',
          userBase: 'people',
          userFilter: '(mail=*)',
          memberAttribute: 'members',
          uidAttribute: 'uid',
          extra: 1,
        }),
      ).toEqual([
        'providers.dir.url: must be an ldaps:// or ldap:// URL with a host and no DN (ldaps://ldap.example.com:636)',
        'providers.dir.bindDn: must be a DN like cn=db-admins,ou=groups,dc=example,dc=org',
        'providers.dir.bindPassword: must not be empty (an empty password is an anonymous bind)',
        'providers.dir.userBase: must be a DN like cn=db-admins,ou=groups,dc=example,dc=org',
        'providers.dir.userFilter: must contain {email}, e.g. (mail={email})',
        'providers.dir.memberAttribute: Invalid option: expected one of "member"|"uniqueMember"|"memberUid"',
        'providers.dir.extra: unknown key',
        'providers.dir.uidAttribute: applies only with memberAttribute: memberUid',
      ]);
      expect(
        problems({ ...base, url: 'ldap://ldap.example.com', bindDn: 'x', startTls: 'yes' }),
      ).toEqual([
        'providers.dir.startTls: Invalid input: expected boolean, received string',
        'providers.dir.bindDn: must be a DN like cn=db-admins,ou=groups,dc=example,dc=org',
        'providers.dir.url: ldap:// would send the bind password in clear: use ldaps:// or startTls: true',
      ]);
      for (const userFilter of ['(&(mail={email})', 'mail={email}', '(mail={email})(uid=x)']) {
        expect(problems({ ...base, userFilter })).toEqual([
          'providers.dir.userFilter: must be one filter in balanced parentheses, e.g. (mail={email})',
        ]);
      }
      expect(problems({ ...base, userFilter: '(ma il={email})' })).toEqual([
        'providers.dir.userFilter: is not a valid LDAP filter (Invalid expression: ma il=someone@example.com)',
      ]);
      expect(problems({ ...base, uidAttribute: 'uid' })).toEqual([
        'providers.dir.uidAttribute: applies only with memberAttribute: memberUid',
      ]);
      expect(problems({ ...base, startTls: true })).toEqual([
        'providers.dir.startTls: is for ldap:// URLs; ldaps:// is TLS from the start',
      ]);
      expect(problems({ ...base, tls: { serverName: '10.0.0.1' } })).toEqual([
        'providers.dir.tls.serverName: must be a host name; an IP address needs no serverName',
      ]);
    });

    it('will not send the bind password in clear beyond this machine', () => {
      expect(problems({ ...base, url: 'ldap://ldap.example.com' })).toEqual([
        'providers.dir.url: ldap:// would send the bind password in clear: use ldaps:// or startTls: true',
      ]);
      expect(problems({ ...base, url: 'ldap://ldap.example.com', startTls: true })).toEqual([]);
      expect(problems({ ...base, url: 'ldap://127.0.0.1:3389' })).toEqual([]);
      expect(problems({ ...base, url: 'ldap://localhost', tls: { caFile: 'ca.pem' } })).toEqual([
        'providers.dir.tls: applies only to ldaps:// or with startTls: true',
      ]);
    });

    it('a target is a group DN', () => {
      expect(ldapGroupAdapter.targetSchema.safeParse({ group: DB_ADMINS }).success).toBe(true);
      for (const target of [{ group: 'db-admins' }, {}, { group: DB_ADMINS, extra: 1 }]) {
        expect(ldapGroupAdapter.targetSchema.safeParse(target).success).toBe(false);
      }
    });

    it('a CA file that cannot be read fails creating the provider', () => {
      const config = ldapGroupAdapter.configSchema.parse({
        ...base,
        tls: { caFile: 'no-such-ca.pem' },
      });
      expect(() => ldapGroupAdapter.create(config, { configDir: '/nonexistent' })).toThrow(
        'tls.caFile: cannot read /nonexistent/no-such-ca.pem: ENOENT',
      );
    });
  });
});
