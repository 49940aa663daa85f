import { chainBrokenMessage } from '../ui/chain';
import type { TopicHandler } from './topic-handler';

/** Posts a broken audit chain to the digest channel and DMs every admin, each once. */
export const deliverChainBroken: TopicHandler<'chain_broken'> = async (n, ctx) => {
  const message = chainBrokenMessage(n);
  for (const target of new Set([n.channel, ...n.admins])) await ctx.post(target, message);
};
