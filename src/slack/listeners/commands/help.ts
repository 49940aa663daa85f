import { helpReply } from '../../ui/replies';
import type { Subcommand } from './subcommand';

export function helpSubcommand(all: () => readonly Subcommand[]): Subcommand {
  return {
    name: 'help',
    usage: '/jit help',
    summary: 'shows this.',
    async run(ctx) {
      await ctx.reply(helpReply(all()));
    },
  };
}
