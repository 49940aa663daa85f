import { parseExtendArgs } from '../../command-parser';
import { requestFiledText, textReply, usageReply } from '../../ui/replies';
import type { Subcommand } from './subcommand';

const usage = '/jit extend <grant-id> <duration> <why…>';

export const extendSubcommand: Subcommand = {
  name: 'extend',
  usage,
  summary: 'asks for more time on one of your active grants; the same approvers decide.',
  async run(ctx) {
    const parsed = parseExtendArgs(ctx.rest);
    if (!parsed.ok) return ctx.reply(usageReply(parsed.problem, usage));
    const row = await ctx.core.requestExtension({
      grantId: parsed.value.grantId,
      actor: ctx.userId,
      duration: parsed.value.duration,
      justification: parsed.value.reason,
      clientKey: `command:${ctx.command.trigger_id}`,
    });
    const resource = ctx.core.policy.resource(row.resourceId);
    await ctx.reply(
      textReply(requestFiledText(row, resource, ctx.core.policy.approverChannel(resource))),
    );
  },
};
