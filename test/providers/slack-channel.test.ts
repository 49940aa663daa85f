import { LogLevel, WebClient } from '@slack/web-api';
import { slackChannelAdapter, type SlackChannelTarget } from '../../src/providers/slack-channel';
import type { Provider, SlackApi } from '../../src/providers/types';
import { FakeSlack } from '../support/fake-slack';
import { callContext, providerContract } from './contract';

const CHANNEL = 'CWARROOM1';
const TARGET: SlackChannelTarget = { channel: CHANNEL };

function slackClient(fake: FakeSlack): WebClient {
  return new WebClient('xoxb-test', {
    slackApiUrl: fake.url,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    // The calls a stalled test abandons fail later, when the fake lets go; that is expected.
    logLevel: LogLevel.ERROR,
  });
}

function channelProvider(slack: SlackApi): Provider<SlackChannelTarget> {
  return slackChannelAdapter.create({}, { configDir: __dirname, slack });
}

providerContract('slack-channel', async () => {
  const fake = await new FakeSlack().start();
  const provider = channelProvider(slackClient(fake));
  return {
    provider,
    target: TARGET,
    held: async (ctx) => (fake.members[CHANNEL]?.has(ctx.user.slackId) ? 1 : 0),
    // Slack keeps no expiry on a channel membership: only Hallpass ends it.
    expiryHeld: async () => null,
    stalled: async () => {
      for (const method of [
        'conversations.invite',
        'conversations.kick',
        'conversations.members',
      ]) {
        fake.fail(method, { kind: 'hang' });
      }
      return { provider, release: async () => fake.clearFaults() };
    },
    stop: () => fake.stop(),
  };
});

describe('slack-channel provider', () => {
  let fake: FakeSlack;
  let provider: Provider<SlackChannelTarget>;

  beforeEach(async () => {
    fake = await new FakeSlack().start();
    provider = channelProvider(slackClient(fake));
  });
  afterEach(() => fake.stop());

  it('invites on grant and kicks on revoke, with the bot token', async () => {
    const ctx = callContext(TARGET, { user: { slackId: 'UALICE' } });
    expect(await provider.grant(ctx)).toEqual({});
    expect(fake.callsOf('conversations.invite')[0]).toMatchObject({
      args: { channel: CHANNEL, users: 'UALICE' },
      token: 'xoxb-test',
    });
    await provider.revoke(ctx);
    expect(fake.callsOf('conversations.kick')[0]?.args).toEqual({
      channel: CHANNEL,
      user: 'UALICE',
    });
    expect(fake.members[CHANNEL]?.has('UALICE')).toBe(false);
  });

  it('treats already_in_channel and not_in_channel as done', async () => {
    const ctx = callContext(TARGET, { user: { slackId: 'UBOB' } });
    fake.members[CHANNEL] = new Set(['UBOB']);
    await expect(provider.grant(ctx)).resolves.toEqual({});
    fake.members[CHANNEL] = new Set();
    await expect(provider.revoke(ctx)).resolves.toBeUndefined();
  });

  it('check follows the members cursor across pages', async () => {
    const pages: Record<string, { members: string[]; next: string }> = {
      '': { members: ['U1', 'U2'], next: 'page2' },
      page2: { members: ['U3'], next: 'page3' },
      page3: { members: ['UCAROL'], next: '' },
    };
    fake.on('conversations.members', (args) => {
      const page = pages[String(args.cursor ?? '')]!;
      return { members: page.members, response_metadata: { next_cursor: page.next } };
    });
    expect(await provider.check!(callContext(TARGET, { user: { slackId: 'UCAROL' } }))).toBe(true);
    expect(fake.callsOf('conversations.members').map((c) => c.args.cursor)).toEqual([
      undefined,
      'page2',
      'page3',
    ]);
    expect(await provider.check!(callContext(TARGET, { user: { slackId: 'UDAVE' } }))).toBe(false);
  });

  it('turns Slack errors into failures that say what to fix', async () => {
    fake.fail('conversations.invite', { kind: 'error', error: 'not_in_channel' });
    await expect(provider.grant(callContext(TARGET))).rejects.toThrow(
      'slack conversations.invite failed: not_in_channel (the bot must be a member of the channel)',
    );
    fake.fail('conversations.kick', { kind: 'error', error: 'channel_not_found' });
    await expect(provider.revoke(callContext(TARGET))).rejects.toThrow(
      'slack conversations.kick failed: channel_not_found',
    );
    fake.fail('conversations.members', { kind: 'error', error: 'missing_scope' });
    await expect(provider.check!(callContext(TARGET))).rejects.toThrow(
      /^slack conversations.members failed: missing_scope \(.*groups:read/,
    );
  });

  it('fails on HTTP errors and rate limits the WebClient throws', async () => {
    fake.fail('conversations.invite', { kind: 'status', status: 500 });
    await expect(provider.grant(callContext(TARGET))).rejects.toThrow(
      /^slack conversations.invite failed: .*500/,
    );
    fake.fail('conversations.kick', { kind: 'ratelimited', retryAfter: 30 });
    await expect(provider.revoke(callContext(TARGET))).rejects.toThrow(
      /^slack conversations.kick failed: .*rate/i,
    );
  });

  it('also understands a client that answers {ok: false} instead of throwing', async () => {
    const quiet: SlackApi = { apiCall: async () => ({ ok: false, error: 'is_archived' }) };
    await expect(channelProvider(quiet).grant(callContext(TARGET))).rejects.toThrow(
      'slack conversations.invite failed: is_archived',
    );
  });

  it('cannot be created without the Slack app', () => {
    expect(() => slackChannelAdapter.create({}, { configDir: __dirname })).toThrow(
      'slack-channel needs the Slack app',
    );
  });
});
