import { webApi } from '@slack/bolt';
import { DEFAULT_DISPATCHER_OPTIONS } from '../../../src/slack/delivery/dispatcher';
import { STORE_KINDS } from '../../support/stores';
import { deliveryHarness, type DeliveryHarness } from './harness';

/**
 * The outbox lease (45 s) covers one Slack call and the write after it, but a delivery that
 * posts to a channel and then DMs each admin makes one call per target, one after another. When
 * Slack answers slowly but within the call timeout, the delivery outlives its first lease while
 * every call is alive: it must hold its row again, or a second replica claims it and posts again
 * to the targets not yet remembered in slack_messages.
 */
describe.each(STORE_KINDS)('a delivery of many slow calls keeps its lease (%s)', (kind) => {
  let h: DeliveryHarness;
  beforeEach(async () => (h = await deliveryHarness(kind)));
  afterEach(() => h.stop());

  it('a live worker whose calls each answer within the timeout never has its row delivered again', async () => {
    const admins = ['UA1', 'UA2', 'UA3', 'UA4', 'UA5'];
    await h.enqueue('chain_broken:7:1', {
      topic: 'chain_broken',
      channel: 'CSEC',
      admins,
      seq: 7,
      problem: 'content does not match its hash (the row was edited)',
      verifiedHead: 6,
    });

    // Replica A: every chat.postMessage reaches Slack at once, but Slack answers 9.5 s later
    // (inside the 10 s call timeout). The 5th answer is held until replica B has had its go.
    const slowClient = new webApi.WebClient('xoxb-slow', {
      slackApiUrl: h.fake.url,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      logLevel: webApi.LogLevel.ERROR,
    });
    const realPost = slowClient.chat.postMessage.bind(slowClient.chat);
    let calls = 0;
    let releaseFifth!: () => void;
    const fifthHeld = new Promise<void>((resolve) => (releaseFifth = resolve));
    let fifthReached!: () => void;
    const fifthStarted = new Promise<void>((resolve) => (fifthReached = resolve));
    (slowClient.chat as { postMessage: unknown }).postMessage = async (
      args: Parameters<typeof realPost>[0],
    ) => {
      const answer = await realPost(args); // Slack has the message now
      h.clock.advance(9_500); // …and answers 9.5 s later
      calls += 1;
      if (calls === 5) {
        fifthReached();
        await fifthHeld;
      }
      return answer;
    };
    const defaults = {
      leaseMs: DEFAULT_DISPATCHER_OPTIONS.leaseMs,
      callTimeoutMs: DEFAULT_DISPATCHER_OPTIONS.callTimeoutMs,
    };
    const a = h.dispatcherFor(h.core, defaults, slowClient);
    const running = a.deliverDue();
    await fifthStarted;

    // 47.5 s after A claimed the row, A is still waiting for Slack's answer to its 5th post.
    const b = await h.another(defaults);
    await b.dispatcher.deliverDue();
    releaseFifth();
    await running;
    await h.dispatcher.drain();

    const posts = h.fake.callsOf('chat.postMessage');
    const perTarget = new Map<string, number>();
    for (const p of posts) {
      const to = String(p.args.channel);
      perTarget.set(to, (perTarget.get(to) ?? 0) + 1);
    }
    // Each admin and the channel are told once.
    expect(Object.fromEntries(perTarget)).toEqual({
      CSEC: 1,
      UA1: 1,
      UA2: 1,
      UA3: 1,
      UA4: 1,
      UA5: 1,
    });
  });
  it('a worker that paused past its lease stops at its next call, leaving the row to the one that took it', async () => {
    await h.enqueue('chain_broken:8:1', {
      topic: 'chain_broken',
      channel: 'CSEC',
      admins: ['UA1', 'UA2'],
      seq: 8,
      problem: 'content does not match its hash (the row was edited)',
      verifiedHead: 7,
    });
    /** A client whose `nth` post waits for `gate` (before Slack gets it, or after it answered). */
    const gated = (token: string, nth: number, when: 'before' | 'after') => {
      const client = new webApi.WebClient(token, {
        slackApiUrl: h.fake.url,
        retryConfig: { retries: 0 },
        rejectRateLimitedCalls: true,
        logLevel: webApi.LogLevel.ERROR,
      });
      const realPost = client.chat.postMessage.bind(client.chat);
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      let arrived!: () => void;
      const reached = new Promise<void>((r) => (arrived = r));
      let calls = 0;
      (client.chat as { postMessage: unknown }).postMessage = async (
        args: Parameters<typeof realPost>[0],
      ) => {
        const mine = ++calls === nth;
        const hold = async () => {
          arrived();
          await gate;
        };
        if (mine && when === 'before') await hold();
        const answer = await realPost(args);
        if (mine && when === 'after') await hold();
        return answer;
      };
      return { client, open, reached };
    };
    const defaults = { leaseMs: DEFAULT_DISPATCHER_OPTIONS.leaseMs };

    // Replica A posts to the channel and then pauses, past its lease.
    const slowA = gated('xoxb-a', 1, 'after');
    const running = h.dispatcherFor(h.core, defaults, slowA.client).deliverDue();
    await slowA.reached;
    h.clock.advance(DEFAULT_DISPATCHER_OPTIONS.leaseMs + 5_000);

    // Replica B finds the lease over and claims the row; its post to UA1 is on its way.
    const b = await h.another(defaults);
    const slowB = gated('xoxb-b', 2, 'before');
    const delivering = h.dispatcherFor(b.core, defaults, slowB.client).deliverDue();
    await slowB.reached;

    // A wakes up: its next call finds the row held by B, and it stops there.
    slowA.open();
    await running;
    slowB.open();
    await delivering;

    const posted = h.fake.callsOf('chat.postMessage').map((p) => String(p.args.channel));
    // The channel twice (A's answer came after B had claimed; docs/delivery.md), each admin once.
    expect(posted.sort()).toEqual(['CSEC', 'CSEC', 'UA1', 'UA2']);
    const [row] = await h.rows("key = 'chain_broken:8:1'");
    expect(row).toMatchObject({ status: 'sent', last_error: null });
    expect(h.logs.some((l) => l.includes('outbox row claimed elsewhere mid-delivery'))).toBe(true);
  });
});
