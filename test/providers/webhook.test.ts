import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeError } from '../../src/jobs/provider-call';
import { webhookAdapter, webhookSignature, type WebhookTarget } from '../../src/providers/webhook';
import type { Provider } from '../../src/providers/types';
import { verifyHallpassSignature, WebhookReceiver } from '../support/webhook-receiver';
import { callContext, providerContract } from './contract';

const SECRET = 'whsec-0123456789abcdef';
const TARGET: WebhookTarget = { role: 'analytics_ro' };

function webhook(url: string, extra: Record<string, unknown> = {}): Provider<WebhookTarget> {
  const config = webhookAdapter.configSchema.parse({ url, secret: SECRET, ...extra });
  return webhookAdapter.create(config, { configDir: __dirname });
}

providerContract('webhook', async () => {
  const receiver = await new WebhookReceiver(SECRET).start();
  return {
    provider: webhook(receiver.url),
    target: TARGET,
    held: async (ctx) => (receiver.held.has(ctx.grantId) ? 1 : 0),
    expiryHeld: async (ctx) => {
      const at = receiver.held.get(ctx.grantId);
      return at === undefined ? null : new Date(at);
    },
    stalled: async () => {
      for (let i = 0; i < 3; i++) receiver.fail({ kind: 'hang' });
      return { provider: webhook(receiver.url), release: async () => receiver.clearFaults() };
    },
    stop: () => receiver.stop(),
  };
});

describe('webhook provider', () => {
  let receiver: WebhookReceiver;
  let provider: Provider<WebhookTarget>;

  beforeEach(async () => {
    receiver = await new WebhookReceiver(SECRET).start();
    provider = webhook(receiver.url, { headers: { 'X-Team': 'platform' } });
  });
  afterEach(() => receiver.stop());

  it('POSTs the documented JSON, signed the documented way', async () => {
    const ctx = callContext(TARGET);
    await provider.grant(ctx);
    const [call] = receiver.calls;
    expect(call?.verified).toBe(true);
    expect(call?.headers['x-team']).toBe('platform');
    expect(call?.headers['content-type']).toBe('application/json');
    expect(call?.body).toEqual({
      action: 'grant',
      grantId: ctx.grantId,
      requestId: ctx.requestId,
      resource: { id: 'contract', target: TARGET },
      user: { slackId: ctx.user.slackId, email: ctx.user.email },
      startsAt: ctx.startsAt.toISOString(),
      expiresAt: ctx.expiresAt.toISOString(),
    });
    const timestamp = call!.headers['x-hallpass-timestamp'] as string;
    expect(call?.headers['x-hallpass-signature']).toBe(
      webhookSignature(SECRET, timestamp, call!.raw),
    );
  });

  it('sends the state of the first grant back, and null for an unknown email', async () => {
    const ctx = callContext(TARGET, { state: { key: 'k-1' }, user: { slackId: 'U1' } });
    await provider.revoke(ctx);
    expect(receiver.calls[0]?.body).toMatchObject({
      action: 'revoke',
      state: { key: 'k-1' },
      user: { slackId: 'U1', email: null },
    });
  });

  it('hands back credentials and state from the answer', async () => {
    receiver.answers.grant = () => ({ state: { keyId: 'k1' }, credentials: 'token: abc' });
    expect(await provider.grant(callContext(TARGET))).toEqual({
      state: { keyId: 'k1' },
      credentials: { text: 'token: abc' },
    });
    receiver.answers.grant = () => ({ credentials: { text: 'use the VPN' } });
    expect(await provider.grant(callContext(TARGET))).toEqual({
      credentials: { text: 'use the VPN' },
    });
  });

  it('fails with the status and the start of the body, never the secret', async () => {
    receiver.fail({ kind: 'status', status: 503, body: `down ${'x'.repeat(500)}` });
    const error = await provider.grant(callContext(TARGET)).catch((err: Error) => err);
    expect((error as Error).message).toBe(`webhook answered 503: down ${'x'.repeat(195)}`);
    expect((error as Error).message).not.toContain(SECRET);
  });

  it('counts a redirect as a failure rather than following it', async () => {
    receiver.fail({ kind: 'status', status: 302 });
    await expect(provider.revoke(callContext(TARGET))).rejects.toThrow('webhook answered 302');
  });

  it('fails on a signature the receiver refuses', async () => {
    const wrong = webhookAdapter.create(
      webhookAdapter.configSchema.parse({ url: receiver.url, secret: 'another-secret-value' }),
      { configDir: __dirname },
    );
    await expect(wrong.grant(callContext(TARGET))).rejects.toThrow(/^webhook answered 401/);
    expect(receiver.held.size).toBe(0);
  });

  it('fails when nobody listens, naming the network error', async () => {
    const url = receiver.url;
    await receiver.stop();
    await expect(webhook(url).grant(callContext(TARGET))).rejects.toThrow(
      /^webhook grant request failed: ECONNREFUSED/,
    );
  });

  it('fails when the answer is lost, and the retry finds the grant already there', async () => {
    const ctx = callContext(TARGET);
    receiver.fail({ kind: 'drop' });
    await expect(provider.grant(ctx)).rejects.toThrow(/webhook grant request failed/);
    expect(receiver.held.has(ctx.grantId)).toBe(true);
    await provider.grant(ctx);
    expect(receiver.callsOf('grant')).toHaveLength(2);
    expect(receiver.held.size).toBe(1);
  });

  it('refuses a malformed JSON answer but ignores a plain-text one', async () => {
    receiver.answers.grant = () => ({ credentials: 42 });
    await expect(provider.grant(callContext(TARGET))).rejects.toThrow(
      'webhook answer has a bad credentials',
    );

    const server = await plainServer((res) => res.end('{"state": '));
    await expect(webhook(server.url).grant(callContext(TARGET))).rejects.toThrow(
      /^webhook answer is not valid JSON/,
    );
    await server.close();

    // A credential templated in without quotes: V8's own message would quote the answer around
    // the bad token, and that password was never registered for scrubbing.
    const unquoted = await plainServer((res) => res.end('{"credentials": Hunter2-xyQ9pL7}'));
    const refused = await webhook(unquoted.url)
      .grant(callContext(TARGET))
      .then(
        () => new Error('no error'),
        (err: unknown) => err,
      );
    expect(describeError(refused)).toMatch(/^webhook answer is not valid JSON/);
    expect(describeError(refused)).not.toContain('Hunter2');
    await unquoted.close();

    const ok = await plainServer((res) => res.end('OK'));
    await expect(webhook(ok.url).grant(callContext(TARGET))).resolves.toEqual({});
    await expect(webhook(ok.url).check!(callContext(TARGET))).rejects.toThrow(
      'webhook answered check without a boolean "present"',
    );
    await ok.close();
  });
});

describe('the documented signature check', () => {
  const body = '{"action":"grant"}';
  const now = 1_800_000_000;
  const signed = (at: number) => webhookSignature(SECRET, String(at), body);

  it('accepts a fresh, correct signature', () => {
    expect(verifyHallpassSignature(SECRET, String(now), signed(now), body, now)).toBe(true);
  });

  it('rejects a changed body, a wrong secret, an old or future timestamp, and missing headers', () => {
    expect(verifyHallpassSignature(SECRET, String(now), signed(now), `${body} `, now)).toBe(false);
    expect(verifyHallpassSignature('other-secret', String(now), signed(now), body, now)).toBe(
      false,
    );
    expect(verifyHallpassSignature(SECRET, String(now - 301), signed(now - 301), body, now)).toBe(
      false,
    );
    expect(verifyHallpassSignature(SECRET, String(now + 301), signed(now + 301), body, now)).toBe(
      false,
    );
    expect(verifyHallpassSignature(SECRET, undefined, signed(now), body, now)).toBe(false);
    expect(verifyHallpassSignature(SECRET, String(now), undefined, body, now)).toBe(false);
    expect(verifyHallpassSignature(SECRET, String(now), 'v1=00', body, now)).toBe(false);
  });
});

/** A bare HTTP server answering 200 with whatever `reply` writes. */
async function plainServer(reply: (res: import('node:http').ServerResponse) => void) {
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      reply(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
