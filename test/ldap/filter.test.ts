import { FilterParser } from 'ldapts';
import { emailFilterProblem, escapeFilterValue, fillEmailFilter } from '../../src/ldap/filter';

describe('LDAP filter values', () => {
  it('escapes the five characters RFC 4515 reserves, and nothing else', () => {
    expect(escapeFilterValue('a*(b)\\c\0d é@example.com')).toBe(
      'a\\2a\\28b\\29\\5cc\\00d é@example.com',
    );
  });

  it('an escaped value parses back to itself as one equality test', () => {
    const email = 'x)(|(uid=*)(mail=*\\';
    const filter = FilterParser.parseString(fillEmailFilter('(mail={email})', email));
    expect(filter).toMatchObject({ attribute: 'mail', value: email });
  });

  it('fills every {email} of a template', () => {
    expect(fillEmailFilter('(|(mail={email})(uid={email}))', 'a*b')).toBe(
      '(|(mail=a\\2ab)(uid=a\\2ab))',
    );
    expect(emailFilterProblem('(|(mail={email})(uid={email}))')).toBeUndefined();
  });
});
