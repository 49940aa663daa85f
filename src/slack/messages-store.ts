import type { MessageQueries, MessageRef, PostedMessage } from '../store';
import { persist } from './persist';

export type { MessageRef, PostedMessage };

/**
 * Where Hallpass posted a message, by what it is about (`subject`, e.g. `request:<id>`) and what
 * it is for (`purpose`, e.g. `approvers`), so a later change edits it instead of posting again.
 */
export class MessagesStore {
  /**
   * Posts Slack accepted whose row could not be written yet (the database stayed out of reach
   * past every retry). The failed write fails the delivery, which is retried; a retry in this
   * process must find the post here, or it would post the message a second time.
   */
  private readonly unsaved = new Map<string, PostedMessage>();

  constructor(private readonly messages: MessageQueries) {}

  async find(subject: string, purpose: string): Promise<PostedMessage | undefined> {
    const waiting = this.unsaved.get(messageKey(subject, purpose));
    if (waiting) {
      await this.remember(waiting);
      return waiting;
    }
    return this.messages.find(subject, purpose);
  }

  /**
   * `find` for several messages, in one read: by `messageKey`, each one remembered; one not
   * remembered is absent.
   */
  async findEach(refs: readonly MessageRef[]): Promise<Map<string, PostedMessage>> {
    const found = new Map<string, PostedMessage>();
    const toRead: MessageRef[] = [];
    for (const ref of refs) {
      const waiting = this.unsaved.get(messageKey(ref.subject, ref.purpose));
      if (waiting) {
        await this.remember(waiting);
        found.set(messageKey(ref.subject, ref.purpose), waiting);
      } else toRead.push(ref);
    }
    for (const message of await this.messages.findEach(toRead))
      found.set(messageKey(message.subject, message.purpose), message);
    return found;
  }

  async remember(message: PostedMessage): Promise<void> {
    const key = messageKey(message.subject, message.purpose);
    this.unsaved.set(key, message);
    await persist(() => this.messages.remember(message));
    this.unsaved.delete(key);
  }
}

/** One posted message's key: its subject and purpose. */
export function messageKey(subject: string, purpose: string): string {
  return `${subject}\n${purpose}`;
}
