import { z } from 'zod';
import { raceAbort } from './abort';
import type { ProviderAdapter, ProviderCallContext, SlackApi, SlackApiResult } from './types';

const slackChannelConfig = z.strictObject({});
const slackChannelTarget = z.strictObject({
  channel: z.string().regex(/^[CG][A-Z0-9]{2,}$/, 'must be a Slack channel id like C012ABCDEF'),
});

export type SlackChannelConfig = z.infer<typeof slackChannelConfig>;
export type SlackChannelTarget = z.infer<typeof slackChannelTarget>;

const MEMBERS_PAGE = 200;

/** What an error means for an operator, where Slack's code alone does not say. */
const HINTS: Record<string, string> = {
  not_in_channel: 'the bot must be a member of the channel',
  channel_not_found: 'no such channel, or the bot cannot see it',
  missing_scope: 'the app lacks a scope (groups:write and groups:read for private channels)',
};

export const slackChannelAdapter: ProviderAdapter<SlackChannelConfig, SlackChannelTarget> = {
  type: 'slack-channel',
  configSchema: slackChannelConfig,
  targetSchema: slackChannelTarget,
  create(_config, deps) {
    const slack = deps.slack;
    if (!slack) throw new Error('slack-channel needs the Slack app');
    const call = (ctx: ProviderCallContext<SlackChannelTarget>, method: string, args: object) =>
      slackCall(slack, ctx.signal, method, args);
    return {
      guarantees: { enforcesExpiry: false, endsOpenSessions: true, isolation: 'shared' },
      // Channel membership is the Slack user's: the same after their email changes.
      sharedPer: 'slack-user',
      sharedBy: 'target',
      async grant(ctx) {
        const { channel } = ctx.resource.target;
        await call(ctx, 'conversations.invite', { channel, users: ctx.user.slackId }).catch(
          allow('already_in_channel'),
        );
        return {};
      },
      async revoke(ctx) {
        const { channel } = ctx.resource.target;
        await call(ctx, 'conversations.kick', { channel, user: ctx.user.slackId }).catch(
          allow('not_in_channel'),
        );
      },
      async check(ctx) {
        const { channel } = ctx.resource.target;
        let cursor: string | undefined;
        do {
          const page = await call(ctx, 'conversations.members', {
            channel,
            limit: MEMBERS_PAGE,
            ...(cursor ? { cursor } : {}),
          });
          const { members } = page as { members?: unknown };
          if (Array.isArray(members) && members.includes(ctx.user.slackId)) return true;
          cursor = page.response_metadata?.next_cursor;
        } while (cursor);
        return false;
      },
    };
  },
};

class SlackCallError extends Error {
  constructor(
    readonly method: string,
    readonly code: string,
  ) {
    super(`slack ${method} failed: ${code}${HINTS[code] ? ` (${HINTS[code]})` : ''}`);
  }
}

/** An error code that means the wanted state already holds, so the call succeeded after all. */
function allow(code: string) {
  return (err: unknown) => {
    if (err instanceof SlackCallError && err.code === code) return;
    throw err;
  };
}

/**
 * One Web API call, with `{ok: false}` answers and thrown WebClient errors both turned into a
 * SlackCallError carrying Slack's error code.
 */
async function slackCall(
  slack: SlackApi,
  signal: AbortSignal,
  method: string,
  args: object,
): Promise<SlackApiResult> {
  let result: SlackApiResult;
  try {
    result = await raceAbort(signal, `slack ${method}`, () => slack.apiCall(method, { ...args }));
  } catch (err) {
    const code = (err as { data?: { error?: unknown } }).data?.error;
    if (typeof code === 'string') throw new SlackCallError(method, code);
    if (signal.aborted) throw err;
    throw new Error(`slack ${method} failed: ${(err as Error).message ?? String(err)}`);
  }
  if (result.ok === false) throw new SlackCallError(method, result.error ?? 'unknown_error');
  return result;
}
