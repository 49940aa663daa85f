import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { logger } from '../../src/log';
import { createSlackClient } from '../../src/slack/app';
import { slackFetch } from '../../src/slack/slack-fetch';
import { FakeSlack } from '../support/fake-slack';

type Failure = { method: string; error: string };

describe('the Web API client over slackFetch, against a loopback Slack', () => {
  let fake: FakeSlack;
  let failures: Failure[];
  const client = (apiUrl = fake.url) =>
    createSlackClient({
      botToken: 'xoxb-test-token',
      apiUrl,
      logger,
      observe: (f) => failures.push(f),
    });

  beforeEach(async () => {
    fake = await new FakeSlack().start();
    failures = [];
  });
  afterEach(() => fake.stop());

  it('sends the call form-encoded with the bot token and hands back what Slack answered', async () => {
    const answer = await client().chat.postMessage({
      channel: 'CAPPROVERS',
      text: 'hello',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: 'hi' } }],
    });
    expect(answer).toMatchObject({ ok: true, channel: 'CAPPROVERS' });
    expect(fake.callsOf('chat.postMessage')[0]).toMatchObject({
      token: 'xoxb-test-token',
      args: { channel: 'CAPPROVERS', blocks: [{ type: 'section' }] },
    });
    expect(failures).toEqual([]);
  });

  it.each([
    [{ kind: 'error', error: 'channel_not_found' } as const, 'channel_not_found'],
    [{ kind: 'ratelimited', retryAfter: 30 } as const, 'ratelimited'],
    [{ kind: 'status', status: 500 } as const, 'http_500'],
  ])('fails the call on %j and tells the observer %s', async (fault, error) => {
    fake.fail('chat.postMessage', fault);
    await expect(client().chat.postMessage({ channel: 'C1', text: 'x' })).rejects.toThrow();
    expect(failures).toEqual([{ method: 'chat.postMessage', error }]);
  });

  it('tells the observer Slack was unreachable when nothing listens', async () => {
    const apiUrl = fake.url;
    await fake.stop();
    await expect(client(apiUrl).chat.postMessage({ channel: 'C1', text: 'x' })).rejects.toThrow();
    expect(failures).toEqual([{ method: 'chat.postMessage', error: 'unreachable' }]);
  });
});

describe('slackFetch on its own', () => {
  let server: Server;
  let url: string;
  let seen: { headers: IncomingMessage['headers']; body: string }[];
  let answer: (res: ServerResponse) => void;
  let failures: Failure[];
  const call = slackFetch((f) => failures.push(f));

  beforeEach(async () => {
    seen = [];
    failures = [];
    answer = (res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
        answer(res);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('posts a reply to a response_url as Bolt’s respond() does, and reads it like fetch', async () => {
    answer = (res) =>
      res.writeHead(200, { 'content-type': 'application/json', 'x-extra': 'yes' }).end('{"ok":1}');
    const res = await call(`${url}/actions/T1/123/abc`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"text":"filed"}',
    });
    expect(seen[0]).toMatchObject({
      body: '{"text":"filed"}',
      headers: { 'content-type': 'application/json', 'content-length': '16' },
    });
    expect(res.ok).toBe(true);
    expect(res.headers.get('X-Extra')).toBe('yes');
    expect(Object.fromEntries(res.headers.entries())).toMatchObject({ 'x-extra': 'yes' });
    expect(await res.json()).toEqual({ ok: 1 });
    expect(await res.text()).toBe('{"ok":1}');
    expect(Buffer.from(await res.arrayBuffer()).toString()).toBe('{"ok":1}');
  });

  it('names an expired response_url in what it tells the observer', async () => {
    answer = (res) => res.writeHead(404).end('expired_url');
    const res = await call(`${url}/actions/T1/123/abc`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(404);
    expect(res.ok).toBe(false);
    expect(failures).toEqual([{ method: 'response_url', error: 'http_404' }]);
  });

  it('refuses a redirect where the caller asked fetch to, and never follows one', async () => {
    answer = (res) => res.writeHead(302, { location: `${url}/elsewhere` }).end();
    await expect(
      call(`${url}/api/chat.postMessage`, { method: 'POST', body: 'a=1', redirect: 'error' }),
    ).rejects.toThrow(TypeError);
    const manual = await call(`${url}/api/chat.postMessage`, { method: 'POST', body: 'a=1' });
    expect(manual.status).toBe(302);
    expect(seen).toHaveLength(2);
  });

  it('sends a multipart body (a file upload) through global fetch, read the same way', async () => {
    const form = new FormData();
    form.append('file', new Blob(['a,b\n1,2\n']), 'report.csv');
    const res = await call(`${url}/upload`, { method: 'POST', body: form });
    expect(seen[0]!.headers['content-type']).toMatch(/^multipart\/form-data; boundary=/);
    expect(seen[0]!.body).toContain('a,b\n1,2\n');
    expect(await res.text()).toBe('ok');
  });

  it('gives up on a call when its signal fires', async () => {
    answer = () => undefined;
    const controller = new AbortController();
    const pending = call(`${url}/api/chat.postMessage`, {
      method: 'POST',
      body: 'a=1',
      signal: controller.signal,
    });
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort(new Error('too slow'));
    await expect(pending).rejects.toThrow('too slow');
    expect(failures).toEqual([{ method: 'chat.postMessage', error: 'unreachable' }]);
  });
});
