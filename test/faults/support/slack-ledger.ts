import type { FakeSlack } from '../../support/fake-slack';

export interface SlackPost {
  channel: string;
  ts: string;
  text: string;
  blocks: string;
}

export interface SlackEdit {
  channel: string;
  ts: string;
  text: string;
  blocks: string;
}

/**
 * The messages Slack accepted. FakeSlack records every call, including those it failed or left
 * hanging; this keeps only the posts and edits it answered `ok`, which are what people would see.
 */
export class SlackLedger {
  readonly posts: SlackPost[] = [];
  readonly edits: SlackEdit[] = [];
  /** Runs once, when the next post is accepted, before Slack answers it. */
  beforeNextAnswer?: () => void;
  private counter = 0;

  constructor(fake: FakeSlack) {
    fake.on('chat.postMessage', (args) => {
      this.counter += 1;
      const ts = `1800000000.${String(this.counter).padStart(6, '0')}`;
      const target = String(args.channel);
      // Like Slack: a post to a user id lands in the app's DM with them.
      const channel = target.startsWith('U') ? `D${target.slice(1)}` : target;
      this.posts.push({
        channel,
        ts,
        text: String(args.text ?? ''),
        blocks: JSON.stringify(args.blocks ?? null),
      });
      const hook = this.beforeNextAnswer;
      this.beforeNextAnswer = undefined;
      hook?.();
      return { channel, ts, message: { type: 'message', text: args.text ?? '', ts } };
    });
    fake.on('chat.update', (args) => {
      this.edits.push({
        channel: String(args.channel),
        ts: String(args.ts),
        text: String(args.text ?? ''),
        blocks: JSON.stringify(args.blocks ?? null),
      });
      return { channel: args.channel, ts: args.ts, text: args.text ?? '' };
    });
  }

  /** Posts to `channel` (a user id means their DM). */
  postsTo(channel: string): SlackPost[] {
    const id = channel.startsWith('U') ? `D${channel.slice(1)}` : channel;
    return this.posts.filter((p) => p.channel === id);
  }
}
