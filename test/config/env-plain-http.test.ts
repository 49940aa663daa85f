import { parseEnv } from '../../src/config/env';

const BASE = { SLACK_BOT_TOKEN: 'xoxb-1-2-abc', SLACK_SIGNING_SECRET: 'abcdef0123456789' };

/**
 * Every Web API call carries SLACK_BOT_TOKEN to SLACK_API_URL: as everywhere Hallpass sends a
 * secret, plain http is refused except to a loopback address.
 */
describe('SLACK_API_URL', () => {
  it('refuses plain http to a host off this machine', () => {
    const parsed = parseEnv({ ...BASE, SLACK_API_URL: 'http://slack-gov.example.com/api/' });
    expect(parsed).toEqual({ problems: [expect.stringMatching(/SLACK_API_URL.*https/)] });
  });

  it('still takes https anywhere and http to loopback (tests, a local proxy)', () => {
    for (const url of ['https://slack-gov.com/api/', 'http://127.0.0.1:4010/api/'])
      expect(parseEnv({ ...BASE, SLACK_API_URL: url })).toHaveProperty('env');
  });
});
