import type { webApi } from '@slack/bolt';
import type { Clock } from '../../core/clock';
import {
  messageKey,
  type MessageRef,
  type MessagesStore,
  type PostedMessage,
} from '../messages-store';
import type { SlackMessage } from '../ui/blocks';

/** A Slack call that did not answer in time; it counts as a failed try and is retried. */
export class SlackTimeoutError extends Error {
  constructor(method: string, ms: number) {
    super(`${method} did not answer within ${ms} ms`);
    this.name = 'SlackTimeoutError';
  }
}

/**
 * Settles with `call`, or rejects after `ms`. The client's own `timeout` option aborts the HTTP
 * request; this bound holds even when the client was built without one.
 */
export async function withTimeout<T>(method: string, ms: number, call: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SlackTimeoutError(method, ms)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([call, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The Slack calls deliveries make. Every post is remembered in `slack_messages` as soon as Slack
 * answers, so a retry after a partial success (an alert posted to the channel but not yet to an
 * admin) or after a crash before the outbox row was marked sent does not post it again.
 */
export class SlackOut {
  constructor(
    private readonly client: webApi.WebClient,
    private readonly messages: MessagesStore,
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    /** Runs before each Slack call (a delivery keeps its claim on its row with it). */
    private readonly beforeCall?: () => Promise<void>,
    /** Messages looked up ahead (`knowing`), by subject and purpose; undefined: none posted. */
    private readonly lookedUp?: Map<string, PostedMessage | undefined>,
  ) {}

  /** The same calls, each preceded by `beforeCall`. */
  withBeforeCall(beforeCall: () => Promise<void>): SlackOut {
    return new SlackOut(this.client, this.messages, this.clock, this.timeoutMs, beforeCall);
  }

  /**
   * The same calls, with the messages of `refs` read now, in one statement, rather than one
   * round trip each as the calls come to them. Only for messages that deliveries of the outbox
   * row's own subject post: the outbox delivers a subject's rows one at a time, so nothing else
   * posts them meanwhile.
   */
  async knowing(refs: readonly MessageRef[]): Promise<SlackOut> {
    if (refs.length === 0) return this;
    const found = await this.messages.findEach(refs);
    const lookedUp = new Map(
      refs.map(({ subject, purpose }) => {
        const key = messageKey(subject, purpose);
        return [key, found.get(key)];
      }),
    );
    return new SlackOut(
      this.client,
      this.messages,
      this.clock,
      this.timeoutMs,
      this.beforeCall,
      lookedUp,
    );
  }

  /** Posts `message` to `channel` (a user id posts in the app's DM) once per `subject` and channel. */
  async postOnce(subject: string, channel: string, message: SlackMessage): Promise<void> {
    const purpose = `post:${channel}`;
    if (await this.find(subject, purpose)) return;
    const posted = await this.post(channel, message);
    await this.remember({ subject, purpose, ...posted, updatedAt: this.clock.now() });
  }

  /** Posts the first time, then edits that same message on every later call. */
  async postOrUpdate(
    subject: string,
    purpose: string,
    channel: string,
    message: SlackMessage,
  ): Promise<void> {
    if (await this.updateKnown(subject, purpose, message)) return;
    const posted = await this.post(channel, message);
    await this.remember({ subject, purpose, ...posted, updatedAt: this.clock.now() });
  }

  /**
   * Replies in the thread of a message posted earlier (`parent`), once per `subject`. False when
   * no such message is remembered, so the caller can post elsewhere.
   */
  async replyOnce(
    subject: string,
    parent: { subject: string; purpose: string },
    message: SlackMessage,
  ): Promise<boolean> {
    const known = await this.find(parent.subject, parent.purpose);
    if (!known) return false;
    const purpose = `reply:${known.channel}:${known.ts}`;
    if (await this.find(subject, purpose)) return true;
    const posted = await this.post(known.channel, message, known.ts);
    await this.remember({ subject, purpose, ...posted, updatedAt: this.clock.now() });
    return true;
  }

  /**
   * Edits the message remembered for `subject` and `purpose`; false when there is none. The edit
   * leaves the message where it was, so there is nothing new to remember: writing its row again
   * would cost a transaction for each edit, on the thread that also answers Slack.
   */
  async updateKnown(subject: string, purpose: string, message: SlackMessage): Promise<boolean> {
    const known = await this.find(subject, purpose);
    if (!known) return false;
    await this.beforeCall?.();
    await withTimeout(
      'chat.update',
      this.timeoutMs,
      this.client.chat.update({ channel: known.channel, ts: known.ts, ...message }),
    );
    return true;
  }

  /** Whether a message is remembered for `subject` and `purpose`. */
  async knows(subject: string, purpose: string): Promise<boolean> {
    return (await this.find(subject, purpose)) !== undefined;
  }

  /** Remembers that `purpose` is done for the message already known under `subject` and `of`. */
  async mark(subject: string, of: string, purpose: string): Promise<void> {
    const known = await this.find(subject, of);
    if (known) await this.remember({ ...known, purpose, updatedAt: this.clock.now() });
  }

  /** A link to a message Hallpass posted earlier, when it remembers one and Slack gives it. */
  async permalinkOf(subject: string, purpose: string): Promise<string | undefined> {
    const known = await this.find(subject, purpose);
    if (!known) return undefined;
    await this.beforeCall?.();
    const answer = await withTimeout(
      'chat.getPermalink',
      this.timeoutMs,
      this.client.chat.getPermalink({ channel: known.channel, message_ts: known.ts }),
    );
    return answer.permalink;
  }

  private async find(subject: string, purpose: string): Promise<PostedMessage | undefined> {
    const key = messageKey(subject, purpose);
    if (this.lookedUp?.has(key)) return this.lookedUp.get(key);
    return this.messages.find(subject, purpose);
  }

  private async remember(message: PostedMessage): Promise<void> {
    await this.messages.remember(message);
    this.lookedUp?.set(messageKey(message.subject, message.purpose), message);
  }

  private async post(
    channel: string,
    message: SlackMessage,
    threadTs?: string,
  ): Promise<{ channel: string; ts: string }> {
    await this.beforeCall?.();
    const answer = await withTimeout(
      'chat.postMessage',
      this.timeoutMs,
      this.client.chat.postMessage({
        channel,
        ...message,
        ...(threadTs ? { thread_ts: threadTs } : {}),
      }),
    );
    if (!answer.ts) throw new Error('chat.postMessage answered without a ts');
    return { channel: answer.channel ?? channel, ts: answer.ts };
  }
}
