import { resourcesReply } from '../../ui/replies';
import type { Subcommand } from './subcommand';

export const resourcesSubcommand: Subcommand = {
  name: 'resources',
  usage: '/jit resources',
  summary: 'lists what you may request, for how long, and who approves it.',
  async run(ctx) {
    const { policy } = ctx.core;
    const allowed = await policy.requestable(ctx.userId);
    await ctx.reply(
      resourcesReply(
        allowed.map((resource) => ({
          resource,
          approverChannel: policy.approverChannel(resource),
        })),
      ),
    );
  },
};
