import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { HttpClient } from '../../src/http/client';
import { testCertificate } from '../support/tls';

interface Seen {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  port: number;
}

/** A loopback server that records what it is sent and answers with `answer`. */
async function listen(
  answer: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({
        method: req.method!,
        path: req.url!,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
        port: req.socket.remotePort!,
      });
      answer(req, res);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const stop = (server: Server) => {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(resolve));
};

describe('HttpClient', () => {
  const client = new HttpClient();
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map(stop));
  });
  afterAll(() => client.close());

  async function serve(answer: (req: IncomingMessage, res: ServerResponse) => void) {
    const s = await listen(answer);
    servers.push(s.server);
    return s;
  }

  it('sends the method, headers, path and body with its length, and reads the whole answer', async () => {
    const s = await serve((_req, res) => {
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.writeHead(201, 'Made', { 'content-type': 'text/plain' });
      res.write('half, ');
      res.end('and the rest: é');
    });
    const answer = await client.call(new URL(`${s.url}/api/x?y=1`), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-one': 'two' },
      body: '{"ünicode":true}',
      signal: new AbortController().signal,
    });
    expect(s.seen[0]).toMatchObject({
      method: 'POST',
      path: '/api/x?y=1',
      body: '{"ünicode":true}',
      headers: { 'content-type': 'application/json', 'x-one': 'two', 'content-length': '17' },
    });
    expect(answer.status).toBe(201);
    expect(answer.statusText).toBe('Made');
    expect(answer.body.toString()).toBe('half, and the rest: é');
    expect(answer.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(answer.rawHeaders).toEqual(expect.arrayContaining(['set-cookie', 'a=1', 'b=2']));
  });

  it('keeps the connection for the next call', async () => {
    const s = await serve((_req, res) => res.end('ok'));
    const call = () =>
      client.call(new URL(s.url), {
        method: 'GET',
        headers: {},
        signal: new AbortController().signal,
      });
    await call();
    await call();
    expect(s.seen).toHaveLength(2);
    expect(s.seen[1]!.port).toBe(s.seen[0]!.port);
  });

  it('returns a redirect as it came rather than following it', async () => {
    const s = await serve((_req, res) => res.writeHead(302, { location: '/elsewhere' }).end());
    const answer = await client.call(new URL(s.url), {
      method: 'POST',
      headers: {},
      body: 'x',
      signal: new AbortController().signal,
    });
    expect(answer.status).toBe(302);
    expect(s.seen.map((r) => r.path)).toEqual(['/']);
  });

  it('rejects with the abort reason and drops the request when the signal fires', async () => {
    const s = await serve(() => undefined);
    const controller = new AbortController();
    const pending = client.call(new URL(s.url), {
      method: 'POST',
      headers: {},
      body: 'x',
      signal: controller.signal,
    });
    while (s.seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    const reason = new Error('gave up');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    const already = AbortSignal.abort(new Error('before it began'));
    await expect(
      client.call(new URL(s.url), { method: 'GET', headers: {}, signal: already }),
    ).rejects.toThrow('before it began');
    expect(s.seen).toHaveLength(1);
  });

  it('rejects an answer cut off before its end', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part');
      setTimeout(() => res.socket?.destroy(), 10);
    });
    await expect(
      client.call(new URL(s.url), {
        method: 'GET',
        headers: {},
        signal: new AbortController().signal,
      }),
    ).rejects.toThrow();
  });

  it('speaks TLS to https URLs and refuses a certificate nobody vouches for', async () => {
    const tls = createTlsServer(testCertificate(), (_req, res) => res.end('secret'));
    tls.listen(0, '127.0.0.1');
    await once(tls, 'listening');
    try {
      const url = new URL(`https://127.0.0.1:${(tls.address() as AddressInfo).port}/`);
      await expect(
        client.call(url, { method: 'GET', headers: {}, signal: new AbortController().signal }),
      ).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    } finally {
      tls.closeAllConnections();
      await new Promise((resolve) => tls.close(resolve));
    }
  });
});
