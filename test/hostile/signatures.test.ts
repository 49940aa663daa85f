import { ACTIONS } from '../../src/slack/ids';
import { slackHarness, SIGNING_SECRET, type SlackHarness } from '../slack/harness';
import {
  appHomeOpened,
  buttonClick,
  FORM,
  JSON_TYPE,
  slackSignature,
  slashCommandBody,
} from '../support/slack-requests';
import { captureLogs, snapshot, type CapturedLogs } from './support';

const JUST = 'investigating INC-42 slow queries';
const now = () => Math.floor(Date.now() / 1000);

/**
 * Requests that do not carry a valid, fresh signature over their exact body: 401 before any
 * listener runs, whatever the body says, and no table changes.
 */
describe('requests without a valid, fresh signature', () => {
  let h: SlackHarness;
  let logs: CapturedLogs;
  let requestId: string;
  beforeEach(async () => {
    h = await slackHarness();
    requestId = (
      await h.core.createRequest({
        requester: 'UREQ',
        resourceId: 'prod-db',
        duration: '1h',
        justification: JUST,
      })
    ).id;
    logs = captureLogs();
  });
  afterEach(async () => {
    await h.close();
    logs.stop();
  });

  const approveBody = () =>
    `payload=${encodeURIComponent(
      JSON.stringify(
        buttonClick({
          userId: 'ULEAD',
          actionId: ACTIONS.approve,
          value: requestId,
          source: { kind: 'message', responseUrl: h.responseUrl(), channelId: 'CDBA' },
        }),
      ),
    )}`;
  const bodies: [string, () => [string, string]][] = [
    ['an Approve click', () => [approveBody(), FORM]],
    [
      'a /jit request',
      () => [
        slashCommandBody({
          userId: 'UREQ',
          text: `request prod-db 1h ${JUST}`,
          responseUrl: h.responseUrl(),
        }),
        FORM,
      ],
    ],
    [
      'an app_home_opened event',
      () => [JSON.stringify(appHomeOpened({ userId: 'UREQ' })), JSON_TYPE],
    ],
  ];

  const forgeries: [
    string,
    (body: string) => { timestamp?: number; signature?: string; headers?: Record<string, string> },
  ][] = [
    ['unsigned', () => ({ signature: '' })],
    [
      'signed with another secret',
      (body) => ({ signature: slackSignature('another-secret', now(), body) }),
    ],
    [
      'signed for another body',
      () => ({ signature: slackSignature(SIGNING_SECRET, now(), 'payload=%7B%7D') }),
    ],
    [
      'signed with a v1 scheme',
      (body) => ({ signature: slackSignature(SIGNING_SECRET, now(), body).replace(/^v0=/, 'v1=') }),
    ],
    [
      'replayed 5 minutes and a second after it was signed',
      (body) => {
        const timestamp = now() - 301;
        return { timestamp, signature: slackSignature(SIGNING_SECRET, timestamp, body) };
      },
    ],
    [
      'replayed with its old signature under a fresh timestamp',
      (body) => ({
        timestamp: now(),
        signature: slackSignature(SIGNING_SECRET, now() - 301, body),
      }),
    ],
    [
      'carrying a timestamp that is not a number',
      (body) => ({
        signature: slackSignature(SIGNING_SECRET, 'soon', body),
        headers: { 'x-slack-request-timestamp': 'soon' },
      }),
    ],
  ];

  describe.each(bodies)('%s', (_, make) => {
    it.each(forgeries)('%s: 401, nothing changes', async (_, forge) => {
      const [body, type] = make();
      const before = await snapshot(h.sql);
      const calls = h.fake.calls.length;
      const res = await h.send.post(body, type, forge(body));
      expect(res.status).toBe(401);
      await h.slack.stop();
      expect(await snapshot(h.sql)).toEqual(before);
      expect(h.fake.calls.length).toBe(calls);
      expect(logs.warnings().map((l) => l.message)).toEqual([
        expect.stringMatching(/^Failed to parse and verify the request data/),
      ]);
    });
  });

  it('the same click, freshly signed, is what the bot acts on (the setup can change things)', async () => {
    const res = await h.send.post(approveBody(), FORM);
    expect(res.status).toBe(200);
    await h.slack.stop();
    expect(await h.sql.value('SELECT status FROM requests')).toBe('approved');
  });
});
