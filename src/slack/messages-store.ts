import { and, eq } from 'drizzle-orm';
import type { Db } from '../store/db';
import { slackMessages } from '../store/schema';

export type PostedMessage = typeof slackMessages.$inferSelect;

/**
 * Where Hallpass posted a message, by what it is about (`subject`, e.g. `request:<id>`) and what
 * it is for (`purpose`, e.g. `approvers`), so a later change edits it instead of posting again.
 */
export class MessagesStore {
  /**
   * Posts Slack accepted whose row could not be written yet (the database was locked past its
   * busy timeout). The failed write fails the delivery, which is retried; the retry must find
   * the post here, or it would post the message a second time.
   */
  private readonly unsaved = new Map<string, PostedMessage>();

  constructor(private readonly db: Db) {}

  find(subject: string, purpose: string): PostedMessage | undefined {
    const waiting = this.unsaved.get(keyOf(subject, purpose));
    if (waiting) {
      this.remember(waiting);
      return waiting;
    }
    return this.db
      .select()
      .from(slackMessages)
      .where(and(eq(slackMessages.subject, subject), eq(slackMessages.purpose, purpose)))
      .get();
  }

  remember(message: PostedMessage): void {
    const key = keyOf(message.subject, message.purpose);
    this.unsaved.set(key, message);
    this.db
      .insert(slackMessages)
      .values(message)
      .onConflictDoUpdate({
        target: [slackMessages.subject, slackMessages.purpose],
        set: { channel: message.channel, ts: message.ts, updatedAt: message.updatedAt },
      })
      .run();
    this.unsaved.delete(key);
  }
}

function keyOf(subject: string, purpose: string): string {
  return `${subject}\n${purpose}`;
}
