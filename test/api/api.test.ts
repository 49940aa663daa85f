import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { startHallpass, type RunningHallpass } from '../../src/app';
import { parseEnv } from '../../src/config/env';
import { parseConfig } from '../../src/config/load';
import { logger } from '../../src/log';
import { ACTIONS, BLOCKS } from '../../src/slack/ids';
import { runCli } from '../cli/run';
import { FakeSlack } from '../support/fake-slack';
import { githubClaims, TestIssuer } from '../support/oidc-issuer';
import { buttonClick, SlackSender, viewOutput, viewSubmission } from '../support/slack-requests';
import { sqliteInspector, type SqlInspector } from '../support/sql-inspector';
import { tempDir } from '../support/tmp';
import { WebhookReceiver } from '../support/webhook-receiver';

const SIGNING_SECRET = 'api-e2e-signing-secret-0123456789';
const HOOK_SECRET = 'api-e2e-webhook-secret';
const AUDIENCE = 'hallpass-test';

const yaml = (hookUrl: string, issuerUrl: string) => `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
sweeper: { retryBase: 1s, retryMax: 2s }
api:
  rateLimit: { requests: 30, per: 1m }
  maxWait: 1m
  oidc:
    github: { issuer: '${issuerUrl}', audience: ${AUDIENCE} }
providers:
  hook: { type: webhook, url: '${hookUrl}', secret: '\${HOOK_SECRET}', timeout: 2s }
resources:
  - id: deploy-staging
    name: Staging deploys
    provider: hook
    minDuration: 1s
    maxDuration: 4h
    approvers: { users: [ULEAD] }
    approverChannel: CDEPLOY
    pipelines:
      - token: ci:deploy-bot
      - token: ci:noisy
  - id: prod-deploy
    name: Production deploys
    provider: hook
    minDuration: 1m
    maxDuration: 1h
    approvers: { users: [ULEAD] }
    approverChannel: CDEPLOY
    pipelines:
      - oidc: github
        claims: { repository: acme/app }
        autoApprove: { maxDuration: 15m, claims: { ref: refs/heads/main, workflow: deploy } }
  - id: prod-db
    name: Production database
    provider: hook
    maxDuration: 4h
    approvers: { users: [ULEAD] }
`;

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/**
 * The API over real HTTP against a started Hallpass: real API tokens, ID tokens signed by a test
 * issuer whose keys are served on loopback, Slack played by FakeSlack with signed clicks, and a
 * webhook provider that issues credentials.
 */
describe('the pipelines API, end to end', () => {
  let fake: FakeSlack;
  let receiver: WebhookReceiver;
  let issuer: TestIssuer;
  let tmp: ReturnType<typeof tempDir>;
  let running: RunningHallpass;
  let send: SlackSender;
  let sql: SqlInspector;
  let base: string;
  let deployBot: string;

  const ajv = new Ajv2020({ strict: false, validateFormats: false });
  const document = JSON.parse(
    readFileSync(join(__dirname, '..', '..', 'docs', 'openapi.json'), 'utf8'),
  ) as { components: object };
  ajv.addSchema({ $id: 'doc', components: document.components });
  /** Every answer must be what the committed OpenAPI document says it is. */
  const conforms = (body: unknown, schema: string) => {
    const validate = ajv.getSchema(`doc#/components/schemas/${schema}`)!;
    expect(validate(body) ? [] : validate.errors).toEqual([]);
  };

  async function call(
    method: string,
    path: string,
    token: string | undefined,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    if (res.status >= 400) {
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      conforms(parsed, 'Problem');
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }

  const token = async (identity: string, resources: string[]) =>
    (await running.core.pipelines.createToken({ identity, resources, actor: 'cli:test' })).token;

  const approverPosts = () =>
    fake.calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === 'CDEPLOY');

  beforeAll(async () => {
    fake = await new FakeSlack().start();
    receiver = await new WebhookReceiver(HOOK_SECRET).start();
    receiver.answers.grant = (body) => ({
      credentials: { text: `password: pipeline-secret-${String(body.grantId)}` },
    });
    issuer = await new TestIssuer(AUDIENCE).start();
    tmp = tempDir();
    const file = join(tmp.dir, 'hallpass.db');
    const parsed = parseEnv({
      SLACK_BOT_TOKEN: 'xoxb-api-e2e',
      SLACK_SIGNING_SECRET: SIGNING_SECRET,
      SLACK_API_URL: fake.url,
      HALLPASS_DB: file,
      PORT: '0',
      HOST: '127.0.0.1',
    });
    if (!('env' in parsed)) throw new Error(parsed.problems.join('\n'));
    const config = parseConfig(yaml(receiver.url, issuer.url), { HOOK_SECRET });
    running = await startHallpass({ env: parsed.env, config, configDir: tmp.dir, logger });
    base = `http://127.0.0.1:${running.port}`;
    send = new SlackSender(`${base}/slack/events`, SIGNING_SECRET);
    sql = sqliteInspector(file);
    deployBot = await token('ci:deploy-bot', ['deploy-staging', 'prod-db']);
  });

  afterAll(async () => {
    await sql?.close();
    await running?.stop();
    await issuer?.stop();
    await receiver?.stop();
    await fake?.stop();
    tmp?.cleanup();
  });

  it('serves its OpenAPI document without credentials, as committed', async () => {
    const res = await call('GET', '/api/v1/openapi.json', undefined);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(
      JSON.parse(readFileSync(join(__dirname, '..', '..', 'docs', 'openapi.json'), 'utf8')),
    );
  });

  it('refuses calls without credentials, or with a token that is not one, with 401', async () => {
    const none = await call('GET', '/api/v1/resources', undefined);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const forged = await call('GET', '/api/v1/resources', `${deployBot.slice(0, -4)}AAAA`);
    expect(forged.status).toBe(401);
    expect(forged.body.detail).toMatch(/unknown, revoked or expired/);
    expect(JSON.stringify(forged.body)).not.toContain(deployBot.slice(-20));
  });

  it('lists only what a token is bound to and a pipelines rule allows', async () => {
    const res = await call('GET', '/api/v1/resources', deployBot);
    expect(res.status).toBe(200);
    conforms(res.body, 'ResourceList');
    expect((res.body.resources as { id: string }[]).map((r) => r.id)).toEqual(['deploy-staging']);

    const refused = await call('POST', '/api/v1/requests', deployBot, {
      resource: 'prod-db',
      duration: '1h',
      reason: 'rotating the database keys',
    });
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ code: 'not_allowed', field: 'resource' });
    expect(refused.body.detail).toMatch(/no `pipelines` rule of the resource matches it/);

    const outOfScope = await call('POST', '/api/v1/requests', deployBot, {
      resource: 'prod-deploy',
      duration: '10m',
      reason: 'deploying build 42 to production',
    });
    expect(outOfScope.status).toBe(403);
    expect(outOfScope.body.detail).toMatch(/is not bound to prod-deploy/);
  });

  it('answers bad input with the sentences Slack users get, and the right status', async () => {
    const duration = await call('POST', '/api/v1/requests', deployBot, {
      resource: 'deploy-staging',
      duration: 'forever',
      reason: 'deploying build 42 to staging',
    });
    expect(duration.status).toBe(422);
    expect(duration.body).toMatchObject({
      code: 'bad_duration',
      field: 'duration',
      detail:
        '"forever" is not a duration. Use something like 30m, 2h or 1h30m (between 1s and 4h for deploy-staging).',
    });
    const reason = await call('POST', '/api/v1/requests', deployBot, {
      resource: 'deploy-staging',
      duration: '1h',
      reason: 'deploy',
    });
    expect(reason.body).toMatchObject({ code: 'bad_justification', field: 'reason' });
    const unknown = await call('POST', '/api/v1/requests', deployBot, {
      resource: 'deploy-stagin',
      duration: '1h',
      reason: 'deploying build 42 to staging',
    });
    expect(unknown.status).toBe(422);
    expect(unknown.body.detail).toMatch(/Did you mean deploy-staging\?/);
    const missing = await call('POST', '/api/v1/requests', deployBot, { resource: 'x' });
    expect(missing.status).toBe(422);
    expect(missing.body.errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^duration: /),
        expect.stringMatching(/^reason: /),
      ]),
    );
    const notJson = await call('POST', '/api/v1/requests', deployBot, '{"resource":');
    expect(notJson.status).toBe(400);
    const wrongType = await call('POST', '/api/v1/requests', deployBot, 'resource=x', {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(wrongType.status).toBe(415);
    expect((await call('DELETE', '/api/v1/resources', deployBot)).status).toBe(405);
    expect((await call('GET', '/api/v1/nothing', deployBot)).status).toBe(404);
  });

  it('a request approved in Slack reaches the waiting pipeline, with its credentials instead of a DM', async () => {
    const filed = await call(
      'POST',
      '/api/v1/requests',
      deployBot,
      { resource: 'deploy-staging', duration: '1h', reason: 'deploying build 42 to staging' },
      { 'idempotency-key': 'build-42' },
    );
    expect(filed.status).toBe(201);
    conforms(filed.body, 'Request');
    expect(filed.body).toMatchObject({
      status: 'pending',
      waiting: true,
      requester: 'ci:deploy-bot',
    });
    const id = String(filed.body.id);
    expect(filed.headers.get('location')).toBe(`/api/v1/requests/${id}`);
    // A retried call with the same key gets the same request, not a second one.
    const retried = await call(
      'POST',
      '/api/v1/requests',
      deployBot,
      { resource: 'deploy-staging', duration: '1h', reason: 'deploying build 42 to staging' },
      { 'idempotency-key': 'build-42' },
    );
    expect(retried.body.id).toBe(id);

    const post = await fake.waitFor(() => approverPosts()[0]);
    expect(JSON.stringify(post.args.blocks)).toContain('pipeline `ci:deploy-bot`');

    const waited = call('GET', `/api/v1/requests/${id}/wait?timeout=20s`, deployBot);
    await new Promise((r) => setTimeout(r, 300));
    const clickedAt = Date.now();
    const click = await send.interaction(
      buttonClick({
        userId: 'ULEAD',
        actionId: ACTIONS.approve,
        value: id,
        source: { kind: 'message', responseUrl: `${fake.url}response/1`, channelId: 'CDEPLOY' },
      }),
    );
    expect(click.status).toBe(200);
    const answer = await waited;
    const wokeAfterMs = Date.now() - clickedAt;
    expect(answer.status).toBe(200);
    conforms(answer.body, 'Request');
    const grant = answer.body.grant as Record<string, unknown>;
    expect(answer.body).toMatchObject({ status: 'approved', waiting: false, decidedBy: 'ULEAD' });
    expect(grant).toMatchObject({ status: 'active', resource: 'deploy-staging' });
    expect(grant.credentials).toBe(`password: pipeline-secret-${String(grant.id)}`);
    // Woken by the commit, not by the replica fallback (5 s).
    expect(wokeAfterMs).toBeLessThan(4000);

    const grantId = String(grant.id);
    const read = await call('GET', `/api/v1/grants/${grantId}`, deployBot);
    conforms(read.body, 'Grant');
    expect(read.body.credentials).toBe(grant.credentials);
    // Nothing was sent to a pipeline as if it were a Slack user, and the secret never went to Slack.
    expect(
      fake.calls.filter((c) => String(c.args.channel ?? c.args.users).includes('ci:')),
    ).toEqual([]);
    expect(JSON.stringify(fake.calls)).not.toContain('pipeline-secret');

    const revoked = await call('POST', `/api/v1/grants/${grantId}/revoke`, deployBot, {
      reason: 'deploy finished',
    });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ status: 'revoking' });
    expect(revoked.body.credentials).toBeUndefined();
    await waitUntil(() => receiver.callsOf('revoke').find((c) => c.body.grantId === grantId));
    await waitUntil(
      async () =>
        (await call('GET', `/api/v1/grants/${grantId}`, deployBot)).body.status === 'revoked',
    );
    expect(await sql.value('SELECT count(*) FROM pipeline_credentials')).toBe(0);
    const events = await sql.all<{ action: string; details: string }>(
      'SELECT action, details FROM audit_events WHERE request_id = ? ORDER BY seq',
      id,
    );
    expect(events.map((e) => e.action)).toEqual(
      expect.arrayContaining(['request.created', 'request.approved', 'grant.revoke_requested']),
    );
    expect(JSON.parse(events[0]!.details)).toMatchObject({ pipeline: { via: 'token' } });
    expect(events.find((e) => e.action === 'grant.revoke_requested')!.details).toContain(
      '"via":"api"',
    );
  });

  it('a wait answers when its timeout passes; cancelling twice is a conflict; others see nothing', async () => {
    const filed = await call('POST', '/api/v1/requests', deployBot, {
      resource: 'deploy-staging',
      duration: '30m',
      reason: 'deploying build 43 to staging',
    });
    const id = String(filed.body.id);
    const started = Date.now();
    const waited = await call('GET', `/api/v1/requests/${id}/wait?timeout=1s`, deployBot);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(waited.body).toMatchObject({ status: 'pending', waiting: true });
    expect(
      (await call('GET', `/api/v1/requests/${id}/wait?timeout=2h`, deployBot)).body,
    ).toMatchObject({ code: 'bad_timeout' });

    const other = await token('ci:other-bot', ['deploy-staging']);
    const peek = await call('GET', `/api/v1/requests/${id}`, other);
    expect(peek.status).toBe(404);
    expect((await call('POST', `/api/v1/requests/${id}/cancel`, other)).status).toBe(404);

    const cancelled = await call('POST', `/api/v1/requests/${id}/cancel`, deployBot);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', waiting: false });
    const again = await call('POST', `/api/v1/requests/${id}/cancel`, deployBot);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({
      code: 'bad_state',
      detail: `Request ${id} is already cancelled.`,
    });
  });

  describe('with ID tokens from CI', () => {
    const main = githubClaims('acme/app', 'refs/heads/main', 'deploy');

    it('auto-approves the deploy workflow on main for up to 15 minutes, and nothing more', async () => {
      const idToken = await issuer.sign(main);
      const list = await call('GET', '/api/v1/resources', idToken);
      expect(list.body.resources).toEqual([
        expect.objectContaining({ id: 'prod-deploy', autoApprovedUpTo: '15m' }),
      ]);
      const auto = await call('POST', '/api/v1/requests', idToken, {
        resource: 'prod-deploy',
        duration: '15m',
        reason: 'deploying v1.2.3 to production',
      });
      expect(auto.status).toBe(201);
      expect(auto.body).toMatchObject({
        status: 'approved',
        autoApproved: true,
        decidedBy: 'hallpass',
        requester: 'oidc:github:repo:acme/app:ref:refs/heads/main',
      });
      const settled = await call('GET', `/api/v1/requests/${String(auto.body.id)}/wait`, idToken);
      expect((settled.body.grant as { status: string }).status).toBe('active');

      const longer = await call('POST', '/api/v1/requests', idToken, {
        resource: 'prod-deploy',
        duration: '30m',
        reason: 'a long migration on production',
      });
      expect(longer.body).toMatchObject({ status: 'pending', autoApproved: false });

      const branch = await issuer.sign(githubClaims('acme/app', 'refs/heads/feature', 'deploy'));
      const fromBranch = await call('POST', '/api/v1/requests', branch, {
        resource: 'prod-deploy',
        duration: '10m',
        reason: 'deploying a feature branch',
      });
      expect(fromBranch.body).toMatchObject({ status: 'pending', autoApproved: false });

      const elsewhere = await issuer.sign(githubClaims('evil/fork', 'refs/heads/main', 'deploy'));
      const refused = await call('POST', '/api/v1/requests', elsewhere, {
        resource: 'prod-deploy',
        duration: '10m',
        reason: 'deploying from a fork',
      });
      expect(refused.status).toBe(403);
    });

    it.each([
      [
        'a wrong audience',
        () => issuer.sign(main, { audience: 'someone-else' }),
        /another audience; Hallpass accepts "hallpass-test"/,
      ],
      [
        // Any other service the token is for could send it on to act as the pipeline here.
        'a token for other audiences too',
        () => issuer.sign(main, { audience: ['https://sts.example.com', 'hallpass-test'] }),
        /also for 1 other audience\(s\); Hallpass accepts a token for "hallpass-test" alone/,
      ],
      ['an expired token', () => issuer.sign(main, { expiresIn: -120 }), /has expired/],
      [
        'a token issued further in the future than the clock skew',
        () => issuer.sign(main, { issuedIn: 120, expiresIn: 600 }),
        /was issued at .*, later than now; check the clocks of the CI and Hallpass/,
      ],
      [
        'a token not valid until later than the clock skew',
        () => issuer.sign(main, { validIn: 120, expiresIn: 600 }),
        /is not valid before .*; check the clocks of the CI and Hallpass/,
      ],
      [
        'a key the issuer never published',
        () => issuer.sign(main, { foreignKey: true }),
        /signature does not verify/,
      ],
      ['alg none', async () => issuer.unsigned(main), /signed with "none"/],
      [
        'an issuer nobody configured',
        () => issuer.sign(main, { issuer: 'https://token.example.com' }),
        /is not one Hallpass trusts/,
      ],
      ['no JWT at all', async () => 'not-a-token', /neither a Hallpass API token nor a JWT/],
    ])('refuses %s with 401 and says why', async (_, make, detail) => {
      const res = await call('GET', '/api/v1/resources', await make());
      expect(res.status).toBe(401);
      expect(res.body.detail).toMatch(detail);
    });

    it('fetched the issuer keys once for all those tokens', () => {
      // Discovery once, the key set once: a forged kid would not make Hallpass fetch again within
      // jose's cooldown.
      expect(issuer.jwksFetches).toBeLessThanOrEqual(2);
    });
  });

  it('slows a caller down with 429 and Retry-After past its rate', async () => {
    const noisy = await token('ci:noisy', ['deploy-staging']);
    const statuses: number[] = [];
    let last: Answer | undefined;
    for (let i = 0; i < 31; i++) {
      last = await call('GET', '/api/v1/resources', noisy);
      statuses.push(last.status);
    }
    expect(statuses.slice(0, 30).every((s) => s === 200)).toBe(true);
    expect(last!.status).toBe(429);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another pipeline is not slowed down by it.
    expect((await call('GET', '/api/v1/resources', deployBot)).status).toBe(200);
  });

  it('a revoked token stops working at once', async () => {
    const doomed = await running.core.pipelines.createToken({
      identity: 'ci:doomed',
      resources: ['deploy-staging'],
      actor: 'cli:test',
    });
    expect((await call('GET', '/api/v1/resources', doomed.token)).status).toBe(200);
    await running.core.pipelines.revokeToken(doomed.info.id, 'cli:test');
    expect((await call('GET', '/api/v1/resources', doomed.token)).status).toBe(401);
  });

  describe('hallpass request, the CLI client', () => {
    const env = (tokenValue: string) => ({ HALLPASS_URL: base, HALLPASS_TOKEN: tokenValue });

    it('exits 0 with the grant and its credentials when access is granted', async () => {
      const idToken = await issuer.sign(githubClaims('acme/app', 'refs/heads/main', 'deploy'));
      const result = await runCli(
        ['request', 'prod-deploy', '5m', '--reason', 'deploying v1.2.4 to production', '--wait'],
        env(idToken),
      );
      expect(result.stderr).toMatch(/^granted: gr_/);
      expect(result.code).toBe(0);
      const printed = JSON.parse(result.stdout) as { grant: { credentials: string } };
      expect(printed.grant.credentials).toMatch(/^password: pipeline-secret-gr_/);
    });

    it('exits 3 when an approver denies it in Slack while it waits', async () => {
      const before = approverPosts().length;
      const run = runCli(
        [
          'request',
          'deploy-staging',
          '20m',
          '--reason',
          'deploying build 44 to staging',
          '--wait',
          '--timeout',
          '30s',
        ],
        env(deployBot),
      );
      await fake.waitFor(() => approverPosts().length > before || undefined);
      const id = await waitUntil(() =>
        sql.value<string | undefined>(
          "SELECT id FROM requests WHERE status = 'pending' AND justification LIKE '%build 44%'",
        ),
      );
      await send.interaction(
        buttonClick({
          userId: 'ULEAD',
          actionId: ACTIONS.deny,
          value: id,
          source: { kind: 'message', responseUrl: `${fake.url}response/2`, channelId: 'CDEPLOY' },
        }),
      );
      // Deny opens a form for the reason in Slack; the decision is its signed submission.
      const open = await fake.waitFor((calls) => calls.find((c) => c.method === 'views.open'));
      const values = {
        [BLOCKS.reason]: {
          [ACTIONS.reasonInput]: { type: 'plain_text_input', value: 'not today' },
        },
      };
      const view = viewOutput(open.args.view as Record<string, unknown>, { id: 'VDENY1', values });
      expect((await send.interaction(viewSubmission({ userId: 'ULEAD', view }))).status).toBe(200);
      const result = await run;
      expect(result.code).toBe(3);
      expect(result.stderr).toBe(`${id} was denied\n`);
    });

    it('exits 4 when no decision comes in time, and withdraws the request', async () => {
      const result = await runCli(
        [
          'request',
          'deploy-staging',
          '20m',
          '--reason',
          'deploying build 45 to staging',
          '--wait',
          '--timeout',
          '2s',
        ],
        env(deployBot),
      );
      expect(result.code).toBe(4);
      const printed = JSON.parse(result.stdout) as { id: string; status: string };
      expect(printed.status).toBe('cancelled');
      expect(result.stderr).toBe(`${printed.id}: no decision in time, so it was withdrawn\n`);
    });

    it('exits 1 with the API’s own sentence on a refusal, and 2 on usage errors', async () => {
      const refused = await runCli(
        ['request', 'prod-db', '1h', '--reason', 'rotating the database keys'],
        env(deployBot),
      );
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^hallpass: request: ci:deploy-bot may not request prod-db/);
      const usage = await runCli(['request', 'prod-db'], env(deployBot));
      expect(usage.code).toBe(2);
      const unset = await runCli(['request', 'prod-db', '1h', '--reason', 'x'], {});
      expect(unset.code).toBe(2);
      expect(unset.stderr).toMatch(/HALLPASS_URL/);
    });
  });
});

async function waitUntil<T>(
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found) return found;
    if (Date.now() > deadline) throw new Error('waitUntil timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
