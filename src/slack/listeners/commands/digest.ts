import { digestMessage } from '../../ui/digest';
import { errorReply, usageReply } from '../../ui/replies';
import type { Subcommand } from './subcommand';

const usage = '/jit digest';

/** `/jit digest`: an admin sees the digest of the last 7 days, only to themselves. */
export const digestSubcommand: Subcommand = {
  name: 'digest',
  usage,
  summary: 'shows you the digest of the last 7 days (admins only).',
  async run(ctx) {
    if (!ctx.core.policy.isAdmin(ctx.userId)) {
      return ctx.reply(errorReply('Only Hallpass admins can see the digest.'));
    }
    if (ctx.rest.trim()) return ctx.reply(usageReply('`/jit digest` takes no arguments.', usage));
    await ctx.reply(digestMessage(await ctx.core.digest()));
  },
};
