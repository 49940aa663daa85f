import { and, eq } from 'drizzle-orm';
import type { Db } from '../store/db';
import { slackMessages } from '../store/schema';

export type PostedMessage = typeof slackMessages.$inferSelect;

/**
 * Where Hallpass posted a message, by what it is about (`subject`, e.g. `request:<id>`) and what
 * it is for (`purpose`, e.g. `approvers`), so a later change edits it instead of posting again.
 */
export class MessagesStore {
  constructor(private readonly db: Db) {}

  find(subject: string, purpose: string): PostedMessage | undefined {
    return this.db
      .select()
      .from(slackMessages)
      .where(and(eq(slackMessages.subject, subject), eq(slackMessages.purpose, purpose)))
      .get();
  }

  remember(message: PostedMessage): void {
    this.db
      .insert(slackMessages)
      .values(message)
      .onConflictDoUpdate({
        target: [slackMessages.subject, slackMessages.purpose],
        set: { channel: message.channel, ts: message.ts, updatedAt: message.updatedAt },
      })
      .run();
  }
}
