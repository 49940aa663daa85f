import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { backoffDelay } from '../../../src/core/backoff';
import { enqueue } from '../../../src/core/outbox';
import { Sealer } from '../../../src/secrets/seal';
import { claim } from '../../../src/slack/delivery/outbox-rows';
import { ACTIONS } from '../../../src/slack/ids';
import { outbox } from '../../../src/store/schema';
import { SlackError } from '../../support/fake-slack';
import { deliveryHarness, JUST, sentText, type DeliveryHarness } from './harness';

let h: DeliveryHarness;
beforeEach(async () => (h = await deliveryHarness()));
afterEach(() => h.stop());

const request = (over: Record<string, unknown> = {}) =>
  h.core.createRequest({
    requester: 'UREQ',
    resourceId: 'prod-db',
    duration: '2h',
    justification: JUST,
    ...over,
  });

function audit(action: string) {
  return h.db.$client
    .prepare('SELECT actor, request_id, grant_id, details FROM audit_events WHERE action = ?')
    .all(action) as { actor: string; request_id: string; grant_id: string; details: string }[];
}

/** A request whose first messages are out, and whose cancellation queued one DM and one edit. */
async function cancelledAfterDelivery() {
  const req = await request();
  await h.dispatcher.drain();
  await h.core.cancelRequest(req.id, 'UREQ');
  const dm = h.rows("status = 'pending' AND topic = 'requester_dm'");
  expect(dm).toHaveLength(1);
  return { req, dm: dm[0]! };
}

/** Posts to `channel` fail (with a Slack error, or a 500) until the returned function is called. */
function failPostsTo(channel: string, error?: string): () => void {
  let failing = true;
  let n = 0;
  h.fake.on('chat.postMessage', (a) => {
    if (failing && a.channel === channel) {
      if (error) throw new SlackError(error);
      throw new Error('the fake answers 500');
    }
    n += 1;
    return { channel: a.channel, ts: `1700000001.${String(n).padStart(6, '0')}` };
  });
  return () => {
    failing = false;
  };
}

const posts = (channel?: string) =>
  h.fake.callsOf('chat.postMessage').filter((c) => !channel || c.args.channel === channel);

describe('the approver message', () => {
  it('is posted to the approver channel once, then edited in place on every change', async () => {
    const req = await request();
    expect(await h.dispatcher.drain()).toBe(2);
    const [post] = posts('CDBA');
    expect(post).toBeDefined();
    expect(post!.token).toBe('xoxb-test');
    expect(sentText(post!.args)).toContain(ACTIONS.approve);
    const remembered = h.db.$client
      .prepare('SELECT channel, ts FROM slack_messages WHERE subject = ? AND purpose = ?')
      .get(`request:${req.id}`, 'approvers') as { channel: string; ts: string };
    expect(remembered.channel).toBe('CDBA');

    await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
    await h.dispatcher.drain();
    const grantId = (h.db.$client.prepare('SELECT id FROM grants').get() as { id: string }).id;
    h.activate(grantId);
    await h.dispatcher.drain();

    expect(posts('CDBA')).toHaveLength(1);
    const updates = h.fake.callsOf('chat.update');
    expect(updates).toHaveLength(2);
    for (const u of updates) expect(u.args).toMatchObject(remembered);
    expect(sentText(updates[0]!.args)).toContain('Approved by <@ULEAD>');
    expect(sentText(updates[0]!.args)).not.toContain(ACTIONS.approve);
    expect(sentText(updates[1]!.args)).toContain('Active until 10:00 UTC');
    expect(sentText(updates[1]!.args)).toContain('the target system does not enforce it');
    expect(h.rows("status != 'sent'")).toEqual([]);
  });

  it('renders a burst of changes once, from the state at send time', async () => {
    const req = await request({ resourceId: 'quorum', duration: '1h' });
    await h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    await h.core.decide({ requestId: req.id, actor: 'UA2', decision: 'approve' });
    expect(h.rows(`subject = 'request:${req.id}'`)).toHaveLength(3);

    await h.dispatcher.drain();
    expect(posts('CAPPROVALS')).toHaveLength(1);
    expect(h.fake.callsOf('chat.update')).toHaveLength(0);
    const text = sentText(posts('CAPPROVALS')[0]!.args);
    expect(text).toContain('Approvals: 2 of 2');
    expect(text).toContain('Approved by <@UA2>');
    expect(h.rows(`subject = 'request:${req.id}' AND status = 'sent'`)).toHaveLength(3);
  });
});

describe('DMs', () => {
  it('tells the requester in their DM, in the order things happened', async () => {
    const req = await request();
    await h.dispatcher.drain();
    await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
    const grantId = (h.db.$client.prepare('SELECT id FROM grants').get() as { id: string }).id;
    h.activate(grantId);
    await h.dispatcher.drain();

    const dms = posts('UREQ').map((c) => sentText(c.args));
    expect(dms).toHaveLength(3);
    expect(dms[0]).toContain('I sent your request');
    expect(dms[0]).toContain(ACTIONS.cancelRequest);
    expect(dms[1]).toContain('was approved by <@ULEAD>');
    expect(dms[2]).toContain('is active until *10:00 UTC*');
    expect(dms[2]).toContain(ACTIONS.revokeGrant);
    expect(dms[2]).toContain(ACTIONS.extendGrant);
    expect(dms[2]).toContain(`"value":"${grantId}"`);
  });

  it('delivers credentials once, clears them from the database and never logs them', async () => {
    const secret = 'password: hunter2-s3cr3t-value';
    const req = await request();
    await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
    const grantId = (h.db.$client.prepare('SELECT id FROM grants').get() as { id: string }).id;
    h.activate(grantId, secret);
    const sealed = JSON.parse(h.rows("topic = 'credentials'")[0]!.payload).sealed as string;
    expect(sealed).toMatch(/^v1\./);

    await h.dispatcher.drain();
    await h.dispatcher.drain();
    const withSecret = posts('UREQ').filter((c) => sentText(c.args).includes(secret));
    expect(withSecret).toHaveLength(1);
    expect(String(withSecret[0]!.args.text)).not.toContain('hunter2');

    const [row] = h.rows("topic = 'credentials'");
    expect(row).toMatchObject({ status: 'sent' });
    expect(JSON.parse(row!.payload)).toEqual({ topic: 'credentials', userId: 'UREQ', grantId });
    h.db.$client.exec('VACUUM');
    h.db.$client.pragma('wal_checkpoint(TRUNCATE)');
    for (const file of readdirSync(dirname(h.file))) {
      const bytes = readFileSync(join(dirname(h.file), file));
      expect(bytes.includes(sealed)).toBe(false);
      expect(bytes.includes(secret)).toBe(false);
    }
    expect(h.logs.join('\n')).not.toContain('hunter2');
    expect(h.logs.join('\n')).not.toContain(sealed);
  });

  it('gives up on credentials that cannot be opened, and drops them too', async () => {
    const req = await request();
    enqueue(h.db, h.clock.now(), 'creds:broken', {
      topic: 'credentials',
      userId: 'UREQ',
      grantId: 'gr_missing',
      sealed: 'v1.bad.seal.value',
    });
    await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
    const grantId = (h.db.$client.prepare('SELECT id FROM grants').get() as { id: string }).id;
    enqueue(h.db, h.clock.now(), 'creds:tampered', {
      topic: 'credentials',
      userId: 'UREQ',
      grantId,
      sealed: new Sealer('another-sealing-secret').seal('password: x'),
    });
    await h.dispatcher.drain();
    const dead = h.rows("status = 'dead'");
    expect(dead.map((r) => [r.key, r.last_error, JSON.parse(r.payload).sealed])).toEqual([
      ['creds:broken', 'grant gr_missing does not exist', undefined],
      [
        'creds:tampered',
        'the sealed credentials cannot be opened (was the sealing secret changed?)',
        undefined,
      ],
    ]);
    expect(audit('notification.failed').map((a) => a.grant_id)).toEqual(['gr_missing', grantId]);
  });
});

describe('ordering', () => {
  it('holds later rows of a subject while its oldest one waits, and lets other subjects go', async () => {
    const recover = failPostsTo('UREQ');
    const first = await request();
    await h.core.cancelRequest(first.id, 'UREQ');
    const other = await request({ requester: 'UENG', resourceId: 'auto', duration: '30m' });

    await h.dispatcher.drain();
    const userRows = h.rows("subject = 'user:UREQ'");
    expect(userRows.map((r) => [r.status, r.attempts])).toEqual([
      ['pending', 1],
      ['pending', 0],
    ]);
    expect(posts('UENG')).toHaveLength(2);
    expect(h.rows(`subject = 'request:${other.id}'`)[0]!.status).toBe('sent');
    expect(h.rows(`subject = 'request:${first.id}' AND status = 'sent'`)).toHaveLength(2);

    recover();
    h.clock.advance(60_000);
    await h.dispatcher.drain();
    const texts = posts('UREQ')
      .filter((c) => c.args.channel === 'UREQ')
      .map((c) => sentText(c.args));
    expect(texts.slice(-2)).toHaveLength(2);
    expect(texts.at(-2)).toContain('I sent your request');
    expect(texts.at(-2)).not.toContain(ACTIONS.cancelRequest);
    expect(texts.at(-1)).toContain('is cancelled');
    expect(h.rows("status != 'sent'")).toEqual([]);
  });
});

describe('failures', () => {
  it('waits as long as a 429 asks, without counting it as a failed try', async () => {
    const { dm } = await cancelledAfterDelivery();
    h.fake.fail('chat.postMessage', { kind: 'ratelimited', retryAfter: 30 });
    const now = h.clock.now();
    await h.dispatcher.drain();
    expect(h.rows(`id = ${dm.id}`)[0]).toMatchObject({
      status: 'pending',
      attempts: 0,
      next_attempt_at: now + 30_000,
      last_error: 'ratelimited',
    });
    expect(h.rows("status = 'pending'")).toHaveLength(1);

    h.clock.advance(29_999);
    expect(await h.dispatcher.drain()).toBe(0);
    h.clock.advance(1);
    expect(await h.dispatcher.drain()).toBe(1);
    expect(h.rows("status != 'sent'")).toEqual([]);
    expect(sentText(posts('UREQ').at(-1)!.args)).toContain('is cancelled');
  });

  it('retries a 5xx with exponential backoff', async () => {
    const { dm } = await cancelledAfterDelivery();
    h.fake.fail('chat.postMessage', { kind: 'status', status: 503 }, 2);
    const start = h.clock.now();
    await h.dispatcher.drain();
    const delay1 = backoffDelay(1, 2_000, 300_000, () => 0.5);
    expect(h.rows(`id = ${dm.id}`)[0]).toMatchObject({
      status: 'pending',
      attempts: 1,
      next_attempt_at: start + delay1,
      last_error: 'slack: HTTP 503',
    });

    h.clock.advance(delay1 - 1);
    expect(await h.dispatcher.drain()).toBe(0);
    h.clock.advance(1);
    await h.dispatcher.drain();
    const delay2 = backoffDelay(2, 2_000, 300_000, () => 0.5);
    expect(delay2).toBeGreaterThan(delay1);
    expect(h.rows(`id = ${dm.id}`)[0]).toMatchObject({
      attempts: 2,
      next_attempt_at: start + delay1 + delay2,
    });

    h.clock.advance(delay2);
    await h.dispatcher.drain();
    expect(h.rows(`id = ${dm.id}`)[0]).toMatchObject({ status: 'sent', attempts: 3 });
  });

  it('times out a call that hangs and counts it as a failed try', async () => {
    const { dm } = await cancelledAfterDelivery();
    h.fake.fail('chat.postMessage', { kind: 'hang' });
    await h.dispatcher.drain();
    expect(h.rows(`id = ${dm.id}`)[0]).toMatchObject({
      status: 'pending',
      attempts: 1,
      last_error: 'chat.postMessage did not answer within 300 ms',
    });

    h.clock.advance(10 * 60_000);
    await h.dispatcher.drain();
    expect(h.rows("status != 'sent'")).toEqual([]);
  });

  it('gives up at once on a permanent Slack error, audits it, and moves on', async () => {
    const { req, dm } = await cancelledAfterDelivery();
    const recover = failPostsTo('UREQ', 'channel_not_found');
    await h.dispatcher.drain();
    expect(h.rows(`id = ${dm.id}`)[0]).toMatchObject({
      status: 'dead',
      attempts: 1,
      last_error: 'slack: channel_not_found',
    });
    const [event] = audit('notification.failed');
    expect(event).toMatchObject({ actor: 'hallpass', request_id: req.id });
    expect(JSON.parse(event!.details)).toEqual({
      topic: 'requester_dm',
      key: dm.key,
      attempts: 1,
      error: 'slack: channel_not_found',
    });

    recover();
    await request();
    await h.dispatcher.drain();
    expect(h.rows("status = 'pending'")).toEqual([]);
    expect(sentText(posts('UREQ').at(-1)!.args)).toContain('I sent your request');
  });

  it.each(['invalid_blocks', 'not_in_channel', 'message_not_found'])(
    '%s is permanent',
    async (error) => {
      const { dm } = await cancelledAfterDelivery();
      h.fake.fail('chat.postMessage', { kind: 'error', error });
      await h.dispatcher.drain();
      expect(h.rows(`id = ${dm.id}`)[0]).toMatchObject({ status: 'dead' });
    },
  );

  it.each(['internal_error', 'invalid_auth'])('%s is retried', async (error) => {
    const { dm } = await cancelledAfterDelivery();
    h.fake.fail('chat.postMessage', { kind: 'error', error });
    await h.dispatcher.drain();
    expect(h.rows(`id = ${dm.id}`)[0]).toMatchObject({ status: 'pending', attempts: 1 });
  });

  it('gives up after the bounded number of tries', async () => {
    const { dm } = await cancelledAfterDelivery();
    failPostsTo('UREQ');
    for (let i = 0; i < 9; i++) {
      await h.dispatcher.drain();
      expect(h.rows(`id = ${dm.id}`)[0]).toMatchObject({ status: 'pending', attempts: i + 1 });
      h.clock.advance(5 * 60_000);
    }
    await h.dispatcher.drain();
    expect(h.rows(`id = ${dm.id}`)[0]).toMatchObject({
      status: 'dead',
      attempts: 10,
      last_error: 'gave up after 10 tries: slack: HTTP 500',
    });
    expect(audit('notification.failed')).toHaveLength(1);
  });

  it('gives up on rows it cannot read or whose subject is gone', async () => {
    h.db.$client
      .prepare(
        `INSERT INTO outbox (key, subject, topic, payload, status, attempts, next_attempt_at, created_at)
         VALUES ('junk', 'junk', 'approver_message', 'not json', 'pending', 0, 0, 0)`,
      )
      .run();
    enqueue(h.db, h.clock.now(), 'dm:gone', {
      topic: 'requester_dm',
      userId: 'UREQ',
      event: 'request.received',
      requestId: 'req_gone',
    });
    await h.dispatcher.drain();
    expect(h.rows("status = 'dead'").map((r) => [r.key, r.last_error])).toEqual([
      ['junk', 'the payload is not a notification Hallpass knows'],
      ['dm:gone', 'request req_gone does not exist'],
    ]);
    expect(audit('notification.failed').map((a) => a.request_id)).toEqual([null, 'req_gone']);
    expect(h.fake.calls).toEqual([]);
  });
});

describe('a topic handler registered by another module', () => {
  it('takes one line and delivers through the same retries and once-only posts', async () => {
    h.dispatcher.register('digest', async (n, ctx) => {
      await ctx.post(n.channel, { text: `digest ${n.periodStart}-${n.periodEnd}`, blocks: [] });
    });
    enqueue(h.db, h.clock.now(), 'digest:1', {
      topic: 'digest',
      channel: 'CDIGEST',
      periodStart: 0,
      periodEnd: 1,
    });
    await h.dispatcher.drain();
    expect(posts('CDIGEST').map((c) => c.args.text)).toEqual(['digest 0-1']);
  });
});

describe('concurrency and restarts', () => {
  it('delivers nothing twice when rounds run at once, in one process or two', async () => {
    const ids: string[] = [];
    for (const requester of ['UREQ', 'UENG', 'UA1', 'UA2', 'UA3', 'ULEAD']) {
      const req = await request({ requester, resourceId: 'quorum', duration: '1h' });
      ids.push(req.id);
    }
    await h.core.decide({ requestId: ids[0]!, actor: 'UA1', decision: 'approve' });
    await h.core.cancelRequest(ids[1]!, 'UENG');
    const second = h.another();

    await Promise.all([
      h.dispatcher.deliverDue(),
      h.dispatcher.deliverDue(),
      second.dispatcher.deliverDue(),
      second.dispatcher.drain(),
      h.dispatcher.drain(),
    ]);
    await h.dispatcher.drain();
    await h.dispatcher.drain();

    expect(h.rows("status != 'sent'")).toEqual([]);
    const channelPosts = posts('CAPPROVALS');
    expect(channelPosts).toHaveLength(ids.length);
    const dmKeys = h.rows("topic = 'requester_dm'").map((r) => r.key);
    const dmPosts = h.fake
      .callsOf('chat.postMessage')
      .filter((c) => c.args.channel !== 'CAPPROVALS');
    expect(dmPosts).toHaveLength(dmKeys.length);
    expect(h.fake.callsOf('chat.update')).toEqual([]);
  });

  it('a new dispatcher on the same file edits the message the old one posted', async () => {
    const req = await request();
    await h.dispatcher.drain();
    await h.dispatcher.stop();

    await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'deny', reason: 'no' });
    const next = h.another();
    await next.dispatcher.drain();
    expect(posts('CDBA')).toHaveLength(1);
    const remembered = h.db.$client
      .prepare("SELECT channel, ts FROM slack_messages WHERE purpose = 'approvers'")
      .all();
    expect(remembered).toHaveLength(1);
    const [update] = h.fake.callsOf('chat.update');
    expect(update!.args).toMatchObject(remembered[0] as object);
    expect(sentText(update!.args)).toContain('Denied by <@ULEAD> at 09:00 UTC: no');
  });

  it('retries a row a crashed worker had taken once its lease runs out', async () => {
    await request({ resourceId: 'auto', duration: '30m' });
    const [row] = h.db.select().from(outbox).all();
    expect(claim(h.db, row!, h.clock.now(), 60_000)).toBe(true);

    const next = h.another();
    await next.dispatcher.drain();
    expect(h.rows(`id = ${row!.id}`)[0]!.status).toBe('pending');
    h.clock.advance(60_000);
    await next.dispatcher.drain();
    expect(h.rows("status != 'sent'")).toEqual([]);
  });

  it('does not post again when a worker died after Slack answered but before marking the row', async () => {
    await request({ resourceId: 'auto', duration: '30m' });
    await h.dispatcher.drain();
    const before = h.fake.callsOf('chat.postMessage').length;
    h.db.$client.exec("UPDATE outbox SET status = 'pending', sent_at = NULL, next_attempt_at = 0");

    await h.another().dispatcher.drain();
    expect(h.fake.callsOf('chat.postMessage')).toHaveLength(before);
    expect(h.rows("status != 'sent'")).toEqual([]);
  });
});

describe('the loop', () => {
  it('delivers soon after a kick from a commit, and stop waits for the send in flight', async () => {
    h.core.onCommit(() => h.dispatcher.kick());
    h.dispatcher.start();
    await request({ resourceId: 'auto', duration: '30m' });
    await h.fake.waitFor(() => h.rows("status = 'pending'").length === 0 && posts().length === 3);

    h.fake.fail('chat.postMessage', { kind: 'hang' });
    await request();
    await h.fake.waitFor(() => posts().length === 5);
    await h.dispatcher.stop();
    expect(h.rows("status = 'pending'")).toMatchObject([
      { attempts: 1, last_error: 'chat.postMessage did not answer within 300 ms' },
    ]);

    await request({ requester: 'UENG' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(posts()).toHaveLength(5);
  });
});
