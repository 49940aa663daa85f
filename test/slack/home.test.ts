import { ACTIONS } from '../../src/slack/ids';
import { appHomeOpened, buttonClick } from '../support/slack-requests';
import { slackHarness, textOf, type SlackHarness } from './harness';

const JUST = 'investigating INC-42 slow queries';

describe('App Home', () => {
  let h: SlackHarness;
  let requestId: string;
  beforeEach(async () => {
    h = await slackHarness();
    requestId = (
      await h.core.createRequest({
        requester: 'UREQ',
        resourceId: 'prod-db',
        duration: '2h',
        justification: JUST,
      })
    ).id;
  });
  afterEach(() => h.close());

  async function open(userId: string, headers?: Record<string, string>) {
    const before = h.fake.callsOf('views.publish').length;
    const res = await h.send.event(appHomeOpened({ userId }), { headers });
    expect(res.status).toBe(200);
    const call = await h.fake.waitFor(
      (calls) => calls.filter((c) => c.method === 'views.publish')[before],
    );
    expect(call.args.user_id).toBe(userId);
    return call.args.view as { type: string; blocks: unknown[] };
  }

  it('shows a requester the way in and their pending request with Cancel', async () => {
    const view = await open('UREQ');
    expect(view.type).toBe('home');
    const json = JSON.stringify(view.blocks);
    expect(json).toContain(`"action_id":"${ACTIONS.openRequestModal}"`);
    expect(json).toContain(`"action_id":"${ACTIONS.cancelRequest}","value":"${requestId}"`);
    const text = textOf(view.blocks);
    expect(text).toContain('*Production database* for 2 h');
    expect(text).toContain('You hold no access through Hallpass.');
    // UREQ is an approver of prod-db, but not of their own request.
    expect(text).not.toContain('Waiting for your decision');
  });

  it.each(['ULEAD', 'UDBA'])(
    'shows approver %s what waits for their decision',
    async (approver) => {
      const view = await open(approver);
      const text = textOf(view.blocks);
      expect(text).toContain('Waiting for your decision');
      expect(text).toContain(`<@UREQ> asks for *Production database* for 2 h`);
      expect(text).toContain(JUST);
      const json = JSON.stringify(view.blocks);
      expect(json).toContain(`"action_id":"${ACTIONS.approve}","value":"${requestId}"`);
      expect(json).toContain(`"action_id":"${ACTIONS.deny}","value":"${requestId}"`);
    },
  );

  it('redraws after an approval from Home, with what happened on top', async () => {
    await open('ULEAD');
    await h.send.interaction(
      buttonClick({
        userId: 'ULEAD',
        actionId: ACTIONS.approve,
        value: requestId,
        source: { kind: 'home' },
      }),
    );
    const publish = await h.fake.waitFor(
      (calls) => calls.filter((c) => c.method === 'views.publish')[1],
    );
    const text = textOf(publish.args.view);
    expect(text).toContain("You approved <@UREQ>'s request for *Production database* (2 h).");
    expect(text).not.toContain(`You approved \`${requestId}\``);
    expect(text).not.toContain('Waiting for your decision');
  });

  it('remembers who opened it, whose Home later changes then redraw', async () => {
    expect(await h.core.messages.openedHome('UREQ')).toBe(false);
    await open('UREQ');
    expect(await h.core.messages.openedHome('UREQ')).toBe(true);
    expect(await h.core.messages.openedHome('ULEAD')).toBe(false);
    const first = h.clock.now();
    h.clock.advance(60_000);
    await open('UREQ');
    expect(await h.count('home_viewers')).toBe(1);
    expect(await h.sql.value('SELECT first_opened_at FROM home_viewers')).toBe(first);
  });

  it('draws nothing for the Messages tab', async () => {
    const envelope = appHomeOpened({ userId: 'UREQ', tab: 'messages' });
    expect((await h.send.event(envelope)).status).toBe(200);
    await h.slack.stop();
    expect(h.fake.callsOf('views.publish')).toEqual([]);
  });

  it('acks a retried event and simply draws Home again', async () => {
    await open('UREQ');
    const again = await open('UREQ', {
      'x-slack-retry-num': '1',
      'x-slack-retry-reason': 'http_timeout',
    });
    expect(again.type).toBe('home');
    expect(await h.count('requests')).toBe(1);
  });

  it('survives Slack failing to publish, and draws Home next time', async () => {
    h.fake.fail('views.publish', { kind: 'status', status: 500 });
    await h.send.event(appHomeOpened({ userId: 'UREQ' }));
    await h.fake.waitFor((calls) => calls.some((c) => c.method === 'views.publish'));
    const view = await open('UREQ');
    expect(view.type).toBe('home');
  });
});
