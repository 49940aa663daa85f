import { ACTIONS, BLOCKS, VIEWS } from '../../src/slack/ids';
import { BASE_CONFIG } from '../support/core';
import { slackHarness, waitUntil, type SlackHarness } from '../slack/harness';
import {
  appHomeOpened,
  buttonClick,
  FORM,
  slashCommandBody,
  viewOutput,
  viewSubmission,
  type ClickSource,
} from '../support/slack-requests';

const JUST = 'investigating INC-42 slow queries';
const RETRY = { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_timeout' };

/**
 * Slack resends a request it got no 2xx for in 3 s, with X-Slack-Retry-Num. Whether the retry
 * comes after the first delivery was applied or races it, the change happens once: one row,
 * one audit event, one outbox row per notification.
 */
describe('Slack retries never apply twice', () => {
  let h: SlackHarness;
  beforeEach(async () => (h = await slackHarness()));
  afterEach(() => h.close());

  const count = (sql: string, ...args: unknown[]) =>
    h.sql.value<number>(`SELECT count(*) FROM ${sql}`, ...args);
  const auditCount = (action: string) => count('audit_events WHERE action = ?', action);

  /** The first delivery, then its retry after it was applied, then both at once. */
  async function deliverThrice(send: (headers?: Record<string, string>) => Promise<unknown>) {
    await send();
    await send(RETRY);
    await Promise.all([send(RETRY), send({ 'x-slack-retry-num': '2' })]);
    await h.slack.stop();
  }

  function request(resourceId = 'prod-db') {
    return h.core.createRequest({
      requester: 'UREQ',
      resourceId,
      duration: '1h',
      justification: JUST,
    });
  }

  it('/jit request files one request', async () => {
    const body = slashCommandBody({
      userId: 'UREQ',
      text: `request prod-db 1h ${JUST}`,
      responseUrl: h.responseUrl(),
    });
    await deliverThrice((headers) => h.send.post(body, FORM, { headers }));
    expect(await count('requests')).toBe(1);
    expect(await auditCount('request.created')).toBe(1);
    expect(await count("outbox WHERE key LIKE 'request.created:%'")).toBe(2);
  });

  it('Approve records one approval of a quorum of two', async () => {
    const row = await request('quorum');
    const source: ClickSource = { kind: 'message', responseUrl: h.responseUrl(), channelId: 'C1' };
    const payload = buttonClick({
      userId: 'UA1',
      actionId: ACTIONS.approve,
      value: row.id,
      source,
    });
    await deliverThrice((headers) => h.send.interaction(payload, { headers }));
    expect(await count('approvals')).toBe(1);
    expect(await auditCount('approval.recorded')).toBe(1);
    expect(await h.sql.value('SELECT status FROM requests')).toBe('pending');
  });

  it('Approve that meets the quorum creates one grant', async () => {
    const row = await request();
    const source: ClickSource = { kind: 'message', responseUrl: h.responseUrl(), channelId: 'C1' };
    const payload = buttonClick({
      userId: 'ULEAD',
      actionId: ACTIONS.approve,
      value: row.id,
      source,
    });
    await deliverThrice((headers) => h.send.interaction(payload, { headers }));
    expect(await count('grants')).toBe(1);
    expect(await auditCount('request.approved')).toBe(1);
    expect(await auditCount('grant.created')).toBe(1);
  });

  it('Cancel cancels once', async () => {
    const row = await request();
    const source: ClickSource = { kind: 'message', responseUrl: h.responseUrl(), channelId: 'D1' };
    const payload = buttonClick({
      userId: 'UREQ',
      actionId: ACTIONS.cancelRequest,
      value: row.id,
      source,
    });
    await deliverThrice((headers) => h.send.interaction(payload, { headers }));
    expect(await auditCount('request.cancelled')).toBe(1);
    expect(await count("outbox WHERE key LIKE 'request.cancelled:%'")).toBe(1);
  });

  it('Revoke asks the provider to end the grant once', async () => {
    const auto = await request('auto');
    const grantId = (await h.core.grantOf(auto))!.id;
    const source: ClickSource = { kind: 'home' };
    const payload = buttonClick({
      userId: 'UREQ',
      actionId: ACTIONS.revokeGrant,
      value: grantId,
      source,
    });
    await deliverThrice((headers) => h.send.interaction(payload, { headers }));
    expect(await auditCount('grant.revoke_requested')).toBe(1);
  });

  it('a deny form denies once', async () => {
    const row = await request();
    const view = viewOutput(
      {
        type: 'modal',
        callback_id: VIEWS.deny,
        private_metadata: JSON.stringify({ requestId: row.id, fromHome: false }),
      },
      {
        id: 'VDENY0001',
        values: {
          [BLOCKS.reason]: { [ACTIONS.reasonInput]: { type: 'plain_text_input', value: 'no' } },
        },
      },
    );
    const payload = viewSubmission({ userId: 'ULEAD', view });
    await deliverThrice((headers) => h.send.interaction(payload, { headers }));
    expect(await count('approvals')).toBe(1);
    expect(await auditCount('request.denied')).toBe(1);
  });

  it('a request form files one request', async () => {
    const option = (value: string) => ({
      type: 'static_select',
      selected_option: { text: { type: 'plain_text', text: value }, value },
    });
    const view = viewOutput(
      { type: 'modal', callback_id: VIEWS.request, private_metadata: '{"fromHome":false}' },
      {
        id: 'VREQ00001',
        values: {
          [BLOCKS.resource]: { [ACTIONS.resourceSelect]: option('prod-db') },
          [`${BLOCKS.duration}:prod-db`]: { [ACTIONS.durationSelect]: option('1h') },
          [BLOCKS.justification]: {
            [ACTIONS.justificationInput]: { type: 'plain_text_input', value: JUST },
          },
        },
      },
    );
    const payload = viewSubmission({ userId: 'UREQ', view });
    await deliverThrice((headers) => h.send.interaction(payload, { headers }));
    expect(await count('requests')).toBe(1);
    expect(await auditCount('request.created')).toBe(1);
  });

  it('an extend form asks for more time once', async () => {
    const auto = await request('auto');
    const grantId = (await h.core.grantOf(auto))!.id;
    const now = h.clock.now();
    const activation = {
      startsAt: now,
      expiresAt: now + 1_800_000,
      state: undefined,
      elapsedMs: 5,
    };
    expect(await h.core.lifecycle.activated(grantId, activation)).toBe(true);
    const view = viewOutput(
      {
        type: 'modal',
        callback_id: VIEWS.extend,
        private_metadata: JSON.stringify({ grantId, fromHome: false }),
      },
      {
        id: 'VEXT00001',
        values: {
          [`${BLOCKS.duration}:auto`]: {
            [ACTIONS.durationSelect]: { type: 'static_select', selected_option: { value: '30m' } },
          },
          [BLOCKS.reason]: { [ACTIONS.reasonInput]: { type: 'plain_text_input', value: JUST } },
        },
      },
    );
    const payload = viewSubmission({ userId: 'UREQ', view });
    await deliverThrice((headers) => h.send.interaction(payload, { headers }));
    expect(await count("requests WHERE kind = 'extension'")).toBe(1);
  });

  it('app_home_opened changes no state, however often it arrives', async () => {
    await request();
    const before = await count('audit_events');
    const envelope = appHomeOpened({ userId: 'UREQ', eventId: 'Ev42' });
    await h.send.event(envelope);
    await waitUntil(() => h.fake.callsOf('views.publish').length === 1, 'the first Home');
    await deliverThrice((headers) => h.send.event(envelope, { headers }));
    expect(await count('audit_events')).toBe(before);
    expect(await count('outbox')).toBe(2);
  });
});

/** `auto` needs no approver, and may run 4h in all: room for more than one extension. */
const ROOM_FOR_TWO = BASE_CONFIG.replace(
  '  - id: auto\n    name: Auto approved\n    provider: hook\n    maxDuration: 1h\n',
  '  - id: auto\n    name: Auto approved\n    provider: hook\n    maxDuration: 1h\n    maxTotalDuration: 4h\n',
);

/**
 * An extension that needs no approver is applied at once. A retried (or twice submitted) extend
 * form, or a retried `/jit extend`, must still extend once: docs/hostile.md (retries) and
 * docs/slack.md ("deliveries Slack retries count once").
 */
describe('retried extensions that need no approver', () => {
  let h: SlackHarness;
  beforeEach(async () => {
    expect(ROOM_FOR_TWO).toContain('maxTotalDuration: 4h');
    h = await slackHarness({ yaml: ROOM_FOR_TWO });
  });
  afterEach(() => h.close());

  async function activeAutoGrant(): Promise<{ grantId: string; expiresAt: number }> {
    const req = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    const grantId = (await h.core.grantOf(req))!.id;
    const now = h.clock.now();
    const expiresAt = now + 1_800_000;
    expect(
      await h.core.lifecycle.activated(grantId, {
        startsAt: now,
        expiresAt,
        state: undefined,
        elapsedMs: 5,
      }),
    ).toBe(true);
    return { grantId, expiresAt };
  }

  it('an extend form delivered, then retried, extends the grant once', async () => {
    const { grantId, expiresAt } = await activeAutoGrant();
    const view = viewOutput(
      {
        type: 'modal',
        callback_id: VIEWS.extend,
        private_metadata: JSON.stringify({ grantId, fromHome: false }),
      },
      {
        id: 'VEXT00042',
        values: {
          [`${BLOCKS.duration}:auto`]: {
            [ACTIONS.durationSelect]: { type: 'static_select', selected_option: { value: '30m' } },
          },
          [BLOCKS.reason]: { [ACTIONS.reasonInput]: { type: 'plain_text_input', value: JUST } },
        },
      },
    );
    const payload = viewSubmission({ userId: 'UREQ', view });
    expect((await h.send.interaction(payload)).status).toBe(200);
    expect((await h.send.interaction(payload, { headers: RETRY })).status).toBe(200);
    await h.slack.stop();

    expect(await h.sql.value("SELECT count(*) FROM requests WHERE kind = 'extension'")).toBe(1);
    expect(
      await h.sql.value("SELECT count(*) FROM audit_events WHERE action = 'request.created'"),
    ).toBe(2); // the access request and one extension
    const grant = await h.core.grant(grantId);
    expect(grant!.expiresAt).toBe(expiresAt + 1_800_000);
  });

  it('/jit extend delivered, then retried by Slack, extends the grant once', async () => {
    const { grantId, expiresAt } = await activeAutoGrant();
    const body = slashCommandBody({
      userId: 'UREQ',
      text: `extend ${grantId} 30m ${JUST}`,
      responseUrl: h.responseUrl(),
    });
    expect((await h.send.post(body, FORM)).status).toBe(200);
    expect((await h.send.post(body, FORM, { headers: RETRY })).status).toBe(200);
    await h.slack.stop();

    expect(await h.sql.value("SELECT count(*) FROM requests WHERE kind = 'extension'")).toBe(1);
    const grant = await h.core.grant(grantId);
    expect(grant!.expiresAt).toBe(expiresAt + 1_800_000);
  });
});
