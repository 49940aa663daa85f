import { request as httpRequest } from 'node:http';
import { Sealer } from '../../src/secrets/seal';
import { coreHarness, type CoreHarness } from '../support/core';
import { serveApi, type ServedApi } from './served-api';

/**
 * Bad input gets a clear, specific problem document: a body over the API's limit (64 KiB) is
 * answered `413 too_large`, not with a reset connection, whether its length was announced or it
 * came in chunks.
 */
const yaml = `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: deploy-staging
    name: Staging deploys
    provider: hook
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    pipelines:
      - token: ci:deploy-bot
`;

/** One POST with a raw body; resolves with the status and body, or the socket error. */
function post(
  base: string,
  path: string,
  bearer: string,
  body: string,
  chunked: boolean,
): Promise<{ status: number; type: string | undefined; body: string } | { error: string }> {
  const url = new URL(`${base}${path}`);
  return new Promise((resolve) => {
    const req = httpRequest(
      url,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${bearer}`,
          'content-type': 'application/json',
          ...(chunked ? {} : { 'content-length': Buffer.byteLength(body) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: res.headers['content-type'],
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', (err) => resolve({ error: err.message }));
      },
    );
    req.on('error', (err) =>
      resolve({ error: `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}` }),
    );
    if (!chunked) return req.end(body);
    const half = Math.floor(body.length / 2);
    req.write(body.slice(0, half));
    req.end(body.slice(half));
  });
}

describe('a body over the size limit', () => {
  let h: CoreHarness;
  let served: ServedApi;

  beforeEach(async () => {
    h = await coreHarness(yaml);
    served = await serveApi(h.core, new Sealer('body-limit-sealing-secret'));
  });
  afterEach(async () => {
    await served.close();
    await h.close();
  });

  it.each([
    ['its length announced', false],
    ['sent in chunks', true],
  ])('%s, is answered 413 application/problem+json and files nothing', async (_, chunked) => {
    const { token } = await h.core.pipelines.createToken({
      identity: 'ci:deploy-bot',
      resources: ['deploy-staging'],
      actor: 'cli:test',
    });
    const body = JSON.stringify({
      resource: 'deploy-staging',
      duration: '1h',
      reason: `deploying build 42 ${'x'.repeat(100 * 1024)}`,
    });
    const answer = await post(served.base, '/requests', token, body, chunked);
    expect(answer).toEqual({
      status: 413,
      type: 'application/problem+json',
      body: expect.stringContaining('"code":"too_large"'),
    });
    expect(await h.sql.value('SELECT count(*) FROM requests')).toBe(0);
  });
});
