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
        if (prop === 'approvalsOf')
          return async (id: string) => {
            reachedA();
            await gateA;
            return target.approvalsOf(id);
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
