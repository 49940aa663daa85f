import { offboardedMessage } from '../ui/messages';
import type { TopicHandler } from './topic-handler';

/** Tells an approver channel that someone left and what became of their access. */
export const deliverOffboarded: TopicHandler<'offboarded'> = async (n, ctx) => {
  await ctx.post(n.channel, offboardedMessage(n));
};
