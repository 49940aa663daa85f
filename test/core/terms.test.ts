import { termsOf } from '../../src/core/terms';

const recorded = {
  provider: 'hook',
  target: { group: 'db-admins', options: { ttl: 3600 } },
  resourceName: 'Production database',
  approverChannel: 'CDBA',
  maxTotalDurationMs: 14_400_000,
  approvalsRequired: 1,
};

describe('termsOf', () => {
  it('reads the terms recorded on a grant, and nothing from a grant that recorded none', () => {
    expect(termsOf({ snapshot: JSON.stringify(recorded) })).toEqual(recorded);
    expect(termsOf({ snapshot: null })).toBeUndefined();
  });

  it('gives undefined for a text that does not hold terms, every time it is read', () => {
    const unreadable = JSON.stringify({ provider: 'hook' });
    expect(termsOf({ snapshot: unreadable })).toBeUndefined();
    expect(termsOf({ snapshot: unreadable })).toBeUndefined();
  });

  it('hands every grant with the same text terms no caller can change under the others', () => {
    const text = JSON.stringify(recorded);
    const first = termsOf({ snapshot: text })!;
    const second = termsOf({ snapshot: text })!;
    expect(second).toEqual(recorded);
    const target = first.target as { group: string; options: { ttl: number } };
    expect(() => {
      target.group = 'everyone';
    }).toThrow(TypeError);
    expect(() => {
      target.options.ttl = 0;
    }).toThrow(TypeError);
    expect(termsOf({ snapshot: text })).toEqual(recorded);
  });
});
