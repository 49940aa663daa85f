import { listReply } from '../../ui/replies';
import { readerContext } from '../deps';
import type { Subcommand } from './subcommand';

export const listSubcommand: Subcommand = {
  name: 'list',
  aliases: ['status'],
  usage: '/jit list',
  summary: 'shows your access and pending requests, with buttons to revoke, extend or cancel.',
  async run(ctx) {
    const reader = await readerContext(ctx, ctx.userId);
    await ctx.reply(listReply(await ctx.core.overviewOf(ctx.userId), reader));
  },
};
