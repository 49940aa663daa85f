import { parseRequestArgs } from '../../command-parser';
import { breakGlassUsedText } from '../../ui/break-glass';
import { textReply, usageReply } from '../../ui/replies';
import type { Subcommand } from './subcommand';

const usage = '/jit breakglass <resource-id> <duration> <why…> [ticket:REF]';

/**
 * `/jit breakglass`: access at once without approval, for those a resource allows; the answer
 * says loudly that the use is audited and will be reviewed.
 */
export const breakGlassSubcommand: Subcommand = {
  name: 'breakglass',
  aliases: ['break-glass'],
  usage,
  summary: 'emergency access at once, without approval, where allowed: audited and reviewed.',
  async run(ctx) {
    const parsed = parseRequestArgs(ctx.rest);
    if (!parsed.ok) return ctx.reply(usageReply(parsed.problem, usage));
    const { resourceId, duration, justification, ticket, startAt } = parsed.value;
    const { request, use } = await ctx.core.breakGlass({
      requester: ctx.userId,
      resourceId,
      duration,
      justification,
      ticket,
      startAt,
      // One command invocation breaks the glass at most once, even if it were delivered twice.
      clientKey: `command:${ctx.command.trigger_id}`,
    });
    const resource = ctx.core.policy.resource(request.resourceId);
    await ctx.reply(
      textReply(
        breakGlassUsedText({
          request,
          use,
          resource,
          approverChannel: ctx.core.policy.approverChannel(resource),
          now: ctx.core.now(),
          timezone: ctx.core.config.timezone,
        }),
      ),
    );
  },
};
