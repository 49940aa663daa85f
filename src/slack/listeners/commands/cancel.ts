import { parseIdArgs } from '../../command-parser';
import { cancelledText, textReply, usageReply } from '../../ui/replies';
import { listContext } from '../deps';
import type { Subcommand } from './subcommand';

const usage = '/jit cancel <request-id>';

export const cancelSubcommand: Subcommand = {
  name: 'cancel',
  usage,
  summary: 'withdraws one of your pending requests.',
  async run(ctx) {
    const parsed = parseIdArgs(ctx.rest, 'request');
    if (!parsed.ok) return ctx.reply(usageReply(parsed.problem, usage));
    const row = await ctx.core.cancelRequest(parsed.value.id, ctx.userId);
    await ctx.reply(textReply(cancelledText(row, listContext(ctx.core).nameOf(row.resourceId))));
  },
};
