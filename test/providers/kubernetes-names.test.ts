import fc from 'fast-check';
import { renderUserName } from '../../src/providers/kubernetes/config';
import { bindingName, grantIdLabel } from '../../src/providers/kubernetes/names';

/** What the API server accepts as a binding's name, kept to one label's length. */
const DNS_1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const anyId = fc.oneof(
  fc.stringMatching(/^gr_[0-9a-z]{10}$/),
  fc.stringMatching(/^[a-zA-Z0-9_-]{1,80}$/),
  fc.string({ minLength: 1, maxLength: 100 }),
);

describe('kubernetes binding names', () => {
  it('maps a grant id to a readable name and keeps it as the label', () => {
    expect(bindingName('gr_7k2m9x4q1p')).toBe('hallpass-gr-7k2m9x4q1p');
    expect(grantIdLabel('gr_7k2m9x4q1p')).toBe('gr_7k2m9x4q1p');
  });

  it('hashes ids that would not map one to one or not fit', () => {
    for (const id of ['gr-7k2m9x4q1p', 'GR_7K2M9X4Q1P', 'gr_', `gr_${'x'.repeat(60)}`]) {
      expect(bindingName(id)).toMatch(/^hallpass-[-a-z0-9]*-[0-9a-f]{16}$/);
    }
    expect(bindingName('gr-a')).not.toBe(bindingName('gr_a'));
    expect(bindingName('GR_A')).not.toBe(bindingName('gr_a'));
  });

  it('always gives a valid object name of at most 63 characters and a valid label value', () => {
    fc.assert(
      fc.property(anyId, (id) => {
        const name = bindingName(id);
        expect(name).toMatch(DNS_1123);
        expect(name.length).toBeLessThanOrEqual(63);
        expect(name.startsWith('hallpass-')).toBe(true);
        const label = grantIdLabel(id);
        expect(label).toMatch(LABEL_VALUE);
        expect(label.length).toBeLessThanOrEqual(63);
      }),
    );
  });

  it('never gives two grant ids the same name', () => {
    fc.assert(
      fc.property(anyId, anyId, (a, b) => {
        fc.pre(a !== b);
        expect(bindingName(a)).not.toBe(bindingName(b));
      }),
    );
  });
});

describe('kubernetes user names', () => {
  it('fills every placeholder, each time it appears', () => {
    const user = { slackId: 'U0ADA', email: 'ada+ops@corp.example.com' };
    expect(renderUserName('{localPart}/{email}/{slackId}/{slackId}', user)).toBe(
      'ada+ops/ada+ops@corp.example.com/U0ADA/U0ADA',
    );
  });
});
