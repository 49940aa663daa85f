import { blockKitProblems } from '../../../src/slack/ui/limits';
import { deliveryHarness, sentText, type DeliveryHarness } from './harness';

describe('the broken audit chain alert', () => {
  let h: DeliveryHarness;
  // A first call on a busy machine can take longer than the harness's 300 ms call timeout.
  beforeEach(async () => (h = await deliveryHarness('sqlite')));
  afterEach(() => h.stop());

  it('goes to the digest channel and every admin once, with the row shown as literal text', async () => {
    await h.enqueue('chain_broken:270:1', {
      topic: 'chain_broken',
      channel: 'CDIGEST',
      admins: ['UADMIN', 'UADMIN2'],
      seq: 270,
      problem: 'content does not match its hash (the row was edited)',
      verifiedHead: 250,
      row: {
        seq: 270,
        at: Date.UTC(2026, 10, 2, 9),
        actor: '<!channel> *UMALLORY*',
        action: 'request.created',
        requestId: 'req_1',
        grantId: null,
        prevHash: 'a'.repeat(64),
        hash: 'b'.repeat(64),
      },
    });
    await h.dispatcher.drain();
    const posts = h.fake.callsOf('chat.postMessage');
    expect(posts.map((c) => c.args.channel)).toEqual(['CDIGEST', 'UADMIN', 'UADMIN2']);
    const args = posts[0]!.args;
    expect(args.text).toBe('🚨 The audit log does not match its hash chain at row 270.');
    const text = sentText(args);
    expect(text).toContain('content does not match its hash (the row was edited)');
    expect(text).toContain('`&lt;!channel&gt; *UMALLORY*`');
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('Rows up to 250 were verified before');
    expect(blockKitProblems(args.blocks as unknown[])).toEqual([]);
    expect((await h.rows()).map((r) => r.status)).toEqual(['sent']);
  });
});
