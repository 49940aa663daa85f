import { createHash } from 'node:crypto';
import { DomainError, type PipelineCaller } from '../../src/core';
import { StaticDirectory } from '../../src/core/directory';
import { withPipelines } from '../../src/core/pipelines';
import { coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';

const config = (gitlabProjects: string) => `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
api:
  oidc:
    gitlab: { issuer: 'https://gitlab.example.com', audience: hallpass }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: deploy
    name: Deploys
    provider: hook
    maxDuration: 2h
    approvers: { users: [ULEAD] }
    pipelines:
      - token: 'ci:deploy-*'
        autoApprove: { maxDuration: 30m }
      - oidc: gitlab
        claims: { project_path: ${gitlabProjects} }
        autoApprove: { maxDuration: 15m, claims: { ref: main } }
  - id: people-only
    name: People only
    provider: hook
    maxDuration: 1h
    approvers: { users: [ULEAD] }
`;
const BOTH = '[acme/app, acme/infra]';

const REASON = 'deploying build 42 to production';

function gitlab(project: string, ref: string): PipelineCaller {
  return {
    via: 'oidc',
    id: `oidc:gitlab:project_path:${project}:ref_type:branch:ref:${ref}`,
    issuer: 'gitlab',
    claims: { project_path: project, ref, ref_type: 'branch' },
  };
}

async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof DomainError) return err;
    throw err;
  }
  throw new Error('expected a DomainError');
}

describe.each(STORE_KINDS)('pipelines in the core (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(config(BOTH), undefined, kind)));
  afterEach(() => h.close());

  const tokenCaller = async (identity = 'ci:deploy-web', resources = ['deploy']) => {
    const { token, info } = await h.core.pipelines.createToken({
      identity,
      resources,
      actor: 'cli:ops',
    });
    const caller = await h.core.pipelines.authenticate(token);
    if (!caller) throw new Error('a fresh token must authenticate');
    return { token, info, caller };
  };

  const file = (caller: PipelineCaller, duration: string, resourceId = 'deploy') =>
    h.core.createRequest({
      requester: caller.id,
      resourceId,
      duration,
      justification: REASON,
      caller,
    });

  const outboxTopics = async () =>
    (await h.sql.all<{ topic: string }>('SELECT topic FROM outbox ORDER BY id')).map(
      (r) => r.topic,
    );

  describe('API tokens', () => {
    it('are stored as a SHA-256 only, and their creation is audited without them', async () => {
      const { token, info } = await tokenCaller();
      expect(token).toMatch(/^hpt_tok_[0-9a-z]{10}_[A-Za-z0-9_-]{43}$/);
      const rows = await h.sql.all<Record<string, unknown>>('SELECT * FROM api_tokens');
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain(token.slice(18));
      expect(rows[0]!.hash).toBe(createHash('sha256').update(token).digest('hex'));
      const audit = await h.sql.all<{ actor: string; details: string }>(
        "SELECT actor, details FROM audit_events WHERE action = 'token.created'",
      );
      expect(audit).toHaveLength(1);
      expect(audit[0]!.actor).toBe('cli:ops');
      expect(JSON.parse(audit[0]!.details)).toEqual({
        id: info.id,
        identity: 'ci:deploy-web',
        resources: ['deploy'],
        note: null,
        expiresAt: null,
      });
      expect(audit[0]!.details).not.toContain(String(rows[0]!.hash));
    });

    it('stop authenticating when tampered with, expired or revoked', async () => {
      const { token, info } = await tokenCaller();
      const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
      expect(await h.core.pipelines.authenticate(flipped)).toBeUndefined();
      expect(await h.core.pipelines.authenticate('hpt_tok_0000000000_' + 'A'.repeat(43))).toBe(
        undefined,
      );

      const brief = await h.core.pipelines.createToken({
        identity: 'ci:deploy-brief',
        resources: ['deploy'],
        ttlMs: 60_000,
        actor: 'cli:ops',
      });
      expect(await h.core.pipelines.authenticate(brief.token)).toBeDefined();
      h.clock.advance(60_000);
      expect(await h.core.pipelines.authenticate(brief.token)).toBeUndefined();

      await h.core.pipelines.revokeToken(info.id, 'cli:ops');
      expect(await h.core.pipelines.authenticate(token)).toBeUndefined();
      expect((await refusal(h.core.pipelines.revokeToken(info.id, 'cli:ops'))).code).toBe(
        'bad_state',
      );
    });

    it('refuse identities that could pass for a person, the CLI or an ID token', async () => {
      for (const identity of ['U012ABCDEF', 'cli:root', 'oidc:github:x', 'deploy-bot', 'CI:Bot']) {
        const err = await refusal(
          h.core.pipelines.createToken({ identity, resources: ['deploy'], actor: 'cli:ops' }),
        );
        expect(err.code).toBe('bad_token');
      }
      const unknown = await refusal(
        h.core.pipelines.createToken({
          identity: 'ci:x',
          resources: ['deplyo'],
          actor: 'cli:ops',
        }),
      );
      expect(unknown.message).toMatch(/Did you mean deploy\?/);
    });

    it('revoked, cancel the requests still waiting that were filed with them, and only those', async () => {
      const first = await tokenCaller();
      const second = await h.core.pipelines.authenticate(
        (
          await h.core.pipelines.createToken({
            identity: 'ci:deploy-web',
            resources: ['deploy'],
            actor: 'cli:ops',
          })
        ).token,
      );
      const doomed = await file(first.caller, '1h');
      const kept = await file(second!, '1h');
      await h.core.pipelines.revokeToken(first.info.id, 'cli:ops');
      expect((await h.core.request(doomed.id))!.status).toBe('cancelled');
      expect((await h.core.request(kept.id))!.status).toBe('pending');
      const revoked = await h.sql.all<{ details: string }>(
        "SELECT details FROM audit_events WHERE action = 'token.revoked'",
      );
      expect(JSON.parse(revoked[0]!.details)).toMatchObject({ cancelled: [doomed.id] });
    });

    /** A grant obtained with `caller` (auto-approved within the rule), active for 10 minutes. */
    const activeGrant = async (caller: PipelineCaller) => {
      const grant = (await h.core.grantOf(await file(caller, '10m')))!;
      await h.core.lifecycle.activated(grant.id, {
        startsAt: h.clock.now(),
        expiresAt: h.clock.now() + 600_000,
        state: undefined,
        elapsedMs: 5,
      });
      return grant;
    };

    it('revoked, leave the access obtained with them running by default, and name it', async () => {
      const { info, caller } = await tokenCaller();
      const grant = await activeGrant(caller);
      const done = await h.core.pipelines.revokeToken(info.id, 'cli:ops');
      expect(done).toMatchObject({ cancelled: [], ended: [], left: [grant.id] });
      expect(done.token).toMatchObject({ id: info.id, revokedBy: 'cli:ops' });
      expect((await h.core.grant(grant.id))!.status).toBe('active');
      const [event] = await h.sql.all<{ details: string }>(
        "SELECT details FROM audit_events WHERE action = 'token.revoked'",
      );
      expect(JSON.parse(event!.details)).toMatchObject({ ended: [], left: [grant.id] });
    });

    it('revoked with endGrants, end the live access obtained with them, and only that', async () => {
      const leaked = await tokenCaller();
      const rotatedIn = await tokenCaller();
      const ending = await activeGrant(leaked.caller);
      const activating = (await h.core.grantOf(await file(leaked.caller, '10m')))!;
      const kept = await activeGrant(rotatedIn.caller);
      const waiting = await file(leaked.caller, '1h');

      const done = await h.core.pipelines.revokeToken(leaked.info.id, 'cli:ops', {
        endGrants: true,
      });

      expect(done).toMatchObject({ cancelled: [waiting.id], left: [] });
      expect([...done.ended].sort()).toEqual([ending.id, activating.id].sort());
      for (const id of done.ended)
        expect(await h.core.grant(id)).toMatchObject({
          status: 'revoking',
          endReason: 'revoked_by_admin',
          endedBy: 'cli:ops',
          endNote: `API token revoked: ${leaked.info.id}`,
        });
      expect((await h.core.grant(kept.id))!.status).toBe('active');
      const asked = await h.sql.all<{ actor: string; grant_id: string; details: string }>(
        "SELECT actor, grant_id, details FROM audit_events WHERE action = 'grant.revoke_requested' ORDER BY seq",
      );
      expect(asked.map((e) => e.grant_id).sort()).toEqual([...done.ended].sort());
      for (const e of asked) {
        expect(e.actor).toBe('cli:ops');
        expect(JSON.parse(e.details)).toMatchObject({
          reason: 'revoked_by_admin',
          revokedId: leaked.info.id,
        });
      }
      // The token's id stays readable in the audit log: only a token's secret part is redacted.
      const [cancelled] = await h.sql.all<{ details: string }>(
        "SELECT details FROM audit_events WHERE action = 'request.cancelled'",
      );
      expect(JSON.parse(cancelled!.details)).toEqual({
        why: `API token revoked: ${leaked.info.id}`,
      });
      // The ending grants go to the sweeper like any other early end: due now.
      const due = await h.core.lifecycle.due(100);
      expect(
        due
          .filter((g) => g.status === 'revoking')
          .map((g) => g.id)
          .sort(),
      ).toEqual([...done.ended].sort());
    });
  });

  describe('requests', () => {
    it('auto-approves within a rule, sends a pipeline no DM, and asks people beyond it', async () => {
      const { caller } = await tokenCaller();
      const auto = await file(caller, '30m');
      expect(auto).toMatchObject({ status: 'approved', autoApproved: true, decidedBy: 'hallpass' });
      expect(await h.core.grantOf(auto)).toMatchObject({ userId: 'ci:deploy-web' });
      const asks = await file(caller, '31m');
      expect(asks.status).toBe('pending');
      expect(await outboxTopics()).not.toContain('requester_dm');
      expect(await outboxTopics()).toContain('approver_message');
      const details = await h.sql.value<string>(
        "SELECT details FROM audit_events WHERE action = 'request.created' AND request_id = ?",
        asks.id,
      );
      expect(JSON.parse(details)).toMatchObject({
        pipeline: { via: 'token', id: caller.via === 'token' ? caller.tokenId : '' },
      });
    });

    it('match ID token claims: the listed projects may ask, only main is auto-approved', async () => {
      expect(await file(gitlab('acme/app', 'main'), '15m')).toMatchObject({ autoApproved: true });
      expect(await file(gitlab('acme/infra', 'dev'), '15m')).toMatchObject({ status: 'pending' });
      const other = await refusal(file(gitlab('evil/app', 'main'), '15m'));
      expect(other).toMatchObject({ code: 'not_allowed', field: 'resource' });
      const people = await refusal(file(gitlab('acme/app', 'main'), '15m', 'people-only'));
      expect(people.message).toMatch(/no resource of that id has a `pipelines` rule/);
    });

    it('tell a stranger nothing of which resources exist, and hint only at what a caller may use', async () => {
      const stranger = gitlab('evil/app', 'main');
      const existing = await refusal(file(stranger, '15m'));
      const missing = await refusal(file(stranger, '15m', 'deploys'));
      const said = (e: DomainError) => ({
        code: e.code,
        message: e.message.replace(/"[^"]*"/, 'X'),
      });
      expect(said(existing)).toEqual(said(missing));
      expect(missing.message).not.toContain('Did you mean');
      const own = await refusal(file(gitlab('acme/app', 'main'), '15m', 'deploys'));
      expect(own).toMatchObject({ code: 'unknown_resource', field: 'resource' });
      expect(own.message).toBe('Unknown resource "deploys". Did you mean deploy?');
      const people = await refusal(file(gitlab('acme/app', 'main'), '15m', 'people-onl'));
      expect(people.message).not.toContain('people-only?');
    });

    it('are filed as the caller itself', async () => {
      const { caller } = await tokenCaller();
      await expect(
        h.core.createRequest({
          requester: 'ULEAD',
          resourceId: 'deploy',
          duration: '1h',
          justification: REASON,
          caller,
        }),
      ).rejects.toThrow('a pipeline files as its own identity');
    });

    it('are decided only by people, and against the policy of the moment', async () => {
      const caller = gitlab('acme/infra', 'dev');
      const pending = await file(caller, '1h');
      const decided = await refusal(
        h.core.decide({ requestId: pending.id, actor: caller.id, decision: 'approve' }),
      );
      expect(decided).toMatchObject({ code: 'not_approver' });
      expect(decided.message).toMatch(/is a pipeline; only people decide requests/);

      const narrowed = h.withConfig(config('acme/app'));
      const outcome = await narrowed.decide({
        requestId: pending.id,
        actor: 'ULEAD',
        decision: 'approve',
      });
      expect(outcome.request).toMatchObject({
        status: 'denied',
        decisionReason: `policy changed: ${caller.id} may no longer request deploy`,
      });
    });

    it('are denied, not approved, once the API token that filed them ran out', async () => {
      const { token } = await h.core.pipelines.createToken({
        identity: 'ci:deploy-web',
        resources: ['deploy'],
        actor: 'cli:ops',
        ttlMs: 60 * 60_000,
      });
      const caller = (await h.core.pipelines.authenticate(token))!;
      const pending = await file(caller, '1h');
      expect(pending.status).toBe('pending');
      h.clock.advance(2 * 60 * 60_000);
      const outcome = await h.core.decide({
        requestId: pending.id,
        actor: 'ULEAD',
        decision: 'approve',
      });
      expect(outcome.request).toMatchObject({
        status: 'denied',
        decisionReason: `policy changed: the API token ${caller.via === 'token' ? caller.tokenId : ''} ran out`,
      });
      expect(await h.core.grantOf(outcome.request)).toBeUndefined();
    });

    it('extend within the auto-approval of the whole grant, else ask people', async () => {
      const { caller } = await tokenCaller();
      const approved = await file(caller, '20m');
      const grant = (await h.core.grantOf(approved))!;
      await h.core.lifecycle.activated(grant.id, {
        startsAt: h.clock.now(),
        expiresAt: h.clock.now() + 20 * 60_000,
        state: undefined,
        elapsedMs: 5,
      });
      const within = await h.core.requestExtension({
        grantId: grant.id,
        actor: caller.id,
        duration: '10m',
        justification: REASON,
        caller,
      });
      expect(within).toMatchObject({ kind: 'extension', status: 'approved', autoApproved: true });
      const beyond = await h.core.requestExtension({
        grantId: grant.id,
        actor: caller.id,
        duration: '10m',
        justification: REASON,
        caller,
      });
      expect(beyond.status).toBe('pending');
    });
  });

  it('keeps credentials of a pipeline’s grant sealed for the API until the grant ends', async () => {
    const { caller } = await tokenCaller();
    const grant = (await h.core.grantOf(await file(caller, '10m')))!;
    await h.core.lifecycle.activated(grant.id, {
      startsAt: h.clock.now(),
      expiresAt: h.clock.now() + 600_000,
      state: undefined,
      sealedCredentials: 'v1.sealed-for-the-test',
      elapsedMs: 5,
    });
    expect(await h.core.pipelines.credentials(grant.id)).toBe('v1.sealed-for-the-test');
    expect(await outboxTopics()).not.toContain('credentials');
    await h.core.revokeGrant({ grantId: grant.id, actor: caller.id, via: 'api' });
    await h.core.lifecycle.revoked([{ grantId: grant.id }]);
    expect(await h.core.pipelines.credentials(grant.id)).toBeUndefined();
    expect(await h.sql.value<number>('SELECT count(*) FROM pipeline_credentials')).toBe(0);
  });
});

describe('the directory, for pipelines', () => {
  it('never asks Slack about a pipeline, which stays active and has no email', async () => {
    const asked: string[] = [];
    const slack = new StaticDirectory({}, { UREQ: 'req@example.com' }, { UGONE: 'deactivated' });
    const directory = withPipelines({
      usergroupMembers: (g) => slack.usergroupMembers(g),
      ldapGroupMembers: (g) => slack.ldapGroupMembers(g),
      oktaGroupMembers: (g) => slack.oktaGroupMembers(g),
      emailOf: (u) => (asked.push(u), slack.emailOf(u)),
      statusOf: (u) => (asked.push(u), slack.statusOf(u)),
    });
    expect(await directory.statusOf('ci:deploy-bot')).toBe('active');
    expect(await directory.statusOf('oidc:github:repo:acme/app:ref:refs/heads/main')).toBe(
      'active',
    );
    expect(await directory.emailOf('ci:deploy-bot')).toBeUndefined();
    expect(await directory.statusOf('UGONE')).toBe('deactivated');
    expect(await directory.emailOf('UREQ')).toBe('req@example.com');
    expect(asked).toEqual(['UGONE', 'UREQ']);
  });
});

const MIXED = `
timezone: UTC
requests: { approverChannel: CAPPROVALS }
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: deploy
    name: Deploys
    provider: hook
    maxDuration: 2h
    approvers: { users: [ULEAD] }
    requesters: { users: [UDEV] }
    autoApprove: [{ maxDuration: 30m }]
    pipelines:
      - token: 'ci:deploy-*'
      - token: 'ci:release-*'
        autoApprove: { maxDuration: 30m }
`;

describe.each(STORE_KINDS)('pipeline rules beside the person rules (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => (h = await coreHarness(MIXED, undefined, kind)));
  afterEach(() => h.close());

  const callerFor = async (identity: string) => {
    const { token } = await h.core.pipelines.createToken({
      identity,
      resources: ['deploy'],
      actor: 'cli:ops',
    });
    return (await h.core.pipelines.authenticate(token))!;
  };
  const approvedBy = async (requestId: string) =>
    JSON.parse(
      await h.sql.value<string>(
        "SELECT details FROM audit_events WHERE action = 'request.approved' AND request_id = ?",
        requestId,
      ),
    ) as Record<string, unknown>;

  it('files a pipeline by its pipelines rules: the requesters do not stop it, and no person rule approves it', async () => {
    const caller = await callerFor('ci:deploy-web');
    const req = await h.core.createRequest({
      requester: caller.id,
      resourceId: 'deploy',
      duration: '15m',
      justification: REASON,
      caller,
    });
    expect(req).toMatchObject({ status: 'pending', approvalsRequired: 1 });
  });

  it('records which rule approved at once: the pipelines rule, or the person rule by its index', async () => {
    const caller = await callerFor('ci:release-web');
    const piped = await h.core.createRequest({
      requester: caller.id,
      resourceId: 'deploy',
      duration: '15m',
      justification: REASON,
      caller,
    });
    expect(piped).toMatchObject({ status: 'approved', approvalsRequired: 0 });
    expect(await approvedBy(piped.id)).toMatchObject({ auto: true, by: 'pipelines' });

    const person = await h.core.createRequest({
      requester: 'UDEV',
      resourceId: 'deploy',
      duration: '15m',
      justification: REASON,
    });
    expect(person).toMatchObject({ status: 'approved', approvalsRequired: 0 });
    expect(await approvedBy(person.id)).toMatchObject({
      auto: true,
      by: 'autoApprove',
      autoApproveRule: 0,
    });
    const stranger = await refusal(
      h.core.createRequest({
        requester: 'UOTHER',
        resourceId: 'deploy',
        duration: '15m',
        justification: REASON,
      }),
    );
    expect(stranger.code).toBe('not_allowed');
  });
});
