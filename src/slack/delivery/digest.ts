import { digestMessage } from '../ui/digest';
import type { TopicHandler } from './topic-handler';

/**
 * Computes the period's digest as of now, posts it to the digest channel (once per outbox row,
 * however often the dispatcher retries), then records when, and the audit chain head it
 * verified: the next digest verifies from there.
 */
export const deliverDigest: TopicHandler<'digest'> = async (n, ctx) => {
  const period = { start: n.periodStart, end: n.periodEnd };
  const digest = await ctx.core.digest(period);
  await ctx.post(n.channel, digestMessage(digest));
  await ctx.core.digestPosted(period, digest.chain.intact ? digest.chain.head : undefined);
};
