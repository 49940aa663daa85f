import { parseEnv } from '../../src/config/env';

/**
 * PORT=0 means "any free port" (tests). A PORT that holds only blanks (a `PORT= ` line in an env
 * file, a templating slip) is not that: read as 0, the bot would start on a random port and say
 * it started, while the load balancer and Slack knock on 3000.
 */
describe('a PORT made of blanks', () => {
  const base = { SLACK_BOT_TOKEN: 'xoxb-test', SLACK_SIGNING_SECRET: 'test-signing-secret' };

  it.each([' ', '\t', '\n'])('PORT=%j is refused or the default, never port 0', (port) => {
    const parsed = parseEnv({ ...base, PORT: port });
    if ('env' in parsed) expect(parsed.env.PORT).toBe(3000);
    else expect(parsed.problems.join('\n')).toMatch(/PORT/);
  });
});
