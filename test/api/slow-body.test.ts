import { request as httpRequest } from 'node:http';
import { DomainError } from '../../src/core/errors';
import { Sealer } from '../../src/secrets/seal';
import { coreHarness, type CoreHarness } from '../support/core';
import { githubClaims, TestIssuer } from '../support/oidc-issuer';
import { serveApi, type ServedApi } from './served-api';

/**
 * A call is authenticated when its headers arrive, but its body may come in much later. A token
 * revoked, or an ID token run out, in between must file nothing: the call is answered as one sent
 * after it would be (401), and `hallpass tokens revoke`, which cancels the token's waiting
 * requests, finds none appear after it.
 */
const AUDIENCE = 'hallpass-test';

const yaml = (issuerUrl: string) => `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
api:
  oidc:
    github: { issuer: '${issuerUrl}', audience: ${AUDIENCE}, clockSkew: 1s }
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
      - oidc: github
        claims: { repository: acme/app }
`;

const BODY = JSON.stringify({
  resource: 'deploy-staging',
  duration: '1h',
  reason: 'deploying build 42 to staging',
});

/**
 * Sends the headers and half the body of `POST /requests` now; `finish` sends the rest and
 * resolves with the answer.
 */
function startFiling(base: string, bearer: string): { finish(): Promise<number> } {
  const half = Math.floor(BODY.length / 2);
  const req = httpRequest(new URL(`${base}/requests`), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${bearer}`,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(BODY),
    },
  });
  const answered = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
  req.write(BODY.slice(0, half));
  return {
    finish() {
      req.end(BODY.slice(half));
      return answered;
    },
  };
}

describe('a call whose credential ends while its body is coming in', () => {
  let h: CoreHarness;
  let issuer: TestIssuer;
  let served: ServedApi;

  beforeEach(async () => {
    issuer = await new TestIssuer(AUDIENCE).start();
    h = await coreHarness(yaml(issuer.url));
    served = await serveApi(h.core, new Sealer('slow-body-sealing-secret'));
  });
  afterEach(async () => {
    await served.close();
    await issuer.stop();
    await h.close();
  });

  it('files nothing when its API token is revoked meanwhile', async () => {
    const { token, info } = await h.core.pipelines.createToken({
      identity: 'ci:deploy-bot',
      resources: ['deploy-staging'],
      actor: 'cli:test',
    });
    const filing = startFiling(served.base, token);
    await new Promise((r) => setTimeout(r, 300));
    const revocation = await h.core.pipelines.revokeToken(info.id, 'cli:admin');
    expect(revocation.cancelled).toEqual([]);
    expect(await filing.finish()).toBe(401);
    expect(await h.sql.value('SELECT count(*) FROM requests')).toBe(0);
  });

  it('files nothing when its ID token runs out meanwhile', async () => {
    const idToken = await issuer.sign(githubClaims('acme/app', 'refs/heads/main', 'deploy'), {
      expiresIn: 1,
    });
    const filing = startFiling(served.base, idToken);
    // Past its expiry and the second of clock skew allowed.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(await filing.finish()).toBe(401);
    expect(await h.sql.value('SELECT count(*) FROM requests')).toBe(0);
  });

  it('is refused in the filing itself when the token was revoked after the call was authenticated', async () => {
    const { token, info } = await h.core.pipelines.createToken({
      identity: 'ci:deploy-bot',
      resources: ['deploy-staging'],
      actor: 'cli:test',
    });
    const caller = (await h.core.pipelines.authenticate(token))!;
    const asked = {
      requester: caller.id,
      resourceId: 'deploy-staging',
      duration: '1h',
      justification: 'deploying build 42 to staging',
      caller,
    };
    const filed = await h.core.createRequest(asked);
    await h.core.pipelines.revokeToken(info.id, 'cli:admin');
    const refused = h.core.createRequest({ ...asked, justification: 'deploying build 43' });
    await expect(refused).rejects.toThrow(DomainError);
    await expect(refused).rejects.toMatchObject({ code: 'invalid_token' });
    expect(await h.sql.value('SELECT count(*) FROM requests')).toBe(1);
    expect(await h.sql.value('SELECT status FROM requests WHERE id = ?', filed.id)).toBe(
      'cancelled',
    );
  });
});
