import { generateKeyPairSync } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatIssues } from '../../src/config/load';
import { oktaGroupAdapter, type OktaGroupTarget } from '../../src/providers/okta-group/adapter';
import type { Provider, ProviderCallContext } from '../../src/providers/types';
import { FakeOkta, type OktaUser } from '../support/fake-okta';
import { callContext, providerContract } from './contract';

/** Shaped like an Okta API token: 00 and 40 letters, digits, - and _. */
const TOKEN = '00Qf3x_hallpass-test-token-9aZ8bY7cX6dW5eV';

type Ctx = ProviderCallContext<OktaGroupTarget>;

function okta(fake: FakeOkta, auth: Record<string, unknown> = { token: TOKEN }) {
  const config = oktaGroupAdapter.configSchema.parse({ orgUrl: fake.url, ...auth });
  return oktaGroupAdapter.create(config, { configDir: __dirname });
}

function userByLogin(fake: FakeOkta, login: string): OktaUser | undefined {
  return [...fake.users.values()].find((user) => user.profile.login === login);
}

/**
 * The contract invents a new person for every call; here each has an Okta account (login = their
 * email) before the provider looks for it, as everyone in a company would.
 */
function enrolled(fake: FakeOkta, provider: Provider<OktaGroupTarget>): Provider<OktaGroupTarget> {
  const enrol = (ctx: Ctx) => {
    const email = ctx.user.email;
    if (email && !userByLogin(fake, email)) fake.addUser(email);
  };
  return {
    ...provider,
    grant: async (ctx) => {
      enrol(ctx);
      return provider.grant(ctx);
    },
    revoke: async (ctx) => {
      enrol(ctx);
      return provider.revoke(ctx);
    },
    check: async (ctx) => {
      enrol(ctx);
      return provider.check!(ctx);
    },
  };
}

providerContract('okta-group', async () => {
  const fake = await new FakeOkta(TOKEN).start();
  const group = fake.addGroup();
  return {
    provider: enrolled(fake, okta(fake)),
    target: { group },
    held: async (ctx) => {
      const user = userByLogin(fake, ctx.user.email!);
      return fake.members(group).filter((id) => id === user?.id).length;
    },
    // Okta keeps no expiry for a membership.
    expiryHeld: async () => null,
    stalled: async () => {
      for (let i = 0; i < 3; i++) fake.fail('getUser', { kind: 'hang' });
      return { provider: enrolled(fake, okta(fake)), release: async () => fake.clearFaults() };
    },
    stop: () => fake.stop(),
  };
});

describe('okta-group provider', () => {
  let fake: FakeOkta;
  let provider: Provider<OktaGroupTarget>;
  let group: string;
  let target: OktaGroupTarget;

  beforeEach(async () => {
    fake = await new FakeOkta(TOKEN, 3).start();
    group = fake.addGroup();
    target = { group };
    provider = okta(fake);
  });
  afterEach(() => fake.stop());

  it('adds the person found by login, keeps their id, and removes them', async () => {
    const alice = fake.addUser('alice@example.com');
    const ctx = callContext(target, { user: { slackId: 'U0ALICE', email: 'alice@example.com' } });
    const { state } = await provider.grant(ctx);
    expect(state).toEqual({ userId: alice.id });
    expect(fake.members(group)).toEqual([alice.id]);
    expect(fake.calls.map((call) => `${call.method} ${call.path}`)).toEqual([
      'GET /api/v1/users/alice%40example.com',
      `PUT /api/v1/groups/${group}/users/${alice.id}`,
    ]);
    expect(fake.calls.every((call) => call.auth === 'ssws')).toBe(true);

    await provider.revoke({ ...ctx, state });
    expect(fake.members(group)).toEqual([]);
    expect(fake.callsTo('removeMember')).toHaveLength(1);
    expect(fake.callsTo('getUser')).toHaveLength(1);
  });

  it('finds the person by email when their login differs', async () => {
    const bob = fake.addUser('bsmith@corp.example.com', 'bob@example.com');
    fake.addUser('bob.other@example.com', 'bob.other@example.com');
    const ctx = callContext(target, { user: { slackId: 'U0BOB', email: 'bob@example.com' } });
    await provider.grant(ctx);
    expect(fake.members(group)).toEqual([bob.id]);
    expect(fake.callsTo('searchUsers')[0]?.query).toEqual({
      search: 'profile.email eq "bob@example.com"',
      limit: '2',
    });
    expect(await provider.check!(ctx)).toBe(true);
  });

  it('fails clearly for an unknown person, and revoking them succeeds', async () => {
    const ctx = callContext(target, { user: { slackId: 'U0NOBODY', email: 'nobody@example.com' } });
    await expect(provider.grant(ctx)).rejects.toThrow(
      `okta-group grant (group ${group}): no Okta user has the login or the email nobody@example.com`,
    );
    await provider.revoke(ctx);
    expect(await provider.check!(ctx)).toBe(false);
    expect(fake.callsTo('addMember')).toEqual([]);
  });

  it('refuses an email two users share with neither as login, a deactivated user, and no email', async () => {
    fake.addUser('c1@corp.example.com', 'carol@example.com');
    fake.addUser('c2@corp.example.com', 'carol@example.com');
    await expect(
      provider.grant(callContext(target, { user: { slackId: 'U0C', email: 'carol@example.com' } })),
    ).rejects.toThrow(
      'more than one Okta user has the email carol@example.com and none has it as login',
    );
    fake.addUser('dave@example.com', 'dave@example.com', 'DEPROVISIONED');
    await expect(
      provider.grant(callContext(target, { user: { slackId: 'U0D', email: 'dave@example.com' } })),
    ).rejects.toThrow('the Okta user dave@example.com is deactivated');
    await expect(provider.grant(callContext(target, { user: { slackId: 'U0E' } }))).rejects.toThrow(
      `okta-group grant (group ${group}): Slack gave no email for U0E`,
    );
    expect(fake.members(group)).toEqual([]);
  });

  it('looks the person up afresh for every new grant, seeing a deactivation since the last', async () => {
    const pat = fake.addUser('pat@example.com');
    const user = { slackId: 'U0PAT', email: 'pat@example.com' };
    const first = callContext(target, { user });
    await provider.grant(first);
    await provider.revoke({ ...first, state: { userId: pat.id } });
    fake.users.set(pat.id, { ...pat, status: 'DEPROVISIONED' });
    await expect(provider.grant(callContext(target, { user }))).rejects.toThrow(
      'the Okta user pat@example.com is deactivated',
    );
    expect(fake.callsTo('getUser')).toHaveLength(2);
  });

  it('pages through the members with the Link header until it finds the person', async () => {
    const others = Array.from({ length: 7 }, (_, i) => fake.addUser(`member${i}@example.com`));
    for (const other of others) fake.addMember(group, other.id);
    fake.addUser('erin@example.com');
    const ctx = callContext(target, { user: { slackId: 'U0ERIN', email: 'erin@example.com' } });
    const { state } = await provider.grant(ctx);
    expect(await provider.check!({ ...ctx, state })).toBe(true);

    const pages = fake.callsTo('listMembers').map((call) => call.query);
    expect(pages).toEqual([
      { limit: '200' },
      { limit: '3', after: others[2]!.id },
      { limit: '3', after: others[5]!.id },
    ]);
    await provider.revoke({ ...ctx, state });
    expect(await provider.check!({ ...ctx, state })).toBe(false);
    expect(fake.members(group)).toEqual(others.map((other) => other.id));
  });

  it('waits out a 429 until X-Rate-Limit-Reset, then succeeds', async () => {
    const frank = fake.addUser('frank@example.com');
    fake.fail('addMember', { kind: 'rate-limit', resetInSeconds: 0 });
    const started = Date.now();
    await provider.grant(
      callContext(target, { user: { slackId: 'U0F', email: 'frank@example.com' } }),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(fake.callsTo('addMember')).toHaveLength(2);
    expect(fake.members(group)).toEqual([frank.id]);
  });

  it('gives up on a 429 that outlasts the call, sending nothing after it timed out', async () => {
    fake.addUser('gina@example.com');
    fake.fail('addMember', { kind: 'rate-limit', resetInSeconds: 30 });
    const ctx = callContext(target, {
      user: { slackId: 'U0G', email: 'gina@example.com' },
      signal: AbortSignal.timeout(400),
    });
    const started = Date.now();
    await expect(provider.grant(ctx)).rejects.toThrow(
      `okta-group grant (group ${group}) timed out`,
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    await sleep(1_500);
    expect(fake.callsTo('addMember')).toHaveLength(1);
    expect(fake.members(group)).toEqual([]);
  });

  it('fails with E0000047 when every try is rate limited', async () => {
    fake.addUser('hank@example.com');
    for (let i = 0; i < 3; i++) fake.fail('getUser', { kind: 'rate-limit', resetInSeconds: 0 });
    await expect(
      provider.grant(callContext(target, { user: { slackId: 'U0H', email: 'hank@example.com' } })),
    ).rejects.toThrow(
      `okta-group grant (group ${group}) failed: 429 E0000047 (API call exceeded rate limit due to too many requests.; rate limited even after waiting for X-Rate-Limit-Reset; retried later)`,
    );
    expect(fake.callsTo('getUser')).toHaveLength(3);
  });

  it('answers 404 E0000007 for a group that does not exist: grant, revoke and check fail, as it may only be hidden', async () => {
    fake.addUser('ivy@example.com');
    const missing = { group: '00gDoesNotExist00000' };
    const ctx = callContext(missing, { user: { slackId: 'U0I', email: 'ivy@example.com' } });
    const notFound = (action: string) =>
      `okta-group ${action} (group 00gDoesNotExist00000) failed: 404 E0000007 (Not found: Resource not found: 00gDoesNotExist00000 (UserGroup); no such user or group, or the admin role cannot see it)`;
    await expect(provider.grant(ctx)).rejects.toThrow(notFound('grant'));
    await expect(provider.revoke(ctx)).rejects.toThrow(notFound('revoke'));
    await expect(provider.check!(ctx)).rejects.toThrow(notFound('check'));
  });

  it('counts a membership gone when the group can no longer be seen only if it is', async () => {
    const ada = fake.addUser('ada@example.com');
    const ctx = callContext(target, { user: { slackId: 'U0ADA', email: 'ada@example.com' } });
    const { state } = await provider.grant(ctx);
    const held = { ...ctx, state };
    // The admin role's resource set was narrowed: Okta answers as for a group that is not there.
    const hidden = {
      kind: 'error',
      status: 404,
      errorCode: 'E0000007',
      errorSummary: `Not found: Resource not found: ${group} (UserGroup)`,
    } as const;
    fake.fail('removeMember', hidden);
    fake.fail('listMembers', hidden);
    fake.fail('listMembers', hidden);
    await expect(provider.revoke(held)).rejects.toThrow(
      /okta-group revoke .* failed: 404 E0000007/,
    );
    await expect(provider.check!(held)).rejects.toThrow(/okta-group check .* failed: 404 E0000007/);
    expect(fake.members(group)).toEqual([ada.id]);
  });

  it("fails on a 404 that is not Okta's (a proxy in front of it), leaving the membership", async () => {
    const bo = fake.addUser('bo@example.com');
    const ctx = callContext(target, { user: { slackId: 'U0BO', email: 'bo@example.com' } });
    const { state } = await provider.grant(ctx);
    const proxy = {
      kind: 'text',
      status: 404,
      body: '<html><h1>404 Not Found</h1>nginx</html>',
    } as const;
    fake.fail('removeMember', proxy);
    fake.fail('listMembers', proxy);
    await expect(provider.revoke({ ...ctx, state })).rejects.toThrow(
      `okta-group revoke (group ${group}) failed: Okta answered 404`,
    );
    await expect(provider.check!({ ...ctx, state })).rejects.toThrow(
      `okta-group check (group ${group}) failed: Okta answered 404`,
    );
    expect(fake.members(group)).toEqual([bo.id]);
  });

  it('revokes a user deleted from Okta since: the group it can read no longer holds them', async () => {
    const cy = fake.addUser('cy@example.com');
    const ctx = callContext(target, { user: { slackId: 'U0CY', email: 'cy@example.com' } });
    const { state } = await provider.grant(ctx);
    fake.removeMember(group, cy.id);
    fake.users.delete(cy.id);
    await provider.revoke({ ...ctx, state });
    expect(await provider.check!({ ...ctx, state })).toBe(false);
  });

  it('names the missing permission on 403 E0000006', async () => {
    fake.addUser('jay@example.com');
    fake.fail('addMember', {
      kind: 'error',
      status: 403,
      errorCode: 'E0000006',
      errorSummary: 'You do not have permission to perform the requested action',
    });
    await expect(
      provider.grant(callContext(target, { user: { slackId: 'U0J', email: 'jay@example.com' } })),
    ).rejects.toThrow(
      /failed: 403 E0000006 \(You do not have permission .*; the API token's admin \(or the service app's scopes and admin role\) may not do this for this user or group\)$/,
    );
  });

  it('never lets the API token into an error message', async () => {
    fake.addUser('kim@example.com');
    const ctx = () => callContext(target, { user: { slackId: 'U0K', email: 'kim@example.com' } });
    const messages: string[] = [];
    const collect = async (work: Promise<unknown>) =>
      messages.push(
        await work.then(
          () => 'no error',
          (err: Error) => err.message,
        ),
      );

    await collect(okta(fake, { token: 'wrong-token-value' }).grant(ctx()));
    fake.fail('addMember', {
      kind: 'error',
      status: 400,
      errorCode: 'E0000001',
      errorSummary: (auth) => `Api validation failed: header ${auth}`,
    });
    await collect(provider.grant(ctx()));
    fake.fail('addMember', {
      kind: 'text',
      status: 502,
      body: (auth) => `<html>Bad gateway. Request headers: Authorization: ${auth}</html>`,
    });
    await collect(provider.grant(ctx()));

    expect(messages).toEqual([
      // Okta's summary is scrubbed before it is cut; scrub's `token <value>` shape takes the word
      // after "token" for one.
      `okta-group grant (group ${group}) failed: 401 E0000011 (Invalid token [redacted]; Okta refused the API token (or the service app's access token): wrong, expired or revoked)`,
      `okta-group grant (group ${group}) failed: 400 E0000001 (Api validation failed: header SSWS [redacted])`,
      `okta-group grant (group ${group}) failed: Okta answered 502`,
    ]);
    for (const message of messages) expect(message).not.toContain(TOKEN);
  });

  it('times out an add that hangs, and the retry finds nothing to duplicate', async () => {
    const lee = fake.addUser('lee@example.com');
    fake.fail('addMember', { kind: 'hang' });
    const ctx = callContext(target, { user: { slackId: 'U0L', email: 'lee@example.com' } });
    await expect(provider.grant({ ...ctx, signal: AbortSignal.timeout(300) })).rejects.toThrow(
      `okta-group grant (group ${group}) timed out`,
    );
    fake.clearFaults();
    await provider.grant(ctx);
    await provider.grant(ctx);
    expect(fake.members(group)).toEqual([lee.id]);
  });
});

describe('okta-group with an OAuth service app', () => {
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  let fake: FakeOkta;
  let group: string;

  beforeEach(async () => {
    fake = await new FakeOkta(TOKEN).start();
    group = fake.addGroup();
  });
  afterEach(() => fake.stop());

  it('signs in with its key, answers the DPoP nonce, and proves possession on every call', async () => {
    const clientId = fake.addServiceApp({
      publicKey: keys.publicKey,
      scopes: ['okta.users.read', 'okta.groups.manage'],
      requireDpop: true,
    });
    const provider = okta(fake, { oauth: { clientId, privateKey: pem } });
    const mia = fake.addUser('mia@example.com');
    const ctx = callContext({ group }, { user: { slackId: 'U0M', email: 'mia@example.com' } });
    const { state } = await provider.grant(ctx);
    expect(await provider.check!({ ...ctx, state })).toBe(true);
    await provider.revoke({ ...ctx, state });
    expect(fake.members(group)).toEqual([]);
    expect(mia.id).toBe((state as { userId: string }).userId);

    // The first token request meets use_dpop_nonce, the second gets the token, kept after that.
    expect(fake.callsTo('token')).toHaveLength(2);
    const apiCalls = fake.calls.filter((call) => call.route !== 'token');
    expect(apiCalls.map((call) => call.auth)).toEqual(apiCalls.map(() => 'dpop'));
  });

  it('uses a Bearer token when the app does not require DPoP', async () => {
    const clientId = fake.addServiceApp({
      publicKey: keys.publicKey,
      scopes: ['okta.users.read', 'okta.groups.manage'],
      requireDpop: false,
    });
    fake.addUser('ned@example.com');
    const provider = okta(fake, { oauth: { clientId, privateKey: pem } });
    await provider.grant(
      callContext({ group }, { user: { slackId: 'U0N', email: 'ned@example.com' } }),
    );
    expect(fake.callsTo('token')).toHaveLength(1);
    expect(fake.callsTo('addMember')[0]?.auth).toBe('bearer');
  });

  it('says what to check when Okta refuses the token request, without the key', async () => {
    const clientId = fake.addServiceApp({
      publicKey: keys.publicKey,
      scopes: ['okta.users.read'],
      requireDpop: false,
    });
    fake.addUser('olga@example.com');
    const provider = okta(fake, { oauth: { clientId, privateKey: pem } });
    const error = await provider
      .grant(callContext({ group }, { user: { slackId: 'U0O', email: 'olga@example.com' } }))
      .catch((err: Error) => err);
    expect((error as Error).message).toBe(
      `okta-group grant (group ${group}) failed: Okta refused the service app's token request: 400 invalid_scope: The following scopes are not allowed: okta.groups.manage (check oauth.clientId, the public key registered for it, and that the app was granted the scopes asked for)`,
    );
    expect(fake.callsTo('getUser')).toEqual([]);

    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const stranger = fake.addServiceApp({
      publicKey: otherKey,
      scopes: ['okta.users.read', 'okta.groups.manage'],
      requireDpop: false,
    });
    await expect(
      okta(fake, { oauth: { clientId: stranger, privateKey: pem } }).check!(
        callContext({ group }, { user: { slackId: 'U0O', email: 'olga@example.com' } }),
      ),
    ).rejects.toThrow(
      "failed: Okta refused the service app's token request: 401 invalid_client: The client_assertion signature is invalid.",
    );
  });
});

describe('okta-group settings and targets', () => {
  const problems = (schema: 'config' | 'target', value: unknown) => {
    const parsed = (
      schema === 'config' ? oktaGroupAdapter.configSchema : oktaGroupAdapter.targetSchema
    ).safeParse(value);
    return parsed.success ? [] : formatIssues(parsed.error.issues);
  };
  const orgUrl = 'https://example.okta.com';

  it('takes an API token or a service app, with the least scopes by default', () => {
    expect(problems('config', { orgUrl, token: TOKEN })).toEqual([]);
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = JSON.stringify(privateKey.export({ format: 'jwk' }));
    expect(
      oktaGroupAdapter.configSchema.parse({ orgUrl, oauth: { clientId: '0oa1', privateKey: jwk } }),
    ).toEqual({
      orgUrl,
      oauth: {
        clientId: '0oa1',
        privateKey: jwk,
        scopes: ['okta.users.read', 'okta.groups.manage'],
      },
    });
  });

  it('names each bad setting, never quoting a key', () => {
    expect(problems('config', { orgUrl })).toEqual([
      '(root): set either token (an API token) or oauth (a service app: clientId and privateKey), not both',
    ]);
    const notAKey = 'not-a-key-but-secret-text';
    const found = problems('config', {
      orgUrl: 'http://example.okta.com',
      oauth: { clientId: '', privateKey: notAKey, scopes: ['users.read'] },
    });
    expect(found).toEqual([
      'orgUrl: must be https (plain http only to a loopback address)',
      'oauth.clientId: must not be empty',
      'oauth.privateKey: must be a private key, as PEM or as a JWK (JSON)',
      'oauth.scopes[0]: must be an Okta scope like okta.users.read',
    ]);
    expect(found.join('\n')).not.toContain(notAKey);
  });

  it('wants an Okta group id', () => {
    expect(problems('target', { group: '00g1ab2cd3EF4gh5i6j7' })).toEqual([]);
    expect(problems('target', { group: 'Engineering' })).toEqual([
      'group: must be an Okta group id like 00g1ab2cd3EF4gh5i6j7 (the id in the group page address)',
    ]);
  });
});
