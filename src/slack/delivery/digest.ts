import { eq } from 'drizzle-orm';
import { buildDigest } from '../../audit/digest';
import { periodKey } from '../../audit/period';
import { digests } from '../../store/schema';
import { digestMessage } from '../ui/digest';
import type { TopicHandler } from './topic-handler';

/**
 * Computes the period's digest as of now, posts it to the digest channel (once per outbox row,
 * however often the dispatcher retries), then records when, and the audit chain head it
 * verified: the next digest verifies from there.
 */
export const deliverDigest: TopicHandler<'digest'> = async (n, ctx) => {
  const { db, config } = ctx.core.ctx;
  const period = { start: n.periodStart, end: n.periodEnd };
  const digest = buildDigest(db, config, period, ctx.now);
  await ctx.post(n.channel, digestMessage(digest));
  const head = digest.chain.intact ? digest.chain.head : undefined;
  db.update(digests)
    .set({ postedAt: ctx.now, ...(head ? { chainSeq: head.seq, chainHash: head.hash } : {}) })
    .where(eq(digests.periodKey, periodKey(period)))
    .run();
};
