import { grantRoleName, newPassword } from '../../src/providers/postgres/role-name';
import { scramVerifier } from '../../src/providers/postgres/scram';

const VALID = /^[a-z0-9_]{1,63}$/;

describe('grant role names', () => {
  it('spell out Slack user ids and grant ids as they are', () => {
    expect(grantRoleName('U012ABCDEF', 'gr_7k2m9x4q1p')).toBe('hallpass_u012abcdef_gr_7k2m9x4q1p');
  });

  it('are the same for the same grant, so a retry finds the role', () => {
    expect(grantRoleName('U1', 'gr_a')).toBe(grantRoleName('U1', 'gr_a'));
  });

  it('stay within 63 characters of [a-z0-9_] and apart, whatever the ids', () => {
    const pairs: [string, string][] = [
      ['U1', 'gr_a'],
      ['U1_', 'gr_a'],
      ['U1', '_gr_a'],
      ['u1', 'gr_a'],
      ['U1', 'GR_A'],
      ['W-Ü"; DROP ROLE x', 'gr_a'],
      ['U'.padEnd(40, 'X'), 'gr_'.padEnd(40, 'y')],
      ['U'.padEnd(40, 'X'), 'gr_'.padEnd(40, 'y') + 'z'],
    ];
    const names = pairs.map(([user, grant]) => grantRoleName(user, grant));
    for (const name of names) expect(name).toMatch(VALID);
    expect(new Set(names).size).toBe(pairs.length);
  });
});

describe('passwords and their SCRAM verifiers', () => {
  it('are long, random, and safe to paste', () => {
    const a = newPassword();
    expect(a).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(newPassword()).not.toBe(a);
  });

  it('have the shape PostgreSQL stores (logins with them are tested on a real server)', () => {
    const verifier = scramVerifier('pencil', Buffer.alloc(16, 1));
    expect(verifier).toMatch(
      /^SCRAM-SHA-256\$4096:AQEBAQEBAQEBAQEBAQEBAQ==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/,
    );
    expect(scramVerifier('pencil', Buffer.alloc(16, 1))).toBe(verifier);
    expect(scramVerifier('pencil')).not.toBe(verifier);
  });
});
