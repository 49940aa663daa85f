import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { backoffDelay } from '../../../src/core/backoff';
import { Sealer } from '../../../src/secrets/seal';
import { ACTIONS } from '../../../src/slack/ids';
import { SlackError } from '../../support/fake-slack';
import { waitUntil } from '../harness';
import { STORE_KINDS } from '../../support/stores';
import {
  BOT_TOKEN,
  deliveryHarness,
  HANG_TIMEOUT_MS,
  JUST,
  sentText,
  type DeliveryHarness,
} from './harness';

describe.each(STORE_KINDS)('the outbox dispatcher (%s)', (kind) => {
  let h: DeliveryHarness;
  beforeEach(async () => (h = await deliveryHarness(kind)));
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
    return h.sql.all<{ actor: string; request_id: string; grant_id: string; details: string }>(
      'SELECT actor, request_id, grant_id, details FROM audit_events WHERE action = ? ORDER BY seq',
      action,
    );
  }

  /** The one grant the test made. */
  async function onlyGrantId(): Promise<string> {
    const ids = (await h.sql.all<{ id: string }>('SELECT id FROM grants')).map((r) => r.id);
    expect(ids).toHaveLength(1);
    return ids[0]!;
  }

  /** A request whose first messages are out, and whose denial queued one DM and one edit. */
  async function deniedAfterDelivery() {
    const req = await request();
    await h.dispatcher.drain();
    await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'deny' });
    const dm = await h.rows("status = 'pending' AND topic = 'requester_dm'");
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

  /**
   * The files that hold the database's rows, once whatever deleted or overwritten rows still
   * lingered in them was compacted away (as an operator's VACUUM would).
   */
  async function storageFiles(): Promise<string[]> {
    if (kind === 'sqlite') {
      await h.sql.run('VACUUM');
      const [checkpoint] = await h.sql.all<{ busy: number }>('PRAGMA wal_checkpoint(TRUNCATE)');
      expect(checkpoint!.busy).toBe(0);
      const dir = dirname(h.location.file);
      return readdirSync(dir).map((file) => join(dir, file));
    }
    await h.sql.run(
      'VACUUM FULL outbox, audit_events, slack_messages, grants, requests, approvals, digests',
    );
    const dataDir = await h.sql.value<string>('SHOW data_directory');
    const relations = await h.sql.all<{ path: string }>(
      `SELECT pg_relation_filepath(c.oid) AS path
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 't', 'i')`,
    );
    const files = relations.map((r) => join(dataDir, r.path));
    expect(files.length).toBeGreaterThan(7);
    return files;
  }

  const posts = (channel?: string) =>
    h.fake.callsOf('chat.postMessage').filter((c) => !channel || c.args.channel === channel);
  /** Edits of messages in `channel` (a DM with U… is the channel D…). */
  const edits = (channel: string) =>
    h.fake.callsOf('chat.update').filter((c) => c.args.channel === channel);

  describe('the approver message', () => {
    it('is posted to the approver channel once, then edited in place on every change', async () => {
      const req = await request();
      expect(await h.dispatcher.drain()).toBe(2);
      const [post] = posts('CDBA');
      expect(post).toBeDefined();
      expect(post!.token).toBe(BOT_TOKEN);
      expect(sentText(post!.args)).toContain(ACTIONS.approve);
      const remembered = (await h.sql.get<{ channel: string; ts: string }>(
        'SELECT channel, ts FROM slack_messages WHERE subject = ? AND purpose = ?',
        `request:${req.id}`,
        'approvers',
      ))!;
      expect(remembered.channel).toBe('CDBA');

      await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
      await h.dispatcher.drain();
      const grantId = await onlyGrantId();
      await h.activate(grantId);
      await h.dispatcher.drain();

      expect(posts('CDBA')).toHaveLength(1);
      const updates = edits('CDBA');
      expect(updates).toHaveLength(2);
      for (const u of updates) expect(u.args).toMatchObject(remembered);
      expect(sentText(updates[0]!.args)).toContain('Approved by <@ULEAD>');
      expect(sentText(updates[0]!.args)).not.toContain(ACTIONS.approve);
      expect(sentText(updates[1]!.args)).toContain('Active until 10:00 UTC');
      expect(sentText(updates[1]!.args)).toContain('the target system does not enforce it');
      expect(await h.rows("status != 'sent'")).toEqual([]);
    });

    it('renders a burst of changes once, from the state at send time', async () => {
      const req = await request({ resourceId: 'quorum', duration: '1h' });
      await h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
      await h.core.decide({ requestId: req.id, actor: 'UA2', decision: 'approve' });
      expect(await h.rows(`subject = 'request:${req.id}'`)).toHaveLength(3);

      await h.dispatcher.drain();
      expect(posts('CAPPROVALS')).toHaveLength(1);
      expect(edits('CAPPROVALS')).toHaveLength(0);
      const text = sentText(posts('CAPPROVALS')[0]!.args);
      expect(text).toContain('Approved by <@UA1> and <@UA2>');
      expect(await h.rows(`subject = 'request:${req.id}' AND status = 'sent'`)).toHaveLength(3);
    });
  });

  describe('DMs', () => {
    it('tells the requester in their DM, in the order things happened', async () => {
      const req = await request();
      await h.dispatcher.drain();
      await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
      const grantId = await onlyGrantId();
      await h.activate(grantId);
      await h.dispatcher.drain();

      // Two DMs: the request reaching the approvers, and the access being active. The approval
      // in between edits the first (its Cancel button goes) instead of posting a third.
      const dms = posts('UREQ').map((c) => sentText(c.args));
      expect(dms).toHaveLength(2);
      expect(dms[0]).toContain('is with the approvers in <#CDBA>');
      expect(dms[0]).toContain(ACTIONS.cancelRequest);
      expect(dms[1]).toContain('is active until *10:00 UTC* (in 1 h)');
      expect(dms[1]).toContain(ACTIONS.revokeGrant);
      expect(dms[1]).toContain(ACTIONS.extendGrant);
      expect(dms[1]).toContain(`"value":"${grantId}"`);
      const card = edits('DREQ').map((c) => sentText(c.args));
      expect(card.length).toBeGreaterThan(0);
      expect(card.at(-1)).toContain('✅ Approved by <@ULEAD> at 09:00 UTC.');
      expect(card.at(-1)).toContain('🟢 Active until 10:00 UTC.');
      expect(card.at(-1)).not.toContain(ACTIONS.cancelRequest);
    });

    it('delivers credentials once, clears them from the database and never logs them', async () => {
      const secret = 'password: hunter2-s3cr3t-value';
      const req = await request();
      await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
      const grantId = await onlyGrantId();
      await h.activate(grantId, secret);
      const sealed = JSON.parse((await h.rows("topic = 'credentials'"))[0]!.payload)
        .sealed as string;
      expect(sealed).toMatch(/^v1\./);

      await h.dispatcher.drain();
      await h.dispatcher.drain();
      // The credentials join the "access is active" DM: one message for the event.
      const toHolder = [...posts('UREQ'), ...edits('DREQ')];
      const withSecret = toHolder.filter((c) => sentText(c.args).includes(secret));
      expect(withSecret).toHaveLength(1);
      expect(withSecret[0]!.method).toBe('chat.update');
      expect(sentText(withSecret[0]!.args)).toContain('is active until');
      expect(
        posts('UREQ').filter((c) => sentText(c.args).includes('is active until')),
      ).toHaveLength(1);
      expect(String(withSecret[0]!.args.text)).not.toContain('hunter2');

      const [row] = await h.rows("topic = 'credentials'");
      expect(row).toMatchObject({ status: 'sent' });
      expect(JSON.parse(row!.payload)).toEqual({ topic: 'credentials', userId: 'UREQ', grantId });
      for (const file of await storageFiles()) {
        const bytes = readFileSync(file);
        expect(bytes.includes(sealed)).toBe(false);
        expect(bytes.includes(secret)).toBe(false);
      }
      expect(h.logs.join('\n')).not.toContain('hunter2');
      expect(h.logs.join('\n')).not.toContain(sealed);
    });

    it('gives up on credentials that cannot be opened, and drops them too', async () => {
      const req = await request();
      await h.enqueue('creds:broken', {
        topic: 'credentials',
        userId: 'UREQ',
        grantId: 'gr_missing',
        sealed: 'v1.bad.seal.value',
      });
      await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
      const grantId = await onlyGrantId();
      await h.enqueue('creds:tampered', {
        topic: 'credentials',
        userId: 'UREQ',
        grantId,
        sealed: new Sealer('another-sealing-secret').seal('password: x'),
      });
      await h.dispatcher.drain();
      const dead = await h.rows("status = 'dead'");
      expect(dead.map((r) => [r.key, r.last_error, JSON.parse(r.payload).sealed])).toEqual([
        ['creds:broken', 'grant gr_missing does not exist', undefined],
        [
          'creds:tampered',
          'the sealed credentials cannot be opened (was the sealing secret changed?)',
          undefined,
        ],
      ]);
      expect((await audit('notification.failed')).map((a) => a.grant_id)).toEqual([
        'gr_missing',
        grantId,
      ]);
    });
  });

  describe('ordering', () => {
    it('holds later rows of a subject while its oldest one waits, and lets other subjects go', async () => {
      const recover = failPostsTo('UREQ');
      const first = await request();
      const second = await request({ duration: '1h' });
      const other = await request({ requester: 'UENG' });

      await h.dispatcher.drain();
      const userRows = await h.rows("subject = 'user:UREQ'");
      expect(userRows.map((r) => [r.status, r.attempts])).toEqual([
        ['pending', 1],
        ['pending', 0],
      ]);
      expect(posts('UENG')).toHaveLength(1);
      expect((await h.rows(`subject = 'request:${other.id}'`))[0]!.status).toBe('sent');
      expect(await h.rows(`subject = 'request:${first.id}' AND status = 'sent'`)).toHaveLength(1);

      recover();
      h.clock.advance(60_000);
      await h.dispatcher.drain();
      const texts = posts('UREQ')
        .filter((c) => c.args.channel === 'UREQ')
        .map((c) => sentText(c.args));
      expect(texts.slice(-2)).toHaveLength(2);
      expect(texts.at(-2)).toContain(first.id);
      expect(texts.at(-1)).toContain(second.id);
      expect(await h.rows("status != 'sent'")).toEqual([]);
    });
  });

  describe('failures', () => {
    it('waits as long as a 429 asks, without counting it as a failed try', async () => {
      const { dm } = await deniedAfterDelivery();
      h.fake.fail('chat.postMessage', { kind: 'ratelimited', retryAfter: 30 });
      const now = h.clock.now();
      await h.dispatcher.drain();
      expect((await h.rows(`id = ${dm.id}`))[0]).toMatchObject({
        status: 'pending',
        attempts: 0,
        next_attempt_at: now + 30_000,
        last_error: 'ratelimited',
      });
      expect(await h.rows("status = 'pending'")).toHaveLength(1);

      h.clock.advance(29_999);
      expect(await h.dispatcher.drain()).toBe(0);
      h.clock.advance(1);
      expect(await h.dispatcher.drain()).toBe(1);
      expect(await h.rows("status != 'sent'")).toEqual([]);
      expect(sentText(posts('UREQ').at(-1)!.args)).toContain('was denied by <@ULEAD>');
    });

    it('retries a 5xx with exponential backoff', async () => {
      const { dm } = await deniedAfterDelivery();
      h.fake.fail('chat.postMessage', { kind: 'status', status: 503 }, 2);
      const start = h.clock.now();
      await h.dispatcher.drain();
      const delay1 = backoffDelay(1, 2_000, 300_000, () => 0.5);
      expect((await h.rows(`id = ${dm.id}`))[0]).toMatchObject({
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
      expect((await h.rows(`id = ${dm.id}`))[0]).toMatchObject({
        attempts: 2,
        next_attempt_at: start + delay1 + delay2,
      });

      h.clock.advance(delay2);
      await h.dispatcher.drain();
      expect((await h.rows(`id = ${dm.id}`))[0]).toMatchObject({ status: 'sent', attempts: 3 });
    });

    it('times out a call that hangs and counts it as a failed try', async () => {
      const { dm } = await deniedAfterDelivery();
      const impatient = h.dispatcherFor(h.core, { callTimeoutMs: HANG_TIMEOUT_MS });
      h.fake.fail('chat.postMessage', { kind: 'hang' });
      await impatient.drain();
      expect((await h.rows(`id = ${dm.id}`))[0]).toMatchObject({
        status: 'pending',
        attempts: 1,
        last_error: 'chat.postMessage did not answer within 300 ms',
      });

      h.clock.advance(10 * 60_000);
      await h.dispatcher.drain();
      expect(await h.rows("status != 'sent'")).toEqual([]);
    });

    it('gives up at once on a permanent Slack error, audits it, and moves on', async () => {
      const { req, dm } = await deniedAfterDelivery();
      const recover = failPostsTo('UREQ', 'channel_not_found');
      await h.dispatcher.drain();
      expect((await h.rows(`id = ${dm.id}`))[0]).toMatchObject({
        status: 'dead',
        attempts: 1,
        last_error: 'slack: channel_not_found',
      });
      const [event] = await audit('notification.failed');
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
      expect(await h.rows("status = 'pending'")).toEqual([]);
      expect(sentText(posts('UREQ').at(-1)!.args)).toContain('is with the approvers');
    });

    it.each(['invalid_blocks', 'not_in_channel', 'message_not_found'])(
      '%s is permanent',
      async (error) => {
        const { dm } = await deniedAfterDelivery();
        h.fake.fail('chat.postMessage', { kind: 'error', error });
        await h.dispatcher.drain();
        expect((await h.rows(`id = ${dm.id}`))[0]).toMatchObject({ status: 'dead' });
      },
    );

    it.each(['internal_error', 'invalid_auth'])('%s is retried', async (error) => {
      const { dm } = await deniedAfterDelivery();
      h.fake.fail('chat.postMessage', { kind: 'error', error });
      await h.dispatcher.drain();
      expect((await h.rows(`id = ${dm.id}`))[0]).toMatchObject({ status: 'pending', attempts: 1 });
    });

    it('gives up after the bounded number of tries', async () => {
      const { dm } = await deniedAfterDelivery();
      failPostsTo('UREQ');
      for (let i = 0; i < 9; i++) {
        await h.dispatcher.drain();
        expect((await h.rows(`id = ${dm.id}`))[0]).toMatchObject({
          status: 'pending',
          attempts: i + 1,
        });
        h.clock.advance(5 * 60_000);
      }
      await h.dispatcher.drain();
      expect((await h.rows(`id = ${dm.id}`))[0]).toMatchObject({
        status: 'dead',
        attempts: 10,
        last_error: 'gave up after 10 tries: slack: HTTP 500',
      });
      expect(await audit('notification.failed')).toHaveLength(1);
    });

    it('gives up on rows it cannot read or whose subject is gone', async () => {
      await h.sql.run(
        `INSERT INTO outbox (key, subject, topic, payload, status, attempts, next_attempt_at, created_at)
       VALUES ('junk', 'junk', 'approver_message', 'not json', 'pending', 0, 0, 0)`,
      );
      await h.enqueue('dm:gone', {
        topic: 'requester_dm',
        userId: 'UREQ',
        event: 'request.received',
        requestId: 'req_gone',
      });
      await h.dispatcher.drain();
      expect((await h.rows("status = 'dead'")).map((r) => [r.key, r.last_error])).toEqual([
        ['junk', 'the payload is not a notification Hallpass knows'],
        ['dm:gone', 'request req_gone does not exist'],
      ]);
      expect((await audit('notification.failed')).map((a) => a.request_id)).toEqual([
        null,
        'req_gone',
      ]);
      expect(h.fake.calls).toEqual([]);
    });
  });

  describe('a topic handler registered by another module', () => {
    it('takes one line and delivers through the same retries and once-only posts', async () => {
      h.dispatcher.register('digest', async (n, ctx) => {
        await ctx.post(n.channel, { text: `digest ${n.periodStart}-${n.periodEnd}`, blocks: [] });
      });
      await h.enqueue('digest:1', {
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
      const second = await h.another();

      await Promise.all([
        h.dispatcher.deliverDue(),
        h.dispatcher.deliverDue(),
        second.dispatcher.deliverDue(),
        second.dispatcher.drain(),
        h.dispatcher.drain(),
      ]);
      await h.dispatcher.drain();
      await h.dispatcher.drain();

      expect(await h.rows("status != 'sent'")).toEqual([]);
      const channelPosts = posts('CAPPROVALS');
      expect(channelPosts).toHaveLength(ids.length);
      // One card each for the requests still waiting; the one cancelled before its card went
      // out gets none (its requester cancelled it and was answered there).
      const dmPosts = h.fake
        .callsOf('chat.postMessage')
        .filter((c) => c.args.channel !== 'CAPPROVALS')
        .map((c) => String(c.args.channel));
      expect(dmPosts.sort()).toEqual(['UA1', 'UA2', 'UA3', 'ULEAD', 'UREQ']);
      expect(h.fake.callsOf('chat.update')).toEqual([]);
    });

    it('tries at most `concurrency` rows a round', async () => {
      for (const requester of ['UREQ', 'UENG', 'ULEAD']) {
        await request({ requester, resourceId: 'quorum', duration: '1h' });
      }
      const rounds = h.dispatcherFor(h.core, { concurrency: 2 });
      expect(await rounds.deliverDue()).toBe(2);
      expect(await h.rows("status = 'sent'")).toHaveLength(2);
      expect(await rounds.deliverDue()).toBe(2);
      expect(await rounds.deliverDue()).toBe(2);
      expect(await rounds.deliverDue()).toBe(0);
      expect(await h.rows("status != 'sent'")).toEqual([]);
    });

    it('marks the rows of a round that Slack accepted sent in one transaction', async () => {
      for (const requester of ['UREQ', 'UENG', 'ULEAD']) {
        await request({ requester, resourceId: 'quorum', duration: '1h' });
      }
      const outbox = h.store.outbox;
      const markSent = outbox.markSent.bind(outbox);
      const batches: number[] = [];
      outbox.markSent = (marks, now) => {
        batches.push(marks.length);
        return markSent(marks, now);
      };
      // A window long past the sends: the batch goes when the round's three are in, not on time.
      const rounds = h.dispatcherFor(h.core, { concurrency: 3, markWindowMs: 60_000 });
      expect(await rounds.deliverDue()).toBe(3);
      expect(await rounds.deliverDue()).toBe(3);
      expect(batches).toEqual([3, 3]);
      expect(await h.rows("status != 'sent'")).toEqual([]);
      // A round of fewer rows than the concurrency (a DM and an approver message) is marked once
      // its window is up: one long enough that a loaded machine still answers both sends in it.
      await request({ requester: 'UREQ', resourceId: 'quorum', duration: '2h' });
      const short = h.dispatcherFor(h.core, { concurrency: 3, markWindowMs: 1_000 });
      expect(await short.deliverDue()).toBe(2);
      expect(batches).toEqual([3, 3, 2]);
      expect(await h.rows("status != 'sent'")).toEqual([]);
    });

    it('two dispatchers on two stores of one database, delivering at once, send every row once and edit in place', async () => {
      const requesters = ['UREQ', 'UENG', 'ULEAD', 'UDBA', 'UOPS', 'UWEB'];
      const ids: string[] = [];
      for (const requester of requesters) {
        ids.push((await request({ requester, resourceId: 'quorum', duration: '1h' })).id);
      }
      // Two subjects at a time each, so both have to come back for more while the other works;
      // a call timeout no busy machine reaches, as this is not about timeouts.
      const options = { concurrency: 2, callTimeoutMs: 10_000 };
      const first = h.dispatcherFor(h.core, options);
      const second = await h.another(options);
      const both = () => Promise.all([first.drain(), second.dispatcher.drain()]);

      const [a, b] = await both();
      expect(a + b).toBe(2 * ids.length);
      expect(await h.rows("status != 'sent'")).toEqual([]);
      expect(posts('CAPPROVALS')).toHaveLength(ids.length);
      for (const requester of requesters) {
        expect(posts(requester).map((c) => sentText(c.args))).toEqual([
          expect.stringContaining('is with the approvers'),
        ]);
      }
      const remembered = new Map(
        (
          await h.sql.all<{ subject: string; channel: string; ts: string }>(
            "SELECT subject, channel, ts FROM slack_messages WHERE purpose = 'approvers'",
          )
        ).map((m) => [m.subject, { channel: m.channel, ts: m.ts }]),
      );
      expect([...remembered.keys()].sort()).toEqual(ids.map((id) => `request:${id}`).sort());

      // A burst on every request: two approvals, then the approval DM.
      for (const id of ids) {
        await h.core.decide({ requestId: id, actor: 'UA1', decision: 'approve' });
        await h.core.decide({ requestId: id, actor: 'UA2', decision: 'approve' });
      }
      const queued = await h.rows("status = 'pending'");
      expect(queued).toHaveLength(3 * ids.length);
      await both();

      expect(await h.rows("status != 'sent'")).toEqual([]);
      expect(posts('CAPPROVALS')).toHaveLength(ids.length);
      const updates = edits('CAPPROVALS');
      expect(updates).toHaveLength(ids.length);
      for (const id of ids) {
        const where = remembered.get(`request:${id}`)!;
        const mine = updates.filter((u) => u.args.ts === where.ts);
        expect(mine).toHaveLength(1);
        expect(mine[0]!.args).toMatchObject(where);
        expect(sentText(mine[0]!.args)).toContain(id);
        expect(sentText(mine[0]!.args)).toContain('Approved by <@UA1> and <@UA2>');
        expect(sentText(mine[0]!.args)).not.toContain(ACTIONS.approve);
      }
      for (const requester of requesters) {
        // The approval edits the requester's card; the access being active will be the news.
        expect(posts(requester)).toHaveLength(1);
        const card = edits(`D${requester.slice(1)}`).map((c) => sentText(c.args));
        expect(card).toEqual([expect.stringContaining('Approved by <@UA1> and <@UA2>')]);
      }
      const tokens = new Set(h.fake.calls.map((c) => c.token));
      expect(tokens).toEqual(new Set([BOT_TOKEN, second.token]));
    });

    it('a new dispatcher on the same database edits the message the old one posted', async () => {
      const req = await request();
      await h.dispatcher.drain();
      await h.dispatcher.stop();

      await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'deny', reason: 'no' });
      const next = await h.another();
      await next.dispatcher.drain();
      expect(posts('CDBA')).toHaveLength(1);
      const remembered = await h.sql.all(
        "SELECT channel, ts FROM slack_messages WHERE purpose = 'approvers'",
      );
      expect(remembered).toHaveLength(1);
      const [update] = edits('CDBA');
      expect(update!.args).toMatchObject(remembered[0] as object);
      expect(sentText(update!.args)).toContain('Denied by <@ULEAD> at 09:00 UTC: no');
    });

    it('retries a row a crashed worker had taken once its lease runs out', async () => {
      await request({ resourceId: 'auto', duration: '30m' });
      const [row] = await h.rows();
      // A worker takes the oldest row, then dies before it answers.
      const taken = await h.core.outbox.claim(60_000, 1);
      expect(taken.map((r) => r.id)).toEqual([row!.id]);

      const next = await h.another();
      await next.dispatcher.drain();
      expect((await h.rows(`id = ${row!.id}`))[0]!.status).toBe('pending');
      h.clock.advance(60_000);
      await next.dispatcher.drain();
      expect(await h.rows("status != 'sent'")).toEqual([]);
    });

    it('does not post again when a worker died after Slack answered but before marking the row', async () => {
      await request({ resourceId: 'auto', duration: '30m' });
      await h.dispatcher.drain();
      const before = h.fake.callsOf('chat.postMessage').length;
      await h.sql.run("UPDATE outbox SET status = 'pending', sent_at = NULL, next_attempt_at = 0");

      await (await h.another()).dispatcher.drain();
      expect(h.fake.callsOf('chat.postMessage')).toHaveLength(before);
      expect(await h.rows("status != 'sent'")).toEqual([]);
    });
  });

  describe('Homes', () => {
    const homes = (userId: string) =>
      h.fake.callsOf('views.publish').filter((c) => c.args.user_id === userId);

    it("draws a person's Home once for the changes of theirs one round delivered, after them", async () => {
      await h.core.messages.homeOpened('UREQ', h.clock.now());
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await request()).id);
      await h.dispatcher.drain();
      expect(posts('CDBA')).toHaveLength(3);
      expect(homes('UREQ')).toHaveLength(1);
      const view = JSON.stringify(homes('UREQ')[0]!.args.view);
      for (const id of ids) expect(view).toContain(`request:${id}`);
    });

    it('draws a Home in a full round too, so a backlog does not hold it back for its whole length', async () => {
      await h.core.messages.homeOpened('UREQ', h.clock.now());
      await request();
      await request({ requester: 'UENG' });
      const due = (await h.rows("status = 'pending'")).length;
      const rounds = h.dispatcherFor(h.core, { concurrency: 1 });
      const tried: number[] = [];
      for (let n = await rounds.deliverDue(); n > 0; n = await rounds.deliverDue()) tried.push(n);
      // One row a round, and the Home beside the row of one of them: no round waited for a place.
      expect(tried).toHaveLength(due);
      expect(tried.filter((n) => n === 2)).toHaveLength(1);
      expect(homes('UREQ')).toHaveLength(1);
      expect(rounds.homesUnfinished).toBe(0);
    });
  });

  describe('the loop', () => {
    it('delivers soon after a kick from a commit, and stop waits for the send in flight', async () => {
      const impatient = h.dispatcherFor(h.core, { callTimeoutMs: HANG_TIMEOUT_MS });
      h.core.onCommit(() => impatient.kick());
      impatient.start();
      await request({ resourceId: 'auto', duration: '30m' });
      // Approved at once: only the approver channel hears of it until the access is active.
      await waitUntil(
        async () => (await h.rows("status = 'pending'")).length === 0 && posts().length === 1,
        'the first post',
      );

      h.fake.fail('chat.postMessage', { kind: 'hang' });
      await request();
      await h.fake.waitFor(() => posts().length === 3);
      await impatient.stop();
      expect(await h.rows("status = 'pending'")).toMatchObject([
        { attempts: 1, last_error: 'chat.postMessage did not answer within 300 ms' },
      ]);

      await request({ requester: 'UENG' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(posts()).toHaveLength(3);
    });

    /** Opens what a test held, also when it failed: the dispatcher's stop waits for its round. */
    let opened: (() => void)[] = [];
    afterEach(() => {
      opened.forEach((open) => open());
      opened = [];
    });

    /** Holds the change queue: one change that waits until released, and `behind` queued after it. */
    async function changesHeld(behind: number) {
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      opened.push(open);
      const held = h.store.change(() => gate);
      const queued = Array.from({ length: behind }, () => h.store.change(async () => undefined));
      await waitUntil(() => h.core.outbox.changesWaiting() === behind, 'the changes queued');
      return {
        release: async () => {
          open();
          await Promise.all([held, ...queued]);
        },
      };
    }

    /** How many changes waited as each round asked for its rows. */
    function countClaims(): number[] {
      const waitingAtClaims: number[] = [];
      const claim = h.core.outbox.claim.bind(h.core.outbox);
      h.core.outbox.claim = (leaseMs, limit) => {
        waitingAtClaims.push(h.core.outbox.changesWaiting());
        return claim(leaseMs, limit);
      };
      return waitingAtClaims;
    }

    /** A loop with `options` started on a filed request's rows while four changes wait. */
    async function loopWithChangesHeld(options: {
      giveWayAtChanges: number;
      giveWayMaxMs: number;
    }) {
      const loop = h.dispatcherFor(h.core, options);
      await request();
      const claims = countClaims();
      const changes = await changesHeld(4);
      loop.start();
      return { claims, changes };
    }

    /** Both first messages of the request out, and its rows marked sent. */
    async function delivered(): Promise<void> {
      await waitUntil(async () => (await h.rows("status = 'pending'")).length === 0, 'delivery');
      expect(posts()).toHaveLength(2);
    }

    it('starts no round while more changes wait than it gives way at, and delivers once they are recorded', async () => {
      const { claims, changes } = await loopWithChangesHeld({
        giveWayAtChanges: 3,
        giveWayMaxMs: 60_000,
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(claims).toEqual([]);

      await changes.release();
      await delivered();
      // The queue drains while the loop looks: its first round may start with up to three left.
      expect(claims[0]).toBeLessThanOrEqual(3);
    });

    it.each([
      [
        'after giveWayMaxMs while more changes still wait',
        { giveWayAtChanges: 3, giveWayMaxMs: 100 },
      ],
      [
        'while as many changes wait as it gives way at',
        { giveWayAtChanges: 4, giveWayMaxMs: 60_000 },
      ],
    ])('starts a round %s', async (_, options) => {
      const { claims, changes } = await loopWithChangesHeld(options);
      await waitUntil(() => claims.length > 0, 'a round');
      expect(claims[0]).toBe(4);

      await changes.release();
      await delivered();
    });
  });
});
