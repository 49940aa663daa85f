import type { WebClient } from '@slack/web-api';
import { StaticDirectory } from '../../src/core/directory';
import { coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS, type StoreKind } from '../support/stores';
import { FakeSlack } from '../support/fake-slack';
import {
  startJobProcess,
  stopJobProcess,
  testSlackClient,
  type JobProcess,
} from '../support/job-process';
import { WebhookReceiver } from '../support/webhook-receiver';

/**
 * On a provider whose access is shared, one access is one place: a person's grants at the same
 * provider instance and target, whatever resource they came from where the provider tells
 * accesses apart by target alone (one Slack channel, one directory group); a webhook or a command,
 * which is told the resource of every call, keeps two resources apart. Ending one grant must
 * neither take the access from another that holds it nor be skipped for one that does not.
 */
const JUST = 'investigating INC-42 slow queries';
const MIN = 60_000;
const SECRET = 's3cret-value-for-shared-place';
const C1 = 'CWARONE';

function channelConfig(resourceId: string): string {
  return `
timezone: UTC
admins: [UADMIN]
requests:
  approverChannel: CAPPROVALS
providers:
  chan:
    type: slack-channel
resources:
  - id: ${resourceId}
    name: War room
    provider: chan
    target: { channel: ${C1} }
    maxDuration: 2h
    maxTotalDuration: 4h
    approvalsRequired: 0
    approverChannel: CWARAPPROVE
`;
}

describe.each(STORE_KINDS)('one shared access, one place (%s)', (kind: StoreKind) => {
  let h: CoreHarness;
  let fake: FakeSlack;
  let client: WebClient;
  let receiver: WebhookReceiver;
  const started: JobProcess[] = [];
  const directory = new StaticDirectory({}, { UREQ: 'req@example.com' });

  afterEach(async () => {
    for (const p of started.splice(0)) await stopJobProcess(p);
    await fake?.stop();
    await receiver?.stop();
    await h?.close();
  });

  async function boot(yaml: string): Promise<JobProcess> {
    const p = await startJobProcess(h, yaml, { client, directory });
    started.push(p);
    return p;
  }

  async function activeGrant(p: JobProcess, resourceId: string, duration = '1h'): Promise<string> {
    const req = await p.core.createRequest({
      requester: 'UREQ',
      resourceId,
      duration,
      justification: JUST,
    });
    const id = await h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
    await p.sweeper.tick();
    expect((await h.core.grant(id))!.status).toBe('active');
    return id;
  }

  async function start(yaml: (url: string) => string): Promise<JobProcess> {
    fake = await new FakeSlack().start();
    client = testSlackClient(fake.url);
    receiver = await new WebhookReceiver(SECRET).start();
    h = await coreHarness(yaml(receiver.url), undefined, kind);
    return boot(yaml(receiver.url));
  }

  /**
   * Two resources on one webhook (isolation `shared`, the webhook default) that carry no target:
   * both record the same (empty) target, but the receiver may tell them apart by `resource.id`,
   * which every call carries, so the one grant covers nothing of the other.
   */
  it('a grant of one target-less webhook resource is revoked at its end while the person holds another resource of that webhook', async () => {
    const yaml = (url: string) => `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
providers:
  hook: { type: webhook, url: '${url}', secret: ${SECRET} }
resources:
  - id: deploy-staging
    name: Staging deploys
    provider: hook
    maxDuration: 4h
    approvalsRequired: 0
  - id: deploy-prod
    name: Production deploys
    provider: hook
    maxDuration: 4h
    approvalsRequired: 0
`;
    const p = await start(yaml);
    const staging = await activeGrant(p, 'deploy-staging', '1h');
    const prod = await activeGrant(p, 'deploy-prod', '2h');
    expect(receiver.held.has(staging)).toBe(true);

    h.clock.set((await h.core.grant(staging))!.expiresAt!);
    await p.sweeper.tick();

    expect((await h.core.grant(staging))!.status).toBe('revoked');
    expect((await h.core.grant(prod))!.status).toBe('active');
    // The receiver keys access on resource.id: staging's revoke must reach it.
    expect(receiver.callsOf('revoke').map((c) => c.body.grantId)).toEqual([staging]);
    expect(receiver.held.has(staging)).toBe(false);
  });

  /**
   * A grant made before terms were recorded (snapshot null) acts on its resource as configured
   * today; where that names the channel another resource's grant holds, it is one access.
   */
  it("a legacy grant's end (no recorded terms) does not kick the person out of a channel another resource's grant holds", async () => {
    const yaml = () => `
timezone: UTC
admins: [UADMIN]
requests: { approverChannel: CAPPROVALS }
providers:
  chan: { type: slack-channel }
resources:
  - id: war-room
    name: War room
    provider: chan
    target: { channel: CWARONE }
    maxDuration: 2h
    approvalsRequired: 0
    approverChannel: CWARAPPROVE
  - id: incident-room
    name: Incident room
    provider: chan
    target: { channel: CWARONE }
    maxDuration: 2h
    approvalsRequired: 0
    approverChannel: CWARAPPROVE
`;
    const p = await start(yaml);
    const a = await activeGrant(p, 'war-room', '1h');
    // a was made by a Hallpass from before terms were recorded.
    await h.sql.run('UPDATE grants SET snapshot = NULL WHERE id = ?', a);
    h.clock.advance(10 * MIN);
    const b = await activeGrant(p, 'incident-room', '1h');
    expect(fake.members.CWARONE?.has('UREQ')).toBe(true);

    h.clock.set((await h.core.grant(a))!.expiresAt!);
    await p.sweeper.tick();

    expect((await h.core.grant(a))!.status).toBe('revoked');
    expect((await h.core.grant(b))!.status).toBe('active');
    expect(fake.calls.filter((c) => c.method === 'conversations.kick')).toEqual([]);
    expect(fake.members.CWARONE?.has('UREQ')).toBe(true);
  });

  it("the old grant's expiry does not kick the person out while the renamed resource's grant holds the same channel", async () => {
    const before = await start(() => channelConfig('war-room'));
    const a = await activeGrant(before, 'war-room');
    await before.sweeper.stop();

    // war-room is renamed incident-room (same provider, same channel) and the bot restarted.
    const after = await boot(channelConfig('incident-room'));
    h.clock.advance(10 * MIN);
    const b = await activeGrant(after, 'incident-room');
    expect(JSON.parse((await h.core.grant(a))!.snapshot!).target).toEqual(
      JSON.parse((await h.core.grant(b))!.snapshot!).target,
    );
    expect(fake.members[C1]?.has('UREQ')).toBe(true);

    // a's hour is up; b has 10 minutes left.
    h.clock.set((await h.core.grant(a))!.expiresAt!);
    await after.sweeper.tick();

    expect((await h.core.grant(a))!.status).toBe('revoked');
    expect((await h.core.grant(b))!.status).toBe('active');
    // The record says b is active: the person must still be in the channel.
    expect(fake.calls.filter((c) => c.method === 'conversations.kick')).toEqual([]);
    expect(fake.members[C1]?.has('UREQ')).toBe(true);
  });

  it("the reconciler's read-back of the old grant does not 'repair' away the renamed resource's grant", async () => {
    const before = await start(() => channelConfig('war-room'));
    const a = await activeGrant(before, 'war-room');
    h.clock.set((await h.core.grant(a))!.expiresAt!);
    await before.sweeper.tick();
    expect((await h.core.grant(a))!.status).toBe('revoked');
    expect(fake.members[C1]?.has('UREQ')).toBe(false);
    await before.sweeper.stop();

    // Renamed and restarted; a minute later the person asks for the renamed resource.
    const after = await boot(channelConfig('incident-room'));
    h.clock.advance(MIN);
    const b = await activeGrant(after, 'incident-room');
    const kicksBefore = fake.calls.filter((c) => c.method === 'conversations.kick').length;

    // a's scheduled read-back, 2 min after its end.
    h.clock.advance(MIN);
    const findings = await after.reconciler.run();

    // b holds the same channel by right: a's read-back must not count it as drift and kick.
    expect(findings.find((f) => f.grantId === a)).toMatchObject({
      expected: 'absent',
      found: 'covered',
      coveredBy: b,
    });
    expect(fake.calls.filter((c) => c.method === 'conversations.kick')).toHaveLength(kicksBefore);
    expect((await h.core.grant(b))!.status).toBe('active');
  });
});
