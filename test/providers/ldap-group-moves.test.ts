import { Attribute, Change, Client } from 'ldapts';
import { ldapGroupAdapter, type LdapGroupTarget } from '../../src/providers/ldap-group/adapter';
import type { Provider } from '../../src/providers/types';
import { JIT_GROUPS, PEOPLE, startSlapd, SUFFIX, type TestSlapd } from '../support/slapd';
import { callContext } from './contract';

/**
 * People's entries that change during a grant, against slapd. Renamed or moved: the group's
 * member value follows the entry (Active Directory does this for every group, as `member` is a
 * linked attribute; OpenLDAP with the refint overlay, which the tests play by rewriting the value
 * themselves), so the DN kept in `state` finds nothing and revoke and check act on the DN the
 * person's email finds now. While the DN granted still exists, they act on it alone: the granted
 * email may name another entry by now (an address given to someone else, a second account),
 * whose own membership is not the grant's.
 */
const PLACEHOLDER = `cn=placeholder,${SUFFIX}`;
const DB_ADMINS = `cn=db-admins,${JIT_GROUPS}`;
const OPS = `cn=ops,${JIT_GROUPS}`;
const OLD_DN = `uid=carol,${PEOPLE}`;
const NEW_DN = `uid=carol.smith,${PEOPLE}`;
const DAN = `uid=dan,${PEOPLE}`;
const ERIN = `uid=erin,${PEOPLE}`;
const FRED = `uid=fred,${PEOPLE}`;
const FRED2 = `uid=fred.admin,${PEOPLE}`;

const person = (uid: string, mail: string) =>
  [
    `dn: uid=${uid},${PEOPLE}`,
    'objectClass: inetOrgPerson',
    `uid: ${uid}`,
    `cn: ${uid}`,
    `sn: ${uid}`,
    `mail: ${mail}`,
  ].join('\n');

const ENTRIES = [
  person('carol', 'carol@example.com'),
  person('dan', 'dan@example.com'),
  person('erin', 'erin@example.com'),
  person('fred', 'fred@example.com'),
  [`dn: ${DB_ADMINS}`, 'objectClass: groupOfNames', `member: ${PLACEHOLDER}`].join('\n'),
  // Erin is a permanent member of ops, added by hand, not by Hallpass.
  [`dn: ${OPS}`, 'objectClass: groupOfNames', `member: ${PLACEHOLDER}`, `member: ${ERIN}`].join(
    '\n',
  ),
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

async function members(group: string): Promise<string[]> {
  const { searchEntries } = await manager.search(group, { scope: 'base', attributes: ['member'] });
  const raw = searchEntries[0]?.member ?? [];
  return (Array.isArray(raw) ? raw : [raw]).map(String).sort();
}

const setMail = (dn: string, mail: string) =>
  manager.modify(dn, [
    new Change({
      operation: 'replace',
      modification: new Attribute({ type: 'mail', values: [mail] }),
    }),
  ]);

it('revokes and checks a person renamed during the grant under their new DN', async () => {
  const provider = ldapGroup();
  const ctx = callContext<LdapGroupTarget>(
    { group: DB_ADMINS },
    { user: { slackId: 'U0CAROL', email: 'carol@example.com' } },
  );
  const { state } = await provider.grant(ctx);
  expect(await members(DB_ADMINS)).toEqual([PLACEHOLDER, OLD_DN]);

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
  expect(await members(DB_ADMINS)).toEqual([PLACEHOLDER, NEW_DN]);

  const held = { ...ctx, state };
  // Still there, under the new DN: the check sees it, the revoke removes it, then it is gone.
  expect(await provider.check!(held)).toBe(true);
  await provider.revoke(held);
  expect(await members(DB_ADMINS)).toEqual([PLACEHOLDER]);
  expect(await provider.check!(held)).toBe(false);
});

it("revoking Dan's grant leaves Erin's own membership alone when Dan's old address now names Erin", async () => {
  const provider = ldapGroup();
  const ctx = callContext<LdapGroupTarget>(
    { group: OPS },
    { user: { slackId: 'U0DAN', email: 'dan@example.com' } },
  );
  const { state } = await provider.grant(ctx);
  expect(await members(OPS)).toEqual([ERIN, PLACEHOLDER, DAN].sort());

  // During the grant the address moves: Dan becomes dan.old@, and dan@ (a team alias, a reused
  // address) is put on Erin's entry. The grant recorded dan@ as its granted email.
  await setMail(DAN, 'dan.old@example.com');
  await setMail(ERIN, 'dan@example.com');

  await provider.revoke({ ...ctx, state });
  // Dan is out; Erin, who Hallpass never added, must still be a member.
  expect(await members(OPS)).toEqual([ERIN, PLACEHOLDER].sort());
});

it('revokes by the DN it granted even when the email now matches two entries', async () => {
  const provider = ldapGroup();
  const ctx = callContext<LdapGroupTarget>(
    { group: OPS },
    { user: { slackId: 'U0FRED', email: 'fred@example.com' } },
  );
  const { state } = await provider.grant(ctx);
  expect(await members(OPS)).toContain(FRED);

  // A second account with the same mail (an admin account of Fred's) is created meanwhile.
  await manager.add(FRED2, {
    objectClass: 'inetOrgPerson',
    uid: 'fred.admin',
    cn: 'fred.admin',
    sn: 'fred',
    mail: 'fred@example.com',
  });

  // The state names the DN that was granted: that is enough to remove it (as before 0aa6aaf).
  await provider.revoke({ ...ctx, state });
  expect(await members(OPS)).not.toContain(FRED);
});
