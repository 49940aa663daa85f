import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { logger } from '../../src/log';
import { createSlackApp } from '../../src/slack/app';
import { FakeSlack } from '../support/fake-slack';
import { coreHarness } from '../support/core';
import { FORM, slackSignature, slashCommandBody } from '../support/slack-requests';
import { slackHarness, type SlackHarness } from './harness';

const FIXTURES = join(__dirname, '..', '..', '..', 'shared', 'slack-fixtures');
const JUST = 'investigating INC-42 slow queries';

describe('request signing', () => {
  it('reproduces Slack’s worked example', () => {
    const example = JSON.parse(readFileSync(`${FIXTURES}/signing-worked-example.json`, 'utf8')) as {
      signingSecret: string;
      timestamp: string;
      body: string;
      expectedSignature: string;
    };
    const body = readFileSync(`${FIXTURES}/slash-command-signing-example.urlencoded`, 'utf8');
    expect(body).toBe(example.body);
    expect(slackSignature(example.signingSecret, example.timestamp, example.body)).toBe(
      example.expectedSignature,
    );
  });
});

describe('the Slack endpoint', () => {
  let h: SlackHarness;
  beforeEach(async () => (h = await slackHarness()));
  afterEach(() => h.close());

  const body = () =>
    slashCommandBody({
      userId: 'UREQ',
      text: `request prod-db 1h ${JUST}`,
      responseUrl: h.responseUrl(),
    });

  async function expectUntouched(callsBefore: number) {
    await h.slack.stop();
    expect(await h.count('requests')).toBe(0);
    expect(await h.count('audit_events')).toBe(0);
    expect(h.fake.calls.length).toBe(callsBefore);
  }

  it.each([
    ['a wrong signature', { signature: 'v0=' + '0'.repeat(64) }],
    [
      'a signature made with another secret',
      { signature: slackSignature('another-secret', Math.floor(Date.now() / 1000), 'x') },
    ],
    ['a timestamp six minutes old', { timestamp: Math.floor(Date.now() / 1000) - 360 }],
    ['no signature', { signature: '' }],
  ])('answers 401 to %s and touches nothing', async (_, options) => {
    const before = h.fake.calls.length;
    const res = await h.send.post(body(), FORM, options);
    expect(res.status).toBe(401);
    await expectUntouched(before);
  });

  it('answers 401 to a body changed after signing', async () => {
    const before = h.fake.calls.length;
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = slackSignature('test-signing-secret-0123456789', timestamp, body());
    const tampered = body().replace('prod-db', 'quorum');
    const res = await h.send.post(tampered, FORM, { timestamp, signature });
    expect(res.status).toBe(401);
    await expectUntouched(before);
  });

  it('answers the Events API URL check', async () => {
    const check = readFileSync(`${FIXTURES}/url-verification.json`, 'utf8');
    const res = await h.send.post(check, 'application/json');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ challenge: JSON.parse(check).challenge });
  });

  it('serves /healthz from health()', async () => {
    const url = `http://127.0.0.1:${h.port}/healthz`;
    const ok = await fetch(url);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ok', database: 'ok', leader: true });
    h.health.ok = false;
    const down = await fetch(url);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'unavailable', database: 'ok', leader: true });
  });

  it('answers 404 elsewhere', async () => {
    expect((await fetch(`http://127.0.0.1:${h.port}/`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${h.port}/slack/events`)).status).toBe(404);
  });

  it('stops taking requests at once and lets the ones in flight finish', async () => {
    h.fake.fail('views.open', { kind: 'hang' });
    const responseUrl = h.responseUrl();
    await h.send.command({ userId: 'UREQ', text: '', responseUrl });
    await h.fake.waitFor((calls) => calls.some((c) => c.method === 'views.open'));
    let stopped = false;
    const stopping = h.slack.stop().then(() => (stopped = true));
    await expect(
      h.send.command({ userId: 'UREQ', text: 'help', responseUrl: h.responseUrl() }),
    ).rejects.toThrow();
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false);
    h.fake.clearFaults(); // Slack answers the hung call (by dropping it): the listener goes on
    await stopping;
    expect(h.fake.calls.some((c) => c.method === responseUrl.slice(h.fake.url.length))).toBe(true);
  });
});

describe('start-up', () => {
  it('fails when Slack refuses the bot token, before listening', async () => {
    const fake = await new FakeSlack().start();
    const core = await coreHarness();
    try {
      const slack = createSlackApp({
        core: core.core,
        botToken: 'xoxp-not-a-bot-token',
        signingSecret: 'secret-secret',
        apiUrl: fake.url,
        logger,
        health: async () => ({ ready: true, database: true, leader: true }),
      });
      await expect(slack.start(0, '127.0.0.1')).rejects.toThrow(/not_authed/);
      expect(fake.callsOf('auth.test')).toHaveLength(1);
      await slack.stop();
    } finally {
      await core.close();
      await fake.stop();
    }
  });

  it('needs a signing secret over HTTP', async () => {
    const core = await coreHarness();
    try {
      expect(() =>
        createSlackApp({
          core: core.core,
          botToken: 'xoxb-bot',
          logger,
          health: async () => ({ ready: true, database: true, leader: true }),
        }),
      ).toThrow('SLACK_SIGNING_SECRET is required unless SLACK_APP_TOKEN (Socket Mode) is set');
    } finally {
      await core.close();
    }
  });

  it('connects through Socket Mode at the API URL when an app token is given', async () => {
    const fake = await new FakeSlack().start();
    const core = await coreHarness();
    try {
      const slack = createSlackApp({
        core: core.core,
        botToken: 'xoxb-bot',
        appToken: 'xapp-1-app-token',
        apiUrl: fake.url.replace(/\/$/, ''),
        logger,
        health: async () => ({ ready: true, database: true, leader: true }),
      });
      // The fake has no WebSocket side: it holds the connection request while /healthz is
      // checked, then drops it, and start-up fails.
      fake.fail('apps.connections.open', { kind: 'hang' });
      const starting = slack.start(0, '127.0.0.1');
      const open = await fake.waitFor((calls) =>
        calls.find((c) => c.method === 'apps.connections.open'),
      );
      expect(open.token).toBe('xapp-1-app-token');
      const health = await fetch(`http://127.0.0.1:${slack.port}/healthz`);
      expect(health.status).toBe(200);
      fake.clearFaults();
      await expect(starting).rejects.toThrow();
      expect(slack.port).toBeUndefined();
      await slack.stop();
    } finally {
      await core.close();
      await fake.stop();
    }
  });
});
