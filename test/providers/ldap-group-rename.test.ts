import { Attribute, Change, Client } from 'ldapts';
import { ldapGroupAdapter, type LdapGroupTarget } from '../../src/providers/ldap-group/adapter';
import type { Provider } from '../../src/providers/types';
import { JIT_GROUPS, PEOPLE, startSlapd, SUFFIX, type TestSlapd } from '../support/slapd';
import { callContext } from './contract';

/**
 * A person's entry renamed or moved during the grant: the group's member value follows it (Active
 * Directory does this for every group, as `member` is a linked attribute; OpenLDAP with the refint
 * overlay, which the test plays by rewriting the value itself). The DN kept in `state` then finds
 * nothing; revoke and check must also act on the DN the person's email finds now.
 */

const PLACEHOLDER = `cn=placeholder,${SUFFIX}`;
const DB_ADMINS = `cn=db-admins,${JIT_GROUPS}`;
const OLD_DN = `uid=carol,${PEOPLE}`;
const NEW_DN = `uid=carol.smith,${PEOPLE}`;

const ENTRIES = [
  [
    `dn: ${OLD_DN}`,
    'objectClass: inetOrgPerson',
    'uid: carol',
    'cn: carol',
    'sn: carol',
    'mail: carol@example.com',
  ].join('\n'),
  [`dn: ${DB_ADMINS}`, 'objectClass: groupOfNames', `member: ${PLACEHOLDER}`].join('\n'),
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

function ldapGroup(): Provider<LdapGroupTarget> {
  const config = ldapGroupAdapter.configSchema.parse({
    url: slapd.url,
    bindDn: slapd.service.dn,
    bindPassword: slapd.service.password,
    userBase: PEOPLE,
  });
  return ldapGroupAdapter.create(config, { configDir: __dirname });
}

async function members(): Promise<string[]> {
  const { searchEntries } = await manager.search(DB_ADMINS, {
    scope: 'base',
    attributes: ['member'],
  });
  const raw = searchEntries[0]?.member ?? [];
  return (Array.isArray(raw) ? raw : [raw]).map(String);
}

it('revokes and checks a person renamed during the grant under their new DN', async () => {
  const provider = ldapGroup();
  const ctx = callContext<LdapGroupTarget>(
    { group: DB_ADMINS },
    { user: { slackId: 'U0CAROL', email: 'carol@example.com' } },
  );
  const { state } = await provider.grant(ctx);
  expect(await members()).toEqual([PLACEHOLDER, OLD_DN]);

  // Carol's entry is renamed (uid=carol -> uid=carol.smith); the directory's referential
  // integrity (AD's linked attributes, OpenLDAP's refint) rewrites the group's member value.
  await manager.modifyDN(OLD_DN, 'uid=carol.smith');
  await manager.modify(DB_ADMINS, [
    new Change({
      operation: 'delete',
      modification: new Attribute({ type: 'member', values: [OLD_DN] }),
    }),
    new Change({
      operation: 'add',
      modification: new Attribute({ type: 'member', values: [NEW_DN] }),
    }),
  ]);
  expect(await members()).toEqual([PLACEHOLDER, NEW_DN]);

  const held = { ...ctx, state };
  // Still there, under the new DN: the check sees it, the revoke removes it, then it is gone.
  expect(await provider.check!(held)).toBe(true);
  await provider.revoke(held);
  expect(await members()).toEqual([PLACEHOLDER]);
  expect(await provider.check!(held)).toBe(false);
});
