import { LogLevel, WebClient } from '@slack/web-api';
import { parseConfig } from '../../src/config/load';
import { Core, TAKE_AHEAD_MS } from '../../src/core';
import { StaticDirectory, type Directory } from '../../src/core/directory';
import { MIN_REARM_MS, Sweeper, type Timers } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import { loadProviders } from '../../src/providers/registry';
import type { ProviderSet } from '../../src/providers/provider-set';
import { Sealer } from '../../src/secrets/seal';
import { OutboxDispatcher } from '../../src/slack/delivery/dispatcher';
import { openStore, type Store } from '../../src/store';
import { coreHarness, type CoreHarness } from '../support/core';
import { FakeSlack } from '../support/fake-slack';
import { STORE_KINDS, type StoreKind } from '../support/stores';
import { WebhookReceiver } from '../support/webhook-receiver';

/**
 * Issue #9, items 1 and 2: a grant is acted on with the terms it was granted under (its recorded
 * target), whatever the configuration says after a restart; a grant made before terms were
 * recorded falls back to today's configuration; and a grant whose resource was removed is still
 * revoked at its recorded target, its failures counted, backed off and alerted without a loop.
 */

const JUST = 'investigating INC-42 slow queries';
const MIN = 60_000;
const HOUR = 60 * MIN;
/** The channel the grant was made for, and the one the configuration names after the edit. */
const C1 = 'CWARONE';
const C2 = 'CWARTWO';
const HOOK_SECRET = 'hook-secret-for-terms';

/** A directory whose emails the test changes, or takes down, and which counts its lookups. */
class ChangingDirectory extends StaticDirectory {
  lookups = 0;
  down = false;
  constructor(readonly addresses: Record<string, string>) {
    super();
  }
  override async emailOf(userId: string): Promise<string | undefined> {
    this.lookups += 1;
    if (this.down) throw new Error('users.info: service_unavailable');
    return this.addresses[userId];
  }
}

/** Timers that fire only when the test says so; they record every delay the sweeper asked for. */
class ArmedTimers implements Timers {
  readonly delays: number[] = [];
  private readonly pending = new Map<number, () => void>();
  private next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    this.delays.push(ms);
    this.pending.set(this.next, fn);
    return this.next++;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  /** Fires whatever is armed, as if its moment had come. */
  fire(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    due.forEach((fn) => fn());
  }
}

function channelConfig(channel: string): string {
  return `
timezone: UTC
admins: [UADMIN]
requests:
  approverChannel: CAPPROVALS
providers:
  chan:
    type: slack-channel
resources:
  - id: war-room
    name: War room
    provider: chan
    target: { channel: ${channel} }
    maxDuration: 2h
    maxTotalDuration: 4h
    approvalsRequired: 0
    approverChannel: CWARAPPROVE
`;
}

/** A webhook provider, with the war-room resource or (`withResource: false`) without it. */
function webhookConfig(url: string, withResource: boolean): string {
  const warRoom = `
  - id: war-room
    name: War room
    provider: hook
    target: { channel: ${C1} }
    maxDuration: 2h
    approvalsRequired: 0
    approverChannel: CWARAPPROVE`;
  return `
timezone: UTC
admins: [UADMIN]
requests:
  approverChannel: CAPPROVALS
sweeper:
  alertAfterAttempts: 2
providers:
  hook:
    type: webhook
    url: ${url}
    secret: ${HOOK_SECRET}
resources:${withResource ? warRoom : ''}
  - id: kept
    name: Kept
    provider: hook
    maxDuration: 1h
    approvalsRequired: 0
`;
}

/** One run of the bot's core and sweeper over the shared store, as after a (re)start. */
interface Process {
  core: Core;
  sweeper: Sweeper;
  timers: ArmedTimers;
  providers: ProviderSet;
  store: Store;
}

describe.each(STORE_KINDS)('grant terms (%s)', (kind: StoreKind) => {
  let h: CoreHarness;
  let fake: FakeSlack;
  let client: WebClient;
  let receiver: WebhookReceiver | undefined;
  const started: Process[] = [];
  const directory = new StaticDirectory({}, { UREQ: 'req@example.com' });
  const sealer = new Sealer('test-sealing-secret');

  beforeEach(async () => {
    h = await coreHarness(channelConfig(C1), undefined, kind);
    fake = await new FakeSlack().start();
    client = new WebClient('xoxb-test', {
      slackApiUrl: fake.url,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      logLevel: LogLevel.ERROR,
    });
  });
  afterEach(async () => {
    for (const p of started.splice(0)) {
      await p.sweeper.stop();
      await p.providers.closeAll();
      await p.store.close();
    }
    await receiver?.stop();
    receiver = undefined;
    await fake.stop();
    await h.close();
  });

  /** Starts a "process" with `yaml`: its own store connection, core, providers and sweeper. */
  async function boot(yaml: string, people: Directory = directory): Promise<Process> {
    const config = parseConfig(yaml, {});
    const providers = await loadProviders(config, { slack: client, configDir: __dirname });
    const store = await openStore(h.location);
    const core = new Core({
      store,
      clock: h.clock,
      config,
      directory: people,
      resolveTarget: (resource) => providers.forResource(resource.id)?.target ?? resource.target,
    });
    const timers = new ArmedTimers();
    const sweeper = new Sweeper({
      core,
      providers,
      directory: people,
      sealer,
      logger,
      timers,
      random: () => 1,
    });
    const p = { core, sweeper, timers, providers, store };
    started.push(p);
    return p;
  }

  async function grantFor(core: Core, resourceId = 'war-room'): Promise<string> {
    const req = await core.createRequest({
      requester: 'UREQ',
      resourceId,
      duration: '1h',
      justification: JUST,
    });
    return h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
  }

  const grant = async (id: string) => (await h.core.grant(id))!;

  /** The holder asks for `duration` more (approved at once: no approvals required), then a pass. */
  async function extend(p: Process, grantId: string, duration: string): Promise<void> {
    const ext = await p.core.requestExtension({
      grantId,
      actor: 'UREQ',
      duration,
      justification: 'the incident is still open',
    });
    expect(ext.status).toBe('approved');
    await p.sweeper.tick();
  }
  /** Every channel the Slack calls from `from` on addressed, per method. */
  const channels = (from: number) =>
    fake.calls.slice(from).map((c) => `${c.method} ${String(c.args.channel)}`);

  /** A grant of war-room made (and activated) while the configuration said C1. */
  async function grantedInC1(): Promise<string> {
    const before = await boot(channelConfig(C1));
    const grantId = await grantFor(before.core);
    await before.sweeper.tick();
    expect((await grant(grantId)).status).toBe('active');
    expect(fake.members[C1]?.has('UREQ')).toBe(true);
    expect(JSON.parse((await grant(grantId)).snapshot!)).toMatchObject({
      provider: 'chan',
      target: { channel: C1 },
      resourceName: 'War room',
      approverChannel: 'CWARAPPROVE',
    });
    await before.sweeper.stop();
    return grantId;
  }

  it('revokes at expiry in the channel it was granted in, not the one configured after a restart', async () => {
    const grantId = await grantedInC1();
    const from = fake.calls.length;
    const after = await boot(channelConfig(C2));
    h.clock.advance(HOUR);
    await after.sweeper.tick();

    expect(await grant(grantId)).toMatchObject({ status: 'revoked', endReason: 'expired' });
    expect(channels(from)).toEqual([`conversations.kick ${C1}`, `conversations.members ${C1}`]);
    expect(fake.members[C1]?.has('UREQ')).toBe(false);
    expect(fake.members[C2]).toBeUndefined();
  });

  it('revokes on /jit revoke in the recorded channel after a restart', async () => {
    const grantId = await grantedInC1();
    const from = fake.calls.length;
    const after = await boot(channelConfig(C2));
    h.clock.advance(10 * MIN);
    await after.core.revokeGrant({ grantId, actor: 'UREQ' });
    await after.sweeper.tick();

    expect(await grant(grantId)).toMatchObject({ status: 'revoked', endReason: 'revoked_by_user' });
    expect(channels(from)).toEqual([`conversations.kick ${C1}`, `conversations.members ${C1}`]);
    expect(fake.members[C1]?.has('UREQ')).toBe(false);
    expect(fake.members[C2]).toBeUndefined();
  });

  it('re-grants an extension in the recorded channel after a restart', async () => {
    const grantId = await grantedInC1();
    const after = await boot(channelConfig(C2));
    h.clock.advance(10 * MIN);
    // Taken away by hand meanwhile: the extension's re-grant must put it back where it was.
    fake.members[C1]!.delete('UREQ');
    const from = fake.calls.length;
    await extend(after, grantId, '1h');

    const extended = await grant(grantId);
    expect(extended.expiresAt).toBe(extended.startsAt! + 2 * HOUR);
    expect(extended.providerExpiresAt).toBe(extended.expiresAt);
    expect(channels(from)).toEqual([`conversations.invite ${C1}`]);
    expect(fake.members[C1]?.has('UREQ')).toBe(true);
    expect(fake.members[C2]).toBeUndefined();

    h.clock.set(extended.expiresAt!);
    await after.sweeper.tick();
    expect((await grant(grantId)).status).toBe('revoked');
    expect(channels(from).slice(1)).toEqual([
      `conversations.kick ${C1}`,
      `conversations.members ${C1}`,
    ]);
    expect(fake.members[C1]?.has('UREQ')).toBe(false);
  });

  it('falls back to the configuration of the day for a grant made before terms were recorded', async () => {
    const grantId = await grantedInC1();
    // As a grant written by a version that recorded no terms.
    await h.sql.run('UPDATE grants SET snapshot = NULL WHERE id = ?', grantId);
    const from = fake.calls.length;
    const after = await boot(channelConfig(C2));
    h.clock.advance(HOUR);
    await after.sweeper.tick();

    expect((await grant(grantId)).status).toBe('revoked');
    expect(channels(from)).toEqual([`conversations.kick ${C2}`, `conversations.members ${C2}`]);
    // What the configuration no longer names, an unrecorded grant cannot find: the known limit.
    expect(fake.members[C1]?.has('UREQ')).toBe(true);
  });

  it('revokes a grant whose resource was removed at its recorded target, counting failures with backoff, alerting after alertAfterAttempts, without a loop', async () => {
    receiver = await new WebhookReceiver(HOOK_SECRET).start();
    const before = await boot(webhookConfig(receiver.url, true));
    const grantId = await grantFor(before.core);
    await before.sweeper.tick();
    expect(receiver.held.has(grantId)).toBe(true);
    await before.sweeper.stop();

    const after = await boot(webhookConfig(receiver.url, false));
    expect(after.core.policy.findResource('war-room')).toBeUndefined();
    // Started, so it arms its exact timer after each pass; the test fires it.
    await after.sweeper.start();
    const wake = async () => {
      after.timers.fire();
      await after.sweeper.tick();
    };
    h.clock.advance(HOUR);
    receiver.fail({ kind: 'status', status: 503, body: 'down for maintenance' });
    receiver.fail({ kind: 'status', status: 503, body: 'down for maintenance' });

    await wake();
    let now = await grant(grantId);
    expect(now).toMatchObject({
      status: 'revoking',
      attempts: 1,
      lastError: 'revoke: webhook answered 503: down for maintenance',
    });
    expect(now.nextAttemptAt! - h.clock.now()).toBe(5_000);
    expect(await h.sql.value("SELECT count(*) FROM outbox WHERE topic = 'alert'")).toBe(0);
    // Nothing is tried again before its time, however often the sweeper passes.
    await wake();
    await wake();
    expect(receiver.callsOf('revoke')).toHaveLength(1);
    expect(after.timers.delays.at(-1)).toBe(5_000 - TAKE_AHEAD_MS);

    h.clock.set(now.nextAttemptAt!);
    await wake();
    now = await grant(grantId);
    expect(now).toMatchObject({ status: 'revoking', attempts: 2 });
    expect(now.nextAttemptAt! - h.clock.now()).toBe(10_000);
    expect(after.timers.delays.at(-1)).toBe(10_000 - TAKE_AHEAD_MS);
    const alerts = await h.sql.all<{ payload: string }>(
      "SELECT payload FROM outbox WHERE topic = 'alert'",
    );
    expect(alerts.map((a) => JSON.parse(a.payload))).toEqual([
      {
        topic: 'alert',
        grantId,
        channel: 'CWARAPPROVE',
        admins: ['UADMIN'],
        action: 'revoke',
        attempts: 2,
        error: 'revoke: webhook answered 503: down for maintenance',
      },
    ]);
    expect(
      await h.sql.value(
        "SELECT count(*) FROM audit_events WHERE grant_id = ? AND action = 'grant.revoke_alerted'",
        grantId,
      ),
    ).toBe(1);

    h.clock.set(now.nextAttemptAt!);
    await wake();
    expect((await grant(grantId)).status).toBe('revoked');
    expect(receiver.held.has(grantId)).toBe(false);

    // Every call about the grant carried the target it was granted with, never an empty one.
    const calls = receiver.calls.filter((c) => c.body.grantId === grantId);
    expect(calls.map((c) => c.action)).toEqual(['grant', 'revoke', 'revoke', 'revoke', 'check']);
    for (const call of calls) {
      expect(call.body.resource).toEqual({ id: 'war-room', target: { channel: C1 } });
    }
    // The timer was never asked for less than the floor: nothing spun.
    expect(Math.min(...after.timers.delays)).toBeGreaterThanOrEqual(MIN_REARM_MS);

    // The approvers are told in the channel recorded on the grant, in words they can act on.
    const dispatcher = new OutboxDispatcher({
      clock: h.clock,
      client,
      sealer,
      core: after.core,
      logger,
      options: { callTimeoutMs: 2000, random: () => 0.5 },
    });
    await dispatcher.drain();
    const posted = fake
      .callsOf('chat.postMessage')
      .filter((c) => String(c.args.text).includes('could not revoke'));
    expect(posted.map((c) => c.args.channel).sort()).toEqual(['CWARAPPROVE', 'UADMIN']);
    expect(posted[0]!.args.text).toContain(
      `(grant ${grantId}) after 2 attempts; it keeps retrying.`,
    );
  });

  describe('the person the access was given to', () => {
    /** The email each call of `action` about `grantId` named, in order. */
    const emailsIn = (grantId: string, action: string) =>
      receiver!
        .callsOf(action)
        .filter((c) => c.body.grantId === grantId)
        .map((c) => (c.body.user as { email: string | null }).email);

    async function grantedTo(people: ChangingDirectory): Promise<{ p: Process; grantId: string }> {
      receiver = await new WebhookReceiver(HOOK_SECRET).start();
      const p = await boot(webhookConfig(receiver.url, true), people);
      const grantId = await grantFor(p.core);
      await p.sweeper.tick();
      expect((await grant(grantId)).grantedEmail).toBe('req@example.com');
      expect(emailsIn(grantId, 'grant')).toEqual(['req@example.com']);
      return { p, grantId };
    }

    it('is named in the new expiry, the revoke and its read-back after their email changed', async () => {
      const people = new ChangingDirectory({ UREQ: 'req@example.com' });
      const { p, grantId } = await grantedTo(people);
      people.addresses.UREQ = 'renamed@example.com';
      const lookups = people.lookups;

      h.clock.advance(10 * MIN);
      await extend(p, grantId, '30m');
      h.clock.set((await grant(grantId)).expiresAt!);
      await p.sweeper.tick();

      expect((await grant(grantId)).status).toBe('revoked');
      expect(emailsIn(grantId, 'grant')).toEqual(['req@example.com', 'req@example.com']);
      expect(emailsIn(grantId, 'revoke')).toEqual(['req@example.com']);
      expect(emailsIn(grantId, 'check')).toEqual(['req@example.com']);
      expect(receiver!.held.has(grantId)).toBe(false);
      // None of those calls waited on the directory.
      expect(people.lookups).toBe(lookups);
    });

    it('is the one a retried activation names, after an attempt whose answer was lost', async () => {
      const people = new ChangingDirectory({ UREQ: 'req@example.com' });
      receiver = await new WebhookReceiver(HOOK_SECRET).start();
      const p = await boot(webhookConfig(receiver.url, true), people);
      const grantId = await grantFor(p.core);
      // The receiver gives the access, then the answer is lost: Hallpass must assume it landed.
      receiver.fail({ kind: 'drop' });
      await p.sweeper.tick();
      const cut = await grant(grantId);
      expect(cut.status).toBe('activating');
      expect(cut.grantedEmail).toBe('req@example.com');

      people.addresses.UREQ = 'renamed@example.com';
      h.clock.set(cut.nextAttemptAt!);
      await p.sweeper.tick();
      expect((await grant(grantId)).status).toBe('active');
      h.clock.advance(HOUR);
      await p.sweeper.tick();

      expect((await grant(grantId)).status).toBe('revoked');
      expect(emailsIn(grantId, 'grant')).toEqual(['req@example.com', 'req@example.com']);
      expect(emailsIn(grantId, 'revoke')).toEqual(['req@example.com']);
      // The audit says which account was (or may have been) given the access, both times.
      const named = await h.sql.all<{ action: string; account: string | null }>(
        `SELECT action, ${h.sql.json('details', 'account')} AS account FROM audit_events
          WHERE grant_id = ? AND action IN ('grant.activation_failed_attempt', 'grant.activated')
          ORDER BY seq`,
        grantId,
      );
      expect(named).toEqual([
        { action: 'grant.activation_failed_attempt', account: 'req@example.com' },
        { action: 'grant.activated', account: 'req@example.com' },
      ]);
      const told = (await p.core.audit.story(grantId))!.lines.map((l) => l.text);
      expect(told).toContainEqual(
        expect.stringMatching(/^provider grant failed \(attempt 1, for req@example\.com\): /),
      );
      expect(told).toContainEqual(
        expect.stringMatching(/^provider grant ok \(attempt 2, \d+ ms, for req@example\.com\): /),
      );
    });

    it('is named in the revoke while the directory is down', async () => {
      const people = new ChangingDirectory({ UREQ: 'req@example.com' });
      const { p, grantId } = await grantedTo(people);
      people.down = true;
      h.clock.advance(HOUR);
      await p.sweeper.tick();

      expect((await grant(grantId)).status).toBe('revoked');
      expect(emailsIn(grantId, 'revoke')).toEqual(['req@example.com']);
    });

    it('is looked up for a grant activated before the email was recorded', async () => {
      const people = new ChangingDirectory({ UREQ: 'req@example.com' });
      const { p, grantId } = await grantedTo(people);
      await h.sql.run('UPDATE grants SET granted_email = NULL WHERE id = ?', grantId);
      people.addresses.UREQ = 'renamed@example.com';
      h.clock.advance(HOUR);
      await p.sweeper.tick();

      expect((await grant(grantId)).status).toBe('revoked');
      expect(emailsIn(grantId, 'revoke')).toEqual(['renamed@example.com']);
    });
  });
});
