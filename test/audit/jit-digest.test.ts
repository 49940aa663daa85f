import { logger } from '../../src/log';
import { createSlackApp, type SlackApp } from '../../src/slack/app';
import { digestSubcommand } from '../../src/slack/listeners/commands/digest';
import { blockKitProblems } from '../../src/slack/ui/limits';
import { FakeSlack } from '../support/fake-slack';
import { SlackSender } from '../support/slack-requests';
import { STORE_KINDS } from '../support/stores';
import { fixtureWeek, PERIOD, type FixtureWeek } from './fixture-week';

const SIGNING_SECRET = 'test-signing-secret-0123456789';

describe.each(STORE_KINDS)('/jit digest (%s)', (kind) => {
  let w: FixtureWeek;
  let fake: FakeSlack;
  let slack: SlackApp;
  let send: SlackSender;
  let responses = 0;

  beforeAll(async () => {
    w = await fixtureWeek(kind);
    w.clock.set(PERIOD.end);
    fake = await new FakeSlack().start();
    slack = createSlackApp({
      core: w.core,
      botToken: 'xoxb-test-bot-token',
      signingSecret: SIGNING_SECRET,
      apiUrl: fake.url,
      logger,
      health: async () => ({ ready: true, database: true, leader: true }),
      extraSubcommands: [digestSubcommand],
    });
    await slack.start(0, '127.0.0.1');
    send = new SlackSender(`http://127.0.0.1:${slack.port}/slack/events`, SIGNING_SECRET);
  });
  afterAll(async () => {
    await slack.stop();
    await fake.stop();
    await w.close();
  });

  async function jit(userId: string, text: string) {
    const responseUrl = `${fake.url}response/${++responses}`;
    const res = await send.command({ userId, text, responseUrl });
    expect(res.status).toBe(200);
    const method = responseUrl.slice(fake.url.length);
    const call = await fake.waitFor((calls) => calls.find((c) => c.method === method));
    return call.args;
  }

  it('shows an admin the last 7 days, to them only, and posts nothing in channels', async () => {
    const answer = await jit('UADMIN', 'digest');
    expect(answer.response_type).toBe('ephemeral');
    expect(String(answer.text)).toMatch(
      /^Hallpass weekly digest, Mon 19 Oct 2026 09:00 – Mon 26 Oct 2026 09:00 \(Europe\/Berlin\)/,
    );
    expect(blockKitProblems(answer.blocks as unknown[])).toEqual([]);
    expect(JSON.stringify(answer.blocks)).toContain('14 filed · 11 approved');
    expect(fake.callsOf('chat.postMessage')).toEqual([]);
  });

  it('refuses anyone else', async () => {
    const answer = await jit('UREQ', 'digest');
    expect(answer.response_type).toBe('ephemeral');
    expect(String(answer.text)).toContain('Only Hallpass admins can see the digest.');
  });

  it('is listed in /jit help', async () => {
    const answer = await jit('UREQ', 'help');
    expect(JSON.stringify(answer)).toContain('/jit digest');
  });
});
