import { ticketExample } from '../../src/core';
import { closestMatch } from '../../src/core/suggest';

describe('a ticket example people are shown instead of a pattern', () => {
  it.each([
    ['^[A-Z]+-[0-9]+$', 'ABC-123'],
    ['^OPS-\\d+$', 'OPS-123'],
    ['^(OPS|SEC)-\\d{3,5}$', 'OPS-123'],
    ['^INC\\d{6}$', 'INC123456'],
    ['^(?:CHG|INC)[0-9]{7}$', 'CHG1234567'],
    ['^[a-z]{2,4}#\\d+$', 'abc#123'],
    ['^JIRA-[0-9]+$|^INC\\d+$', 'JIRA-123'],
  ])('writes one that %s accepts', (pattern, example) => {
    expect(ticketExample({ ticketPattern: pattern })).toBe(example);
    expect(new RegExp(pattern).test(example)).toBe(true);
  });

  it('gives none for a pattern it cannot read, rather than a wrong one', () => {
    expect(ticketExample({ ticketPattern: '^[^x]+$' })).toBeUndefined();
    expect(ticketExample({ ticketPattern: '^(?=OPS)\\w+$' })).toBeUndefined();
  });

  it('prefers the configured example', () => {
    expect(ticketExample({ ticketPattern: '^[A-Z]+-[0-9]+$', ticketExample: 'OPS-7' })).toBe(
      'OPS-7',
    );
  });
});

describe('"Did you mean" for a mistyped id', () => {
  it.each([
    ['prod-dbb', ['prod-db', 'prod-db-read'], 'prod-db'],
    ['prod-dbb', ['prod-db-read', 'incident-room'], 'prod-db-read'],
    ['incidnet-room', ['prod-db-read', 'incident-room'], 'incident-room'],
    ['prod', ['prod-db-read', 'incident-room'], 'prod-db-read'],
  ])('suggests for %s among %j: %s', (typed, known, expected) => {
    expect(closestMatch(typed, known)).toBe(expected);
  });

  it('suggests nothing for what is no slip', () => {
    expect(closestMatch('staging', ['prod-db-read', 'incident-room'])).toBeUndefined();
  });
});
