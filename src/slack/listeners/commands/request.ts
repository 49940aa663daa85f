import { parseRequestArgs } from '../../command-parser';
import { requestFiledText, textReply, usageReply } from '../../ui/replies';
import type { Subcommand } from './subcommand';

const usage = '/jit request <resource-id> <duration> [from HH:MM] <why…> [ticket:REF]';

export const requestSubcommand: Subcommand = {
  name: 'request',
  usage,
  summary: 'asks for access, e.g. `/jit request prod-db 1h investigating INC-42`.',
  async run(ctx) {
    const parsed = parseRequestArgs(ctx.rest);
    if (!parsed.ok) return ctx.reply(usageReply(parsed.problem, usage));
    const { resourceId, duration, justification, ticket, startAt } = parsed.value;
    const row = await ctx.core.createRequest({
      requester: ctx.userId,
      resourceId,
      duration,
      justification,
      ticket,
      startAt,
      // One command invocation files at most one request, even if it were delivered twice.
      clientKey: `command:${ctx.command.trigger_id}`,
    });
    const resource = ctx.core.policy.resource(row.resourceId);
    await ctx.reply(
      textReply(
        requestFiledText(row, resource, ctx.core.policy.approverChannel(resource), {
          timezone: ctx.core.config.timezone,
          now: ctx.core.now(),
        }),
      ),
    );
  },
};
