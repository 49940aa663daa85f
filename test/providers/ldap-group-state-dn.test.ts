import { Attribute, Change, Client } from 'ldapts';
import { ldapGroupAdapter, type LdapGroupTarget } from '../../src/providers/ldap-group/adapter';
import type { Provider } from '../../src/providers/types';
import { JIT_GROUPS, PEOPLE, startSlapd, SUFFIX, type TestSlapd } from '../support/slapd';
import { callContext } from './contract';

/**
 * While the DN granted (kept in state) still exists, revoke and check act on it alone: the
 * granted email may name another entry by now (an address given to someone else, a second
 * account), whose own membership is not the grant's.
 */
const PLACEHOLDER = `cn=placeholder,${SUFFIX}`;
const OPS = `cn=ops,${JIT_GROUPS}`;
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
  person('dan', 'dan@example.com'),
  person('erin', 'erin@example.com'),
  person('fred', 'fred@example.com'),
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

async function members(): Promise<string[]> {
  const { searchEntries } = await manager.search(OPS, { scope: 'base', attributes: ['member'] });
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

it("revoking Dan's grant leaves Erin's own membership alone when Dan's old address now names Erin", async () => {
  const provider = ldapGroup();
  const ctx = callContext<LdapGroupTarget>(
    { group: OPS },
    { user: { slackId: 'U0DAN', email: 'dan@example.com' } },
  );
  const { state } = await provider.grant(ctx);
  expect(await members()).toEqual([ERIN, PLACEHOLDER, DAN].sort());

  // During the grant the address moves: Dan becomes dan.old@, and dan@ (a team alias, a reused
  // address) is put on Erin's entry. The grant recorded dan@ as its granted email.
  await setMail(DAN, 'dan.old@example.com');
  await setMail(ERIN, 'dan@example.com');

  await provider.revoke({ ...ctx, state });
  // Dan is out; Erin, who Hallpass never added, must still be a member.
  expect(await members()).toEqual([ERIN, PLACEHOLDER].sort());
});

it('revokes by the DN it granted even when the email now matches two entries', async () => {
  const provider = ldapGroup();
  const ctx = callContext<LdapGroupTarget>(
    { group: OPS },
    { user: { slackId: 'U0FRED', email: 'fred@example.com' } },
  );
  const { state } = await provider.grant(ctx);
  expect(await members()).toContain(FRED);

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
  expect(await members()).not.toContain(FRED);
});
