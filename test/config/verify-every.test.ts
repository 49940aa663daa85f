import { parseConfig } from '../../src/config/load';
import { BASE_CONFIG } from '../support/core';

/**
 * The chain watch waits `audit.verifyEvery` with one timer, and Node waits no longer than about
 * 24.8 days in one go: a longer wait would fire at once, and the leader would walk the chain back
 * to back. The schema takes at most a day.
 */
describe('audit.verifyEvery', () => {
  it('takes up to a day', () => {
    const config = parseConfig(`${BASE_CONFIG}\naudit: { verifyEvery: 1d }\n`, {});
    expect(config.audit.verifyEvery).toBe(86_400_000);
  });

  it('refuses longer, saying why', () => {
    expect(() => parseConfig(`${BASE_CONFIG}\naudit: { verifyEvery: 30d }\n`, {})).toThrow(
      'audit.verifyEvery: at most 1d: a break must be found within a day',
    );
  });
});
