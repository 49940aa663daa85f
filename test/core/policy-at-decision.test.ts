import { webApi } from '@slack/bolt';
import type { Core } from '../../src/core';
import { DomainError } from '../../src/core';
import { logger } from '../../src/log';
import { Sealer } from '../../src/secrets/seal';
import { OutboxDispatcher } from '../../src/slack/delivery/dispatcher';
import { coreHarness, type CoreHarness } from '../support/core';
import { FakeSlack } from '../support/fake-slack';
import { STORE_KINDS } from '../support/stores';

/**
 * Issue #9, item 5: when the quorum completes, a request is checked against today's policy
 * too. The resource must still exist and the requester still be allowed; the quorum is the
 * larger and the duration ceiling the smaller of then and now; approvers who lost their rights
 * no longer count. A request that no longer qualifies ends `denied` by Hallpass, saying why.
 */

const JUST = 'rotating the vault unseal keys';
const HOUR = 3_600_000;

interface Vault {
  maxDuration?: string;
  quorum?: number;
  requesters?: string[];
  approvers?: string[];
  /** False: the resource was removed from the configuration. */
  present?: boolean;
}

/** hallpass.yml with the `vault` resource as given (by default as it was when requests were filed). */
function policy(v: Vault = {}): string {
  const vault = `
  - id: vault
    name: Vault
    provider: hook
    maxDuration: ${v.maxDuration ?? '8h'}
    approvalsRequired: ${v.quorum ?? 1}
    approvers: { users: [${(v.approvers ?? ['UA1', 'UA2', 'UA3']).join(', ')}] }
    requesters: { users: [${(v.requesters ?? ['UREQ', 'UOTHER']).join(', ')}] }
    approverChannel: CVAULT`;
  return `
timezone: UTC
admins: [UADMIN]
requests:
  approverChannel: CAPPROVALS
providers:
  hook: { type: webhook, url: 'http://127.0.0.1:9/hook', secret: s3cret-value }
resources:
  - id: other
    name: Something else
    provider: hook
    maxDuration: 1h
    approvers: { users: [UA1] }${v.present === false ? '' : vault}
`;
}

async function auditOf(h: CoreHarness, action: string) {
  const rows = await h.sql.all<{ actor: string; request_id: string; details: string }>(
    'SELECT actor, request_id, details FROM audit_events WHERE action = ? ORDER BY seq',
    action,
  );
  return rows.map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
}

/** What Slack was sent by delivering the outbox with `core`, as the bot under that config would. */
async function deliver(h: CoreHarness, core: Core, fake: FakeSlack) {
  const client = new webApi.WebClient('xoxb-test', {
    slackApiUrl: fake.url,
    retryConfig: { retries: 0 },
    logLevel: webApi.LogLevel.ERROR,
  });
  const dispatcher = new OutboxDispatcher({
    clock: h.clock,
    client,
    sealer: new Sealer('test-sealing-secret'),
    core,
    logger,
    options: { random: () => 0.5 },
  });
  try {
    await dispatcher.drain();
  } finally {
    await dispatcher.stop();
  }
  expect(await h.sql.value("SELECT count(*) FROM outbox WHERE status <> 'sent'")).toBe(0);
}

/** Every message text sent to `channel` (posted or edited), oldest first, blocks included. */
function sentTo(fake: FakeSlack, channel: string): string[] {
  return fake.calls
    .filter((c) => ['chat.postMessage', 'chat.update'].includes(c.method))
    .filter((c) => c.args.channel === channel)
    .map((c) => JSON.stringify([c.args.text, c.args.blocks]));
}

describe.each(STORE_KINDS)('policy at the moment of decision (%s)', (kind) => {
  let h: CoreHarness;
  let fake: FakeSlack;
  beforeEach(async () => {
    h = await coreHarness(policy(), {}, kind);
    fake = await new FakeSlack().start();
  });
  afterEach(async () => {
    await fake.stop();
    await h.close();
  });

  /** A request for `duration` of vault, filed under the configuration the harness started with. */
  const file = (duration = '8h', core = h.core) =>
    core.createRequest({ requester: 'UREQ', resourceId: 'vault', duration, justification: JUST });

  const grants = () => h.sql.all<{ duration_ms: number }>('SELECT * FROM grants');

  it('grants nothing on one click once the ceiling, the quorum and the requesters all changed', async () => {
    const req = await file('8h');
    expect(req).toMatchObject({ approvalsRequired: 1, maxDurationMs: 8 * HOUR });
    const later = h.withConfig(policy({ maxDuration: '1h', quorum: 2, requesters: ['UOTHER'] }));

    const first = await later.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    expect(first.request.status).toBe('pending');
    expect(await grants()).toEqual([]);

    // The second approval completes today's quorum; UREQ may no longer ask, so Hallpass denies.
    const second = await later.decide({ requestId: req.id, actor: 'UA2', decision: 'approve' });
    expect(second.request).toMatchObject({
      status: 'denied',
      decidedBy: 'hallpass',
      decisionReason: 'policy changed: UREQ may no longer request vault',
    });
    expect(await grants()).toEqual([]);
    expect(await auditOf(h, 'request.approved')).toEqual([]);
  });

  it('waits for a second approver when the quorum was raised, saying it was filed with one', async () => {
    const req = await file('1h');
    const later = h.withConfig(policy({ quorum: 2 }));

    const first = await later.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    expect(first.request.status).toBe('pending');
    expect(await grants()).toEqual([]);
    expect((await auditOf(h, 'approval.recorded'))[0]!.details).toEqual({
      approvals: 1,
      required: 2,
      filedWith: 1,
      selfApproval: false,
    });

    const second = await later.decide({ requestId: req.id, actor: 'UA2', decision: 'approve' });
    expect(second.request).toMatchObject({ status: 'approved', decidedBy: 'UA2' });
    expect(await grants()).toHaveLength(1);
  });

  it('tells the approvers the raised quorum: one approval of two, one more needed', async () => {
    const req = await file('1h');
    await deliver(h, h.core, fake);
    const later = h.withConfig(policy({ quorum: 2 }));
    await later.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    await deliver(h, later, fake);
    const last = sentTo(fake, 'CVAULT').at(-1)!;
    expect(last).toContain('Waiting for one more approval');
    expect(last).toContain('Approvals: 1 of 2');
  });

  it('caps the grant at the lowered ceiling and audits what was asked', async () => {
    const req = await file('8h');
    const later = h.withConfig(policy({ maxDuration: '1h' }));

    const outcome = await later.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    expect(outcome.request.status).toBe('approved');
    const [grant] = await grants();
    expect(grant!.duration_ms).toBe(HOUR);
    const [approved] = await auditOf(h, 'request.approved');
    expect(approved!.details).toEqual({ auto: false, kind: 'access', cappedFrom: 8 * HOUR });
    const [created] = await auditOf(h, 'grant.created');
    expect(created!.details).toMatchObject({ durationMs: HOUR });
  });

  it('keeps the ceiling it was filed under when the ceiling was raised since', async () => {
    h.clock.advance(1);
    const lower = h.withConfig(policy({ maxDuration: '2h' }));
    const req = await file('2h', lower);
    expect(req.maxDurationMs).toBe(2 * HOUR);
    // Today's ceiling is 8h again; 2h was asked, 2h is granted, nothing is capped.
    await h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    expect((await grants())[0]!.duration_ms).toBe(2 * HOUR);
    const [approved] = await auditOf(h, 'request.approved');
    expect(approved!.details).not.toHaveProperty('cappedFrom');
  });

  it('denies a requester who was removed from the requesters, telling approvers and requester why', async () => {
    const req = await file('1h');
    await deliver(h, h.core, fake);
    const later = h.withConfig(policy({ requesters: ['UOTHER'] }));

    const outcome = await later.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    const reason = 'policy changed: UREQ may no longer request vault';
    expect(outcome.request).toMatchObject({
      status: 'denied',
      decidedBy: 'hallpass',
      decisionReason: reason,
    });
    expect(await grants()).toEqual([]);
    expect(await auditOf(h, 'request.denied')).toEqual([
      { actor: 'hallpass', request_id: req.id, details: { reason, policy: true } },
    ]);
    const rows = await h.sql.all<{ key: string; topic: string; payload: string }>(
      "SELECT key, topic, payload FROM outbox WHERE status = 'pending' ORDER BY id",
    );
    const payloads = rows.map((r) => ({ ...r, payload: JSON.parse(r.payload) as unknown }));
    expect(payloads).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          topic: 'approver_message',
          payload: { topic: 'approver_message', requestId: req.id },
        }),
        {
          key: `request.denied:${req.id}:dm`,
          topic: 'requester_dm',
          payload: {
            topic: 'requester_dm',
            userId: 'UREQ',
            event: 'request.denied',
            requestId: req.id,
          },
        },
      ]),
    );

    // The words people read, as the bot under today's configuration delivers them.
    await deliver(h, later, fake);
    // The requester's card is edited too; this is the approver message's last edit.
    const edit = fake
      .callsOf('chat.update')
      .filter((c) => c.args.channel === 'CVAULT')
      .at(-1)!;
    expect(edit).toBeDefined();
    expect(JSON.stringify(edit.args.blocks)).toContain(`Denied by Hallpass`);
    expect(JSON.stringify(edit.args.blocks)).toContain(reason);
    const dm = fake
      .callsOf('chat.postMessage')
      .map((c) => JSON.stringify(c.args.blocks))
      .find((text) => text.includes('was denied'));
    expect(dm).toContain(
      `Your request for *Vault* (\`vault\`) for *1 h* was denied by Hallpass: ${reason}`,
    );
  });

  it('ends a request whose resource was removed at any click, even one by a non-approver', async () => {
    const req = await file('1h');
    await deliver(h, h.core, fake);
    const later = h.withConfig(policy({ present: false }));

    const outcome = await later.decide({
      requestId: req.id,
      actor: 'USTRANGER',
      decision: 'approve',
    });
    const reason = "policy changed: the resource vault was removed from Hallpass's configuration";
    expect(outcome.request).toMatchObject({
      status: 'denied',
      decidedBy: 'hallpass',
      decisionReason: reason,
    });
    expect(await later.approvalsOf(req.id)).toEqual([]);
    expect(await grants()).toEqual([]);
    expect((await auditOf(h, 'request.denied'))[0]!.details).toEqual({ reason, policy: true });

    const again = await later.decide({ requestId: req.id, actor: 'UA1', decision: 'deny' });
    expect(again.kind).toBe('already_decided');

    await deliver(h, later, fake);
    expect(sentTo(fake, 'CVAULT').at(-1)).toContain(
      "policy changed: the resource vault was removed from Hallpass's configuration",
    );
  });

  it('discounts an approval whose approver lost their rights before the quorum completed', async () => {
    const before = h.withConfig(policy({ quorum: 2 }));
    const req = await file('1h', before);
    await before.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    const later = h.withConfig(policy({ quorum: 2, approvers: ['UA2', 'UA3'] }));

    const second = await later.decide({ requestId: req.id, actor: 'UA2', decision: 'approve' });
    expect(second.request.status).toBe('pending');
    expect(await grants()).toEqual([]);
    expect((await auditOf(h, 'approval.recorded'))[1]!.details).toEqual({
      approvals: 1,
      required: 2,
      discounted: ['UA1'],
      selfApproval: false,
    });

    // UA1 cannot count again by clicking again.
    const err = await later
      .decide({ requestId: req.id, actor: 'UA1', decision: 'approve' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe('not_approver');

    const third = await later.decide({ requestId: req.id, actor: 'UA3', decision: 'approve' });
    expect(third.request).toMatchObject({ status: 'approved', decidedBy: 'UA3' });
    expect(await grants()).toHaveLength(1);
  });
});
