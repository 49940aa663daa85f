import { ACTIONS } from '../../../src/slack/ids';
import { SlackError } from '../../support/fake-slack';
import { STORE_KINDS } from '../../support/stores';
import { deliveryHarness, JUST, sentText, type DeliveryHarness } from './harness';

describe.each(STORE_KINDS)('topic handlers (%s)', (kind) => {
  let h: DeliveryHarness;
  beforeEach(async () => (h = await deliveryHarness(kind)));
  afterEach(() => h.stop());

  const posts = (channel: string) =>
    h.fake.callsOf('chat.postMessage').filter((c) => c.args.channel === channel);
  const updates = (channel: string) =>
    h.fake.callsOf('chat.update').filter((c) => c.args.channel === channel);
  const lastUpdate = () => sentText(updates('CDBA').at(-1)!.args);

  /** UREQ's request for an hour of prod-db, waiting for approvers. */
  const filed = () =>
    h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '1h',
      justification: JUST,
    });

  /** An approved prod-db request whose grant is still activating, with every message out. */
  async function approved() {
    const req = await filed();
    await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
    const grantId = (await h.core.grantOf(req))!.id;
    await h.dispatcher.drain();
    return { req, grantId };
  }

  describe('grant lifecycle messages', () => {
    it('reads the card and the access DM the activation edits or posts in one read', async () => {
      const req = await filed();
      await h.dispatcher.drain();
      await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
      await h.dispatcher.drain();
      const grantId = (await h.core.grantOf(req))!.id;
      const find = jest.spyOn(h.store.messages, 'find');
      const findEach = jest.spyOn(h.store.messages, 'findEach');
      const refs = [
        { subject: `request:${req.id}`, purpose: 'requester' },
        { subject: `grant:${grantId}`, purpose: 'holder' },
      ];
      try {
        await h.activate(grantId);
        await h.dispatcher.drain();
        // The approver message's reads are its own; each of these was read once, together.
        const dmReads = [
          ...find.mock.calls.map(([subject, purpose]) => ({ subject, purpose })),
          ...findEach.mock.calls.flatMap(([asked]) => asked),
        ].filter((ref) => ref.purpose === 'requester' || ref.purpose === 'holder');
        expect(dmReads).toEqual(refs);
        expect(findEach).toHaveBeenCalledWith(refs);
      } finally {
        find.mockRestore();
        findEach.mockRestore();
      }
      const cardEdits = h.fake
        .callsOf('chat.update')
        .filter((c) => !String(c.args.channel).startsWith('C'));
      expect(sentText(cardEdits.at(-1)!.args)).toContain('Approved by <@ULEAD>');
      expect(sentText(posts('UREQ').at(-1)!.args)).toContain('is active until');
    });

    it('shows a revoke by the holder in the channel and tells them it ended', async () => {
      const { grantId } = await approved();
      await h.activate(grantId);
      await h.dispatcher.drain();
      await h.core.revokeGrant({ grantId, actor: 'UREQ', reason: 'done early' });
      await h.dispatcher.drain();
      expect(lastUpdate()).toContain('Revoked by <@UREQ> (done early); removing access…');

      h.clock.advance(60_000);
      await h.core.lifecycle.revoked([{ grantId, checked: true }]);
      await h.dispatcher.drain();
      expect(lastUpdate()).toContain('⚪ Revoked by <@UREQ> at 09:01 UTC (done early).');
      const dm = sentText(posts('UREQ').at(-1)!.args);
      expect(dm).toContain('has ended');
      expect(dm).toContain('You revoked it');
    });

    it('warns the holder before expiry with an Extend button', async () => {
      const { grantId } = await approved();
      await h.activate(grantId);
      h.clock.advance(50 * 60_000);
      await h.core.lifecycle.warned(grantId, (await h.core.grant(grantId))!.expiresAt);
      await h.dispatcher.drain();
      const dm = posts('UREQ').at(-1)!.args;
      expect(sentText(dm)).toContain('ends at *10:00 UTC* (in 10 min)');
      expect(sentText(dm)).toContain(ACTIONS.extendGrant);
      expect(sentText(dm)).not.toContain(ACTIONS.revokeGrant);
    });

    it('links an extension to the original request and edits both messages when it is approved', async () => {
      h.fake.on('chat.getPermalink', (a) => ({
        permalink: `https://test.slack.com/archives/${a.channel}/p${String(a.message_ts).replace('.', '')}`,
      }));
      const { grantId } = await approved();
      await h.activate(grantId);
      await h.dispatcher.drain();
      const ext = await h.core.requestExtension({
        grantId,
        actor: 'UREQ',
        duration: '1h',
        justification: 'the migration runs long',
      });
      await h.dispatcher.drain();
      const extPost = sentText(posts('CDBA')[1]!.args);
      expect(extPost).toContain('Extension request: Production database');
      expect(extPost).toContain(
        `More time on <@UREQ>'s access to *Production database* (grant \`${grantId}\`).`,
      );
      expect(extPost).toContain('https://test.slack.com/archives/CDBA/p1700000000');
      expect(extPost).toContain(ACTIONS.approve);
      expect(h.fake.callsOf('chat.getPermalink')[0]!.args).toMatchObject({ channel: 'CDBA' });

      await h.core.decide({ requestId: ext.id, actor: 'ULEAD', decision: 'approve' });
      await h.dispatcher.drain();
      expect(posts('CDBA')).toHaveLength(2);
      const remembered = await h.sql.all<{ ts: string }>(
        "SELECT ts FROM slack_messages WHERE purpose = 'approvers' ORDER BY ts",
      );
      const edits = updates('CDBA').slice(-2);
      expect(edits.map((u) => String(u.args.ts)).sort()).toEqual(remembered.map((r) => r.ts));
      const byTs = new Map(edits.map((u) => [String(u.args.ts), sentText(u.args)]));
      expect(byTs.get(remembered[0]!.ts)).toContain('Active until 11:00 UTC');
      expect(byTs.get(remembered[1]!.ts)).toContain('Approved by <@ULEAD>');
      expect(byTs.get(remembered[1]!.ts)).toContain('Active until 11:00 UTC');
      // The requester's card of the extension request is edited to say so (no new DM).
      const card = h.fake
        .callsOf('chat.update')
        .filter((c) => !String(c.args.channel).startsWith('C'))
        .at(-1)!;
      expect(sentText(card.args)).toContain(
        '✅ Approved by <@ULEAD> at 09:00 UTC. Your access now ends at *11:00 UTC*.',
      );
    });

    it('posts an extension without the link when Slack gives none', async () => {
      const { grantId } = await approved();
      await h.activate(grantId);
      await h.dispatcher.drain();
      await h.core.requestExtension({
        grantId,
        actor: 'UREQ',
        duration: '1h',
        justification: 'the migration runs long',
      });
      await h.dispatcher.drain();
      const extPost = sentText(posts('CDBA')[1]!.args);
      expect(extPost).toContain('Extension request');
      expect(extPost).not.toContain('Original request');
      expect(h.logs.join('\n')).toContain('no permalink for the original request message');
    });
  });

  describe('what the requester is told', () => {
    const dms = () => posts('UREQ');

    it('an auto-approved grant: one DM, the access being active, with its credentials in it', async () => {
      const req = await h.core.createRequest({
        requester: 'UREQ',
        resourceId: 'auto',
        duration: '30m',
        justification: JUST,
      });
      await h.dispatcher.drain();
      expect(dms()).toEqual([]);
      await h.activate((await h.core.grantOf(req))!.id, 'password: `s3cr3t-pw-value`');
      await h.dispatcher.drain();
      expect(dms()).toHaveLength(1);
      expect(sentText(dms()[0]!.args)).toContain('is active until *10:00 UTC* (in 1 h)');
      const edits = updates('DREQ');
      expect(edits).toHaveLength(1);
      expect(sentText(edits[0]!.args)).toContain('s3cr3t-pw-value');
      expect(sentText(edits[0]!.args)).toContain('is active until');
      expect(String(edits[0]!.args.text)).not.toContain('s3cr3t');
    });

    it('a request through approvers: its card is edited as it moves on; each moment that matters is one DM', async () => {
      const req = await filed();
      await h.dispatcher.drain();
      await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
      await h.dispatcher.drain();
      expect(sentText(updates('DREQ').at(-1)!.args)).toContain(
        '✅ Approved by <@ULEAD> at 09:00 UTC.',
      );
      const grantId = (await h.core.grantOf(req))!.id;
      await h.activate(grantId);
      await h.dispatcher.drain();
      h.clock.advance(50 * 60_000);
      await h.core.lifecycle.warned(grantId, (await h.core.grant(grantId))!.expiresAt);
      await h.dispatcher.drain();
      h.clock.advance(10 * 60_000);
      await h.core.lifecycle.expire([grantId]);
      await h.core.lifecycle.revoked([{ grantId, checked: true }]);
      await h.dispatcher.drain();
      const said = dms().map((c) => String(c.args.text));
      expect(said).toEqual([
        '📨 Your request for *Production database* (`prod-db`) for *1 h* is with the approvers in <#CDBA>.',
        '🟢 Your access to *Production database* (`prod-db`) is active until *10:00 UTC* (in 1 h).',
        '⏳ Your access to *Production database* (`prod-db`) ends at *10:00 UTC* (in 10 min).',
        '⚪ Your access to *Production database* (`prod-db`) has ended.',
      ]);
      const card = updates('DREQ').map((c) => sentText(c.args));
      expect(card.every((text) => text.includes(req.id))).toBe(true);
      expect(card.at(-1)).toContain('⚪ Expired at 10:00 UTC; access removed at 10:00 UTC.');
      expect(card.some((text) => text.includes(ACTIONS.cancelRequest))).toBe(false);
    });

    it('an approval whose access is active before its DM goes out edits the card once', async () => {
      const req = await filed();
      await h.dispatcher.drain();
      await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
      await h.activate((await h.core.grantOf(req))!.id);
      await h.dispatcher.drain();
      const card = updates('DREQ').map((c) => sentText(c.args));
      expect(card).toHaveLength(1);
      expect(card[0]).toContain('✅ Approved by <@ULEAD> at 09:00 UTC. 🟢 Active until 10:00 UTC.');
      expect(card[0]).not.toContain(ACTIONS.cancelRequest);
      expect(dms().map((c) => String(c.args.text))).toEqual([
        '📨 Your request for *Production database* (`prod-db`) for *1 h* is with the approvers in <#CDBA>.',
        '🟢 Your access to *Production database* (`prod-db`) is active until *10:00 UTC* (in 1 h).',
      ]);
      expect(await h.rows("status = 'pending'")).toEqual([]);
    });

    it('edits the card of an approval with nothing queued behind it without reading what follows', async () => {
      const req = await filed();
      await h.dispatcher.drain();
      await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
      const pendingAfter = jest.spyOn(h.store.outbox, 'pendingAfter');
      try {
        await h.dispatcher.drain();
        // The claim said the approval's row was its subject's last: nothing to look ahead to.
        expect(pendingAfter).not.toHaveBeenCalled();
      } finally {
        pendingAfter.mockRestore();
      }
      const card = updates('DREQ').map((c) => sentText(c.args));
      expect(card.at(-1)).toContain('✅ Approved by <@ULEAD> at 09:00 UTC.');
    });

    it('writes DMs in the zone the person set in Slack', async () => {
      h.fake.timezones.UREQ = 'Asia/Tokyo';
      const { grantId } = await approved();
      await h.activate(grantId);
      await h.dispatcher.drain();
      expect(String(dms().at(-1)!.args.text)).toContain('until *19:00 Asia/Tokyo* (in 1 h)');
      // The approver channel stays in the configured zone.
      expect(lastUpdate()).toContain('Active until 10:00 UTC.');
    });

    it('republishes the Home of the requester when what it shows changes', async () => {
      await h.core.messages.homeOpened('UREQ', h.clock.now());
      const { grantId } = await approved();
      await h.activate(grantId);
      await h.core.revokeGrant({ grantId, actor: 'UREQ' });
      await h.dispatcher.drain();
      const homes = () => h.fake.callsOf('views.publish').filter((c) => c.args.user_id === 'UREQ');
      expect(JSON.stringify(homes().at(-1)!.args.view)).toContain('being removed');
      await h.core.lifecycle.revoked([{ grantId, checked: true }]);
      await h.dispatcher.drain();
      const last = JSON.stringify(homes().at(-1)!.args.view);
      expect(last).not.toContain('being removed');
      expect(last).toContain('You hold no access through Hallpass.');
    });

    it('leaves alone the Home of a requester who never opened it', async () => {
      await h.core.messages.homeOpened('UOTHER', h.clock.now());
      const { grantId } = await approved();
      await h.activate(grantId);
      await h.core.revokeGrant({ grantId, actor: 'UREQ' });
      await h.dispatcher.drain();
      expect(lastUpdate()).toContain('being removed');
      // Home is drawn when it is first opened (test/slack/home.test.ts).
      expect(h.fake.callsOf('views.publish')).toEqual([]);
    });

    it('tells whose Home a round’s deliveries changed in one read, and draws only the opened ones', async () => {
      await h.core.messages.homeOpened('UENG', h.clock.now());
      for (const requester of ['UREQ', 'UENG'])
        await h.core.createRequest({
          requester,
          resourceId: 'prod-db',
          duration: '1h',
          justification: JUST,
        });
      const openedHomes = jest.spyOn(h.store.messages, 'openedHomes');
      const openedHome = jest.spyOn(h.store.messages, 'openedHome');
      try {
        await h.dispatcher.drain();
        expect(openedHome).not.toHaveBeenCalled();
        expect(openedHomes).toHaveBeenCalledTimes(1);
        expect([...openedHomes.mock.calls[0]![0]].sort()).toEqual(['UENG', 'UREQ']);
      } finally {
        openedHomes.mockRestore();
        openedHome.mockRestore();
      }
      const drawn = h.fake.callsOf('views.publish').map((c) => c.args.user_id);
      expect(drawn).toEqual(['UENG']);
    });

    it('draws every Home asked for when it cannot tell who opened theirs, and says why', async () => {
      await filed();
      const openedHomes = jest
        .spyOn(h.store.messages, 'openedHomes')
        .mockRejectedValueOnce(new Error('connection terminated unexpectedly'));
      try {
        await h.dispatcher.drain();
      } finally {
        openedHomes.mockRestore();
      }
      expect(h.fake.callsOf('views.publish').map((c) => c.args.user_id)).toEqual(['UREQ']);
      expect(h.logs.join('')).toContain('tell whether the Home tab was opened');
      expect(h.dispatcher.homesUnfinished).toBe(0);
    });
  });

  describe('alerts', () => {
    const retry = { retryBase: 1000, retryMax: 10_000, alertAfterAttempts: 1 };

    it('go to the approver channel and every admin, and say Hallpass keeps retrying', async () => {
      const { grantId } = await approved();
      await h.core.lifecycle.failed(grantId, 'grant', 'HTTP 503 from the hook', retry);
      await h.dispatcher.drain();
      const inChannel = posts('CDBA').filter((c) =>
        sentText(c.args).includes('could not activate'),
      );
      const toAdmin = posts('UADMIN');
      expect(inChannel).toHaveLength(1);
      expect(toAdmin).toHaveLength(1);
      const text = sentText(toAdmin[0]!.args);
      for (const part of [grantId, '<@UREQ>', 'Production database', 'grant (1 attempt)']) {
        expect(text).toContain(part);
      }
      expect(text).toContain('HTTP 503 from the hook');
      expect(text).toContain('keeps retrying');
      expect(lastUpdate()).toContain('Activation failed');
      expect(sentText(posts('UREQ').at(-1)!.args)).toContain('could not set up your access');
    });

    it('after a partial failure, retry only where it did not arrive', async () => {
      const { grantId } = await approved();
      h.clock.advance(60_000);
      let adminDown = true;
      let n = 0;
      h.fake.on('chat.postMessage', (a) => {
        if (adminDown && a.channel === 'UADMIN') throw new SlackError('internal_error');
        n += 1;
        return { channel: a.channel, ts: `1700000002.${String(n).padStart(6, '0')}` };
      });
      await h.core.revokeGrant({ grantId, actor: 'UADMIN', reason: 'incident' });
      await h.core.lifecycle.failed(grantId, 'revoke', 'timeout', retry);
      await h.dispatcher.drain();
      const alertRow = () => h.sql.get("SELECT status, attempts FROM outbox WHERE topic = 'alert'");
      expect(await alertRow()).toEqual({ status: 'pending', attempts: 1 });

      adminDown = false;
      h.clock.advance(60_000);
      await h.dispatcher.drain();
      expect(await alertRow()).toEqual({ status: 'sent', attempts: 2 });
      const alerts = h.fake
        .callsOf('chat.postMessage')
        .filter((c) => sentText(c.args).includes('could not revoke'));
      expect(alerts.map((c) => c.args.channel)).toEqual(['CDBA', 'UADMIN', 'UADMIN']);
    });
  });
});
