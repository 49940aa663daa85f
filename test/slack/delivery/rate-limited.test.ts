import { deliveryHarness, JUST, sentText, type DeliveryHarness } from './harness';

/**
 * A rate limit waits and does not count as a failed try;
 * a row is given up at once only "when Slack says the message itself is wrong". Slack also
 * answers chat.postMessage / chat.update with HTTP 200 and `{"ok":false,"error":"rate_limited"}`
 * ("Application has posted too many messages"): a rate limit, not a wrong message.
 */
describe('a rate_limited answer from chat.postMessage (sqlite)', () => {
  let h: DeliveryHarness;
  beforeEach(async () => (h = await deliveryHarness('sqlite')));
  afterEach(() => h.stop());

  it('is retried, not given up at once, and the denial DM reaches the requester', async () => {
    const req = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '2h',
      justification: JUST,
    });
    await h.dispatcher.drain();
    await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'deny', reason: 'no' });
    const [dm] = await h.rows("status = 'pending' AND topic = 'requester_dm'");
    expect(dm).toBeDefined();

    h.fake.fail('chat.postMessage', { kind: 'error', error: 'rate_limited' });
    await h.dispatcher.drain();
    const [after] = await h.rows(`id = ${dm!.id}`);
    expect(after!.status).toBe('pending');
    expect(
      await h.sql.all("SELECT 1 FROM audit_events WHERE action = 'notification.failed'"),
    ).toEqual([]);

    h.clock.advance(10 * 60_000);
    await h.dispatcher.drain();
    expect((await h.rows(`id = ${dm!.id}`))[0]!.status).toBe('sent');
    const toReq = h.fake.callsOf('chat.postMessage').filter((c) => c.args.channel === 'UREQ');
    expect(sentText(toReq.at(-1)!.args)).toContain('denied');
  });
});
