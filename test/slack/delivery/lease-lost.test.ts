import { webApi } from '@slack/bolt';
import type { Core } from '../../../src/core';
import { DEFAULT_DISPATCHER_OPTIONS } from '../../../src/slack/delivery/dispatcher';
import { STORE_KINDS } from '../../support/stores';
import { deliveryHarness, JUST, type DeliveryHarness } from './harness';

/**
 * A worker that lost its lease stops for good: an extension's approver message first asks for
 * the original message's permalink, and that call's refusal, though caught there (a permalink is
 * a convenience), must not let the delivery go on to post beside the replica that holds the row.
 */
describe.each(STORE_KINDS)('a lost lease on an extension approver message (%s)', (kind) => {
  let h: DeliveryHarness;
  beforeEach(async () => (h = await deliveryHarness(kind)));
  afterEach(() => h.stop());

  it('the worker that lost its lease posts nothing more', async () => {
    h.fake.on('chat.getPermalink', (a) => ({
      permalink: `https://test.slack.com/archives/${a.channel}/p${String(a.message_ts).replace('.', '')}`,
    }));
    const req = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '1h',
      justification: JUST,
    });
    await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
    const grantId = (await h.core.grantOf(req))!.id;
    await h.activate(grantId);
    await h.dispatcher.drain();
    const ext = await h.core.requestExtension({
      grantId,
      actor: 'UREQ',
      duration: '1h',
      justification: 'the migration runs long',
    });
    // Everything but the extension's approver message goes out first.
    const only = `topic = 'approver_message' AND subject = 'request:${ext.id}'`;
    expect(await h.rows(only)).toHaveLength(1);
    await h.sql.run(
      `UPDATE outbox SET next_attempt_at = ? WHERE ${only}`,
      h.clock.now() + 3_600_000,
    );
    await h.dispatcher.drain();
    await h.sql.run(`UPDATE outbox SET next_attempt_at = ? WHERE ${only}`, h.clock.now());
    const before = h.fake.callsOf('chat.postMessage').length;

    // Replica A claims the row and stalls (GC, a slow read) before its first Slack call.
    let openA!: () => void;
    const gateA = new Promise<void>((r) => (openA = r));
    let reachedA!: () => void;
    const stalledA = new Promise<void>((r) => (reachedA = r));
    const slowCore = new Proxy(h.core, {
      get(target, prop) {
        if (prop === 'standingOf')
          return async (id: string) => {
            reachedA();
            await gateA;
            return target.standingOf(id);
          };
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function'
          ? (value as (...a: unknown[]) => unknown).bind(target)
          : value;
      },
    }) as Core;
    const clientA = new webApi.WebClient('xoxb-a', {
      slackApiUrl: h.fake.url,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      logLevel: webApi.LogLevel.ERROR,
    });
    const defaults = { leaseMs: DEFAULT_DISPATCHER_OPTIONS.leaseMs };
    const runningA = h.dispatcherFor(slowCore, defaults, clientA).deliverDue();
    await stalledA;
    h.clock.advance(DEFAULT_DISPATCHER_OPTIONS.leaseMs + 5_000);

    // Replica B claims the row after A's lease ran out; its post is on its way.
    const b = await h.another(defaults);
    const clientB = new webApi.WebClient('xoxb-b', {
      slackApiUrl: h.fake.url,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      logLevel: webApi.LogLevel.ERROR,
    });
    const realPost = clientB.chat.postMessage.bind(clientB.chat);
    let openB!: () => void;
    const gateB = new Promise<void>((r) => (openB = r));
    let reachedB!: () => void;
    const postingB = new Promise<void>((r) => (reachedB = r));
    (clientB.chat as { postMessage: unknown }).postMessage = async (
      args: Parameters<typeof realPost>[0],
    ) => {
      reachedB();
      await gateB;
      return realPost(args);
    };
    const runningB = h.dispatcherFor(b.core, defaults, clientB).deliverDue();
    await postingB;

    // A wakes up: its next call must find the row held by B and stop there.
    openA();
    await runningA;
    openB();
    await runningB;

    const byA = h.fake
      .callsOf('chat.postMessage')
      .slice(before)
      .filter((c) => c.token === 'xoxb-a');
    expect(byA.map((c) => c.args.channel)).toEqual([]);
    expect(h.logs.some((l) => l.includes('outbox row claimed elsewhere mid-delivery'))).toBe(true);
  });
});

/**
 * A worker that paused past its lease after its Slack call, while another claimed the row, finds
 * out when it records its try: it records nothing (no retry that would end the other's lease, no
 * row given up and audited under it, no sent mark) and leaves the row to the worker holding it.
 */
describe.each(STORE_KINDS)('a lease that ran out before the try was recorded (%s)', (kind) => {
  let h: DeliveryHarness;
  beforeEach(async () => (h = await deliveryHarness(kind)));
  afterEach(() => h.stop());

  const defaults = { leaseMs: DEFAULT_DISPATCHER_OPTIONS.leaseMs };
  const KEY = 'chain_broken:9:1';
  const enqueue = () =>
    h.enqueue(KEY, {
      topic: 'chain_broken',
      channel: 'CSEC',
      admins: [],
      seq: 9,
      problem: 'content does not match its hash (the row was edited)',
      verifiedHead: 8,
    });

  /** A client whose first post waits for `open`, then fails or reaches Slack as `outcome` says. */
  function stalled(token: string, outcome: 'fails' | 'posts') {
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
    (client.chat as { postMessage: unknown }).postMessage = async (
      args: Parameters<typeof realPost>[0],
    ) => {
      arrived();
      await gate;
      if (outcome === 'fails') throw new Error('socket hang up');
      return realPost(args);
    };
    return { client, open, reached };
  }

  /** Replica A claims the row and stalls in its post past its lease; replica B claims the row. */
  async function takeOver(outcome: 'fails' | 'posts', maxAttempts = 10) {
    await enqueue();
    const a = stalled('xoxb-a', outcome);
    const runningA = h.dispatcherFor(h.core, { ...defaults, maxAttempts }, a.client).deliverDue();
    await a.reached;
    h.clock.advance(DEFAULT_DISPATCHER_OPTIONS.leaseMs + 5_000);
    const b = await h.another(defaults);
    const [claimedByB] = await b.core.outbox.claim(DEFAULT_DISPATCHER_OPTIONS.leaseMs, 8);
    expect(claimedByB?.key).toBe(KEY);
    a.open();
    await runningA;
    return { b, heldByB: claimedByB!.nextAttemptAt };
  }

  const failures = () =>
    h.sql.all(`SELECT seq FROM audit_events WHERE action = 'notification.failed'`);
  const tookOver = () =>
    h.logs.some((l) => l.includes('outbox row claimed elsewhere before its outcome was recorded'));

  it.each([
    ['a retry', 10],
    ['giving the row up', 1],
  ])('its failed try is not recorded as %s', async (_, maxAttempts) => {
    const { heldByB } = await takeOver('fails', maxAttempts);
    const [row] = await h.rows(`key = '${KEY}'`);
    expect(row && [row.status, Number(row.attempts), Number(row.next_attempt_at)]).toEqual([
      'pending',
      0,
      heldByB,
    ]);
    expect(row?.last_error).toBeNull();
    expect(await failures()).toEqual([]);
    expect(tookOver()).toBe(true);
  });

  it('its post Slack accepted is not marked sent by it, and not posted again by the next', async () => {
    const { b } = await takeOver('posts');
    expect(await h.rows(`key = '${KEY}' AND status = 'pending'`)).toHaveLength(1);
    expect(tookOver()).toBe(true);
    // B died with the row; once its lease ran out, the next worker finds the post remembered.
    h.clock.advance(DEFAULT_DISPATCHER_OPTIONS.leaseMs + 1_000);
    await b.dispatcher.drain();
    expect(await h.rows(`key = '${KEY}' AND status = 'sent'`)).toHaveLength(1);
    expect(h.fake.callsOf('chat.postMessage').map((c) => c.args.channel)).toEqual(['CSEC']);
  });
});
