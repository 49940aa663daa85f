import { userInfo } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LogLevel, WebClient } from '@slack/web-api';
import { StaticDirectory } from '../../src/core/directory';
import { AccessTurns } from '../../src/jobs/access-turns';
import { ProviderCalls } from '../../src/jobs/provider-calls';
import type { ProviderLookup } from '../../src/jobs/provider-call';
import { Reconciler } from '../../src/jobs/reconciler';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import { loadProviders } from '../../src/providers/registry';
import type { Provider } from '../../src/providers/types';
import { Sealer } from '../../src/secrets/seal';
import { OutboxDispatcher } from '../../src/slack/delivery/dispatcher';
import { cliEnv, runCli } from '../cli/run';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { FakeSlack } from '../support/fake-slack';
import { lookupOf, RecordingProvider } from '../support/recording-provider';
import { STORE_KINDS, type StoreKind } from '../support/stores';
import { tempDir } from '../support/tmp';
import { WebhookReceiver } from '../support/webhook-receiver';

/**
 * Issue #9, item 4: continuous verification. The reconciler reads grants back with the
 * provider's `check`; what disagrees with the record is drift, audited, alerted and repaired.
 */

const JUST = 'investigating INC-42 slow queries';
const SEC = 1000;
const MIN = 60 * SEC;
const sealer = new Sealer('test-sealing-secret');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Rig {
  h: CoreHarness;
  provider: RecordingProvider;
  sweeper: Sweeper;
  reconciler: Reconciler;
  busy: Set<string>;
}

/** A sweeper and a reconciler sharing their busy set and tracked calls, as the bot runs them. */
function rig(
  h: CoreHarness,
  provider: RecordingProvider,
  lookup?: ProviderLookup,
  operator?: string,
): Rig {
  const busy = new Set<string>();
  const providers = lookup ?? lookupOf({ hook: provider });
  const deps = {
    core: h.core,
    providers,
    directory: new StaticDirectory({}, { UREQ: 'req@example.com' }),
    sealer,
    logger,
    busy,
    calls: new ProviderCalls(),
    turns: new AccessTurns(providers),
  };
  return {
    h,
    provider,
    busy,
    sweeper: new Sweeper({ ...deps, random: () => 1 }),
    reconciler: new Reconciler({ ...deps, ...(operator ? { operator } : {}) }),
  };
}

describe.each(STORE_KINDS)('reconciler (%s)', (kind: StoreKind) => {
  let r: Rig;
  let h: CoreHarness;
  let provider: RecordingProvider;

  beforeEach(async () => {
    h = await coreHarness(BASE_CONFIG, undefined, kind);
    provider = new RecordingProvider();
    r = rig(h, provider);
  });
  afterEach(async () => {
    await r.sweeper.stop();
    await r.reconciler.stop();
    await h.close();
  });

  async function active(resourceId = 'auto', duration = '30m', requester = 'UREQ') {
    const req = await h.core.createRequest({
      requester,
      resourceId,
      duration,
      justification: JUST,
    });
    if (req.status === 'pending')
      await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
    const grantId = await h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
    await r.sweeper.tick();
    expect((await grant(grantId)).status).toBe('active');
    return grantId;
  }

  /** A grant that ran its course: activated, expired, revoked (and confirmed) by the sweeper. */
  async function ended(requester = 'UREQ') {
    const grantId = await active('auto', '30m', requester);
    h.clock.advance(30 * MIN);
    await r.sweeper.tick();
    const row = await grant(grantId);
    expect(row.status).toBe('revoked');
    return row;
  }

  const grant = async (id: string) => (await h.core.grant(id))!;
  const driftEvents = async (grantId: string) =>
    (
      await h.sql.all<{ details: string }>(
        "SELECT details FROM audit_events WHERE grant_id = ? AND action = 'grant.drift' ORDER BY seq",
        grantId,
      )
    ).map((e) => JSON.parse(e.details) as Record<string, unknown>);
  const driftAlerts = async (grantId: string) =>
    (
      await h.sql.all<{ payload: string }>(
        "SELECT payload FROM outbox WHERE topic = 'drift' ORDER BY id",
      )
    )
      .map((e) => JSON.parse(e.payload) as Record<string, unknown>)
      .filter((p) => p.grantId === grantId);
  const counts = async () => ({
    audit: await h.sql.value<number>('SELECT count(*) FROM audit_events'),
    outbox: await h.sql.value<number>('SELECT count(*) FROM outbox'),
  });

  it('re-grants an active grant whose access vanished: audited, alerted to its approvers and the admins, verified', async () => {
    const grantId = await active('prod-db', '1h');
    provider.present.clear();
    h.clock.advance(5 * MIN);

    expect(await r.reconciler.run()).toEqual([
      {
        grantId,
        userId: 'UREQ',
        resourceId: 'prod-db',
        expected: 'present',
        found: 'absent',
        repaired: true,
      },
    ]);
    expect(provider.present.has('UREQ/prod-db')).toBe(true);
    expect(provider.calls.map((c) => c.action)).toEqual(['grant', 'check', 'grant', 'check']);
    expect(await driftEvents(grantId)).toEqual([
      { expected: 'present', found: 'absent', repaired: true },
    ]);
    expect(await driftAlerts(grantId)).toEqual([
      {
        topic: 'drift',
        grantId,
        channel: 'CDBA',
        admins: ['UADMIN'],
        expected: 'present',
        repaired: true,
      },
    ]);
    expect((await grant(grantId)).verifiedAt).toBe(h.clock.now());

    // In agreement now: verified again, nothing more audited or alerted.
    h.clock.advance(5 * MIN);
    const before = await counts();
    expect((await r.reconciler.run()).map((f) => f.found)).toEqual(['present']);
    expect(await counts()).toEqual(before);
    expect((await grant(grantId)).verifiedAt).toBe(h.clock.now());

    // What the approvers and the admins read.
    const fake = await new FakeSlack().start();
    try {
      const dispatcher = new OutboxDispatcher({
        clock: h.clock,
        client: new WebClient('xoxb-test', {
          slackApiUrl: fake.url,
          retryConfig: { retries: 0 },
          logLevel: LogLevel.ERROR,
        }),
        sealer,
        core: h.core,
        logger,
        options: { callTimeoutMs: 2000, random: () => 0.5 },
      });
      await dispatcher.drain();
      const posted = fake
        .callsOf('chat.postMessage')
        .filter((c) => String(c.args.text).includes('went missing'));
      expect(posted.map((c) => c.args.channel)).toEqual(['CDBA', 'UADMIN']);
      expect(posted[0]!.args.text).toContain(
        `The access of grant ${grantId} went missing while active; Hallpass repaired it.`,
      );
      expect(JSON.stringify(posted[0]!.args.blocks)).toContain(
        'Access that should be active was missing from the target system. Hallpass granted it again and a read-back confirms it is there.',
      );
    } finally {
      await fake.stop();
    }
  });

  it('revokes again an ended grant whose access came back, and confirms it with a check', async () => {
    const row = await ended();
    expect(row.recheckAt).toBe(row.endedAt! + 2 * MIN);
    provider.present.add('UREQ/auto');
    h.clock.set(row.recheckAt!);
    const before = provider.calls.length;

    expect(await r.reconciler.run()).toEqual([
      {
        grantId: row.id,
        userId: 'UREQ',
        resourceId: 'auto',
        expected: 'absent',
        found: 'present',
        repaired: true,
      },
    ]);
    expect(provider.calls.slice(before).map((c) => c.action)).toEqual(['check', 'revoke', 'check']);
    expect(provider.present.size).toBe(0);
    expect(await driftEvents(row.id)).toEqual([
      { expected: 'absent', found: 'present', repaired: true },
    ]);
    expect(await driftAlerts(row.id)).toMatchObject([
      { channel: 'CAPPROVALS', admins: ['UADMIN'], expected: 'absent', repaired: true },
    ]);
    // Still ended as it was, and watched again on the usual schedule.
    expect(await grant(row.id)).toMatchObject({
      status: 'revoked',
      endedAt: row.endedAt,
      rechecks: 0,
      recheckAt: h.clock.now() + 2 * MIN,
    });
  });

  it('audits and alerts a repair of an active grant that fails, and retries it on the next run', async () => {
    const grantId = await active('prod-db', '1h');
    provider.present.clear();
    provider.plan.push('fail');
    h.clock.advance(5 * MIN);

    expect(await r.reconciler.run()).toEqual([
      {
        grantId,
        userId: 'UREQ',
        resourceId: 'prod-db',
        expected: 'present',
        found: 'absent',
        repaired: false,
        error: 'grant refused by the test',
      },
    ]);
    expect(provider.present.size).toBe(0);
    expect(await driftEvents(grantId)).toEqual([
      { expected: 'present', found: 'absent', repaired: false, error: 'grant refused by the test' },
    ]);
    expect(await driftAlerts(grantId)).toMatchObject([
      { channel: 'CDBA', expected: 'present', repaired: false, error: 'grant refused by the test' },
    ]);
    expect((await grant(grantId)).verifiedAt).toBeNull();

    h.clock.advance(5 * MIN);
    expect((await r.reconciler.run()).map((f) => f.repaired)).toEqual([true]);
    expect(provider.present.has('UREQ/prod-db')).toBe(true);
    expect((await driftEvents(grantId)).map((e) => e.repaired)).toEqual([false, true]);
    expect((await grant(grantId)).verifiedAt).toBe(h.clock.now());
  });

  it('reads an ended grant whose repair failed back again after a backoff, and repairs it then', async () => {
    const row = await ended();
    provider.present.add('UREQ/auto');
    provider.plan.push('fail');
    h.clock.set(row.recheckAt!);

    expect((await r.reconciler.run()).map((f) => [f.found, f.repaired, f.error])).toEqual([
      ['present', false, 'revoke refused by the test'],
    ]);
    expect(provider.present.size).toBe(1);
    expect(await driftAlerts(row.id)).toMatchObject([
      { expected: 'absent', repaired: false, error: 'revoke refused by the test' },
    ]);
    const retry = (await grant(row.id)).recheckAt!;
    // backoff of a first attempt: between half and all of retryBase (5 s)
    expect(retry - h.clock.now()).toBeGreaterThanOrEqual(2.5 * SEC);
    expect(retry - h.clock.now()).toBeLessThanOrEqual(5 * SEC);

    h.clock.set(retry - 1);
    expect(await r.reconciler.run()).toEqual([]);
    h.clock.set(retry);
    expect((await r.reconciler.run()).map((f) => [f.found, f.repaired])).toEqual([
      ['present', true],
    ]);
    expect(provider.present.size).toBe(0);
  });

  it('audits the read-backs of a run an operator made with the operator', async () => {
    const row = await ended();
    const cli = rig(h, provider, undefined, 'cli:ops');
    h.clock.set(row.endedAt! + 2 * MIN);
    expect((await cli.reconciler.run()).map((f) => f.found)).toEqual(['absent']);
    expect(
      await h.sql.all(
        "SELECT actor FROM audit_events WHERE grant_id = ? AND action = 'grant.rechecked'",
        row.id,
      ),
    ).toEqual([{ actor: 'cli:ops' }]);
  });

  it('reads an ended grant back at end + 2m and end + 15m, audited, then never again', async () => {
    const row = await ended();
    const end = row.endedAt!;
    const checks = () => provider.callsOf('check').length;
    const base = checks();
    const rechecked = async () =>
      (
        await h.sql.all<{ details: string }>(
          "SELECT details FROM audit_events WHERE grant_id = ? AND action = 'grant.rechecked' ORDER BY seq",
          row.id,
        )
      ).map((e) => JSON.parse(e.details) as Record<string, unknown>);

    h.clock.set(end + 2 * MIN - 1);
    expect(await r.reconciler.run()).toEqual([]);
    expect(checks()).toBe(base);

    h.clock.set(end + 2 * MIN);
    expect((await r.reconciler.run()).map((f) => [f.expected, f.found])).toEqual([
      ['absent', 'absent'],
    ]);
    expect(checks()).toBe(base + 1);
    expect(await grant(row.id)).toMatchObject({ rechecks: 1, recheckAt: end + 15 * MIN });

    h.clock.set(end + 15 * MIN - 1);
    expect(await r.reconciler.run()).toEqual([]);
    h.clock.set(end + 15 * MIN);
    expect((await r.reconciler.run()).map((f) => f.found)).toEqual(['absent']);
    expect(checks()).toBe(base + 2);
    expect(await grant(row.id)).toMatchObject({ rechecks: 2, recheckAt: null });
    expect(await rechecked()).toEqual([
      { present: false, rechecks: 1, sinceEndMs: 2 * MIN },
      { present: false, rechecks: 2, sinceEndMs: 15 * MIN },
    ]);

    h.clock.set(end + 24 * 60 * MIN);
    expect(await r.reconciler.run()).toEqual([]);
    expect(checks()).toBe(base + 2);
    expect(await driftEvents(row.id)).toEqual([]);
  });

  it('reports grants whose provider has no check as unreadable, and stops re-reading ended ones', async () => {
    const bare: Provider = {
      guarantees: provider.guarantees,
      grant: (ctx) => provider.grant(ctx),
      revoke: (ctx) => provider.revoke(ctx),
    };
    r = rig(h, provider, lookupOf({ hook: bare }));
    const gone = await active('auto', '30m', 'UREQ');
    const live = await active('auto', '1h', 'UOTHER');
    h.clock.advance(30 * MIN);
    await r.sweeper.tick();
    expect((await grant(gone)).status).toBe('revoked');
    h.clock.advance(2 * MIN);

    const findings = await r.reconciler.run();
    expect(findings.map((f) => [f.grantId, f.expected, f.found]).sort()).toEqual(
      [
        [gone, 'absent', 'unreadable'],
        [live, 'present', 'unreadable'],
      ].sort(),
    );
    expect(await grant(gone)).toMatchObject({ recheckAt: null, rechecks: 1 });
    expect(
      JSON.parse(
        await h.sql.value<string>(
          "SELECT details FROM audit_events WHERE grant_id = ? AND action = 'grant.rechecked'",
          gone,
        ),
      ),
    ).toEqual({ readable: false, why: 'its provider has no check' });
    expect((await grant(live)).verifiedAt).toBeNull();
    expect(await driftEvents(live)).toEqual([]);
  });

  // A bot restarted without a provider that only ended grants used still owes their read-back:
  // a grant call that landed after the revoke would otherwise never be found.
  it('keeps the read-back an ended grant owes while its provider is out of the configuration', async () => {
    const gone = await ended();
    r = rig(h, provider, lookupOf({}));
    h.clock.advance(2 * MIN);
    expect(await r.reconciler.run()).toEqual([
      expect.objectContaining({
        grantId: gone.id,
        found: 'error',
        error: expect.stringContaining('provider "hook" is not in the configuration any more'),
      }),
    ]);
    expect(await grant(gone.id)).toMatchObject({ recheckAt: gone.recheckAt, rechecks: 0 });
    expect(
      await h.sql.value("SELECT count(*) FROM audit_events WHERE action = 'grant.rechecked'"),
    ).toBe(0);
  });

  it('counts a check that answers neither true nor false as an error, never as gone', async () => {
    const gone = (await ended()).id;
    h.clock.advance(2 * MIN);
    // The access came back, and a module's check forgot its return.
    provider.present.add('UREQ/auto');
    Object.assign(provider, { check: async () => undefined });
    const findings = await r.reconciler.run();
    expect(findings).toEqual([
      expect.objectContaining({
        grantId: gone,
        found: 'error',
        error: 'check answered undefined, not true or false',
      }),
    ]);
    expect(await grant(gone)).toMatchObject({ rechecks: 0 });
    expect(await driftEvents(gone)).toEqual([]);
  });

  it('changes nothing in a dry run and reports the drift', async () => {
    const grantId = await active('prod-db', '1h');
    provider.present.clear();
    h.clock.advance(5 * MIN);
    const before = await counts();
    const row = await grant(grantId);
    const calls = provider.calls.length;

    expect(await r.reconciler.run({ dryRun: true })).toEqual([
      { grantId, userId: 'UREQ', resourceId: 'prod-db', expected: 'present', found: 'absent' },
    ]);
    expect(await counts()).toEqual(before);
    expect(await grant(grantId)).toEqual(row);
    expect(provider.calls.slice(calls).map((c) => c.action)).toEqual(['check']);
    expect(provider.present.size).toBe(0);

    // The same run for real has something to do.
    expect((await r.reconciler.run()).map((f) => f.repaired)).toEqual([true]);
    expect(provider.present.size).toBe(1);
  });

  it('reports an ended grant whose access came back in a dry run too, changing nothing', async () => {
    const row = await ended();
    provider.present.add('UREQ/auto');
    h.clock.set(row.recheckAt!);
    const before = await counts();
    const revokes = provider.callsOf('revoke').length;

    expect(await r.reconciler.run({ dryRun: true })).toEqual([
      { grantId: row.id, userId: 'UREQ', resourceId: 'auto', expected: 'absent', found: 'present' },
    ]);
    expect(await counts()).toEqual(before);
    expect(await grant(row.id)).toEqual(row);
    expect(provider.callsOf('revoke')).toHaveLength(revokes);
    expect(provider.present.size).toBe(1);
  });

  it('leaves alone a grant the sweeper is calling the provider for (shared busy set)', async () => {
    r = rig(h, provider, lookupOf({ hook: provider }, 300));
    const grantId = await active('auto', '30m');
    const ext = await h.core.requestExtension({
      grantId,
      actor: 'UREQ',
      duration: '15m',
      justification: 'the migration is still running',
    });
    expect(ext.status).toBe('approved');
    h.clock.advance(MIN);
    // The sweeper tells the provider the new expiry; that call hangs until its timeout.
    provider.plan.push('hang');
    const sweeping = r.sweeper.tick();
    while (provider.inFlight === 0) await sleep(2);
    expect(r.busy.has(grantId)).toBe(true);
    const checks = provider.callsOf('check').length;

    expect(await r.reconciler.run()).toEqual([]);
    expect(provider.callsOf('check')).toHaveLength(checks);
    await sweeping;
    expect(r.busy.size).toBe(0);

    expect((await r.reconciler.run()).map((f) => [f.grantId, f.found])).toEqual([
      [grantId, 'present'],
    ]);
  });

  it('leaves alone an active grant within a minute of its end', async () => {
    const grantId = await active('auto', '30m');
    const { expiresAt } = await grant(grantId);
    provider.present.clear();
    h.clock.set(expiresAt! - 61 * SEC);
    expect((await r.reconciler.run()).map((f) => [f.found, f.repaired])).toEqual([
      ['absent', true],
    ]);

    provider.present.clear();
    const calls = provider.calls.length;
    h.clock.set(expiresAt! - 59 * SEC);
    expect(await r.reconciler.run()).toEqual([]);
    expect(provider.calls.length).toBe(calls);
    expect(provider.present.size).toBe(0);
    expect(await driftEvents(grantId)).toHaveLength(1);
  });
});

describe.each(STORE_KINDS)('hallpass grants reconcile (%s)', (kind: StoreKind) => {
  const SECRET = 'reconcile-hook-secret';
  let receiver: WebhookReceiver;
  let h: CoreHarness;
  const dir = tempDir();
  afterAll(() => dir.cleanup());
  afterEach(async () => {
    await receiver.stop();
    await h.close();
  });

  it('prints what it read back, repairs only without --dry-run, and exits 1 on drift', async () => {
    receiver = await new WebhookReceiver(SECRET).start();
    const yaml = `
timezone: UTC
admins: [UADMIN]
requests:
  approverChannel: CAPPROVALS
providers:
  hook:
    type: webhook
    url: ${receiver.url}
    secret: ${SECRET}
resources:
  - id: auto
    name: Auto approved
    provider: hook
    maxDuration: 1h
    approvalsRequired: 0
`;
    const file = join(dir.dir, `hallpass-${kind}.yml`);
    writeFileSync(file, yaml);
    h = await coreHarness(yaml, undefined, kind);
    const providers = await loadProviders(h.config, { configDir: dir.dir });
    const sweeper = new Sweeper({
      core: h.core,
      providers,
      directory: new StaticDirectory(),
      sealer,
      logger,
    });
    const req = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    const grantId = await h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
    await sweeper.tick();
    await providers.closeAll();
    expect(receiver.held.has(grantId)).toBe(true);

    receiver.held.delete(grantId);
    h.clock.advance(5 * MIN);
    const env = cliEnv(h.location, {
      HALLPASS_CONFIG: file,
      HALLPASS_SECRET_KEY: 'cli-sealing-secret',
    });
    const who = `${grantId} (UREQ on auto)`;

    const dry = await runCli(['grants', 'reconcile', '--dry-run'], env, h.clock);
    expect(dry).toEqual({
      code: 1,
      stdout: `read back (dry run, nothing changed): 1 grant(s), 1 with drift\n  ${who}: DRIFT: expected present, found absent\n`,
      stderr: '',
    });
    expect(receiver.callsOf('grant')).toHaveLength(1);
    expect(receiver.held.has(grantId)).toBe(false);
    expect(
      await h.sql.value("SELECT count(*) FROM audit_events WHERE action = 'grant.drift'"),
    ).toBe(0);

    const real = await runCli(['grants', 'reconcile'], env, h.clock);
    expect(real).toEqual({
      code: 1,
      stdout: `reconciled: 1 grant(s), 1 with drift\n  ${who}: DRIFT: expected present, found absent; repaired\n`,
      stderr: '',
    });
    expect(receiver.held.has(grantId)).toBe(true);
    // A repair made from the CLI names its operator, as `grants revoke` does.
    expect(await h.sql.all("SELECT actor FROM audit_events WHERE action = 'grant.drift'")).toEqual([
      { actor: `cli:${userInfo().username}` },
    ]);
    expect(await h.sql.value("SELECT count(*) FROM outbox WHERE topic = 'drift'")).toBe(1);

    const again = await runCli(['grants', 'reconcile'], env, h.clock);
    expect(again).toEqual({
      code: 0,
      stdout: `reconciled: 1 grant(s), 0 with drift\n  ${who}: present, as recorded\n`,
      stderr: '',
    });
  });
});
