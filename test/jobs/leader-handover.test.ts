import pg from 'pg';
import { StaticDirectory } from '../../src/core/directory';
import { Core } from '../../src/core';
import { AccessTurns } from '../../src/jobs/access-turns';
import { LeaderJobs } from '../../src/jobs/leader-jobs';
import { ProviderCalls } from '../../src/jobs/provider-calls';
import { Sweeper } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import { Sealer } from '../../src/secrets/seal';
import { LOCKS } from '../../src/store/postgres/locks';
import { openStore, type Store } from '../../src/store';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';
import { lookupOf, RecordingProvider } from '../support/recording-provider';

const JUST = 'investigating INC-42 slow queries';
const PER_GRANT = {
  enforcesExpiry: false,
  endsOpenSessions: true,
  isolation: 'per-grant',
} as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ONE_LANE = `${BASE_CONFIG}
sweeper:
  concurrency: 1
`;

async function until(what: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(20);
  }
}

function sweeperOn(core: Core, provider: RecordingProvider): Sweeper {
  const providers = lookupOf({ hook: provider });
  return new Sweeper({
    core,
    providers,
    directory: new StaticDirectory(),
    sealer: new Sealer('test-sealing-secret'),
    logger,
    busy: new Set<string>(),
    calls: new ProviderCalls(),
    turns: new AccessTurns(providers),
    random: () => 1,
  });
}

/** Holds the provider's first grant call until `release()`; `reached` resolves when it comes. */
function holdFirstGrant(provider: RecordingProvider) {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let reach!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  provider.onCall = async (call) => {
    if (call.action === 'grant' && provider.callsOf('grant').length === 1) {
      reach();
      await held;
    }
  };
  return { release, reached };
}

async function file(h: CoreHarness, core: Core, requester: string): Promise<string> {
  const r = await core.createRequest({
    requester,
    resourceId: 'auto',
    duration: '30m',
    justification: JUST,
  });
  return h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', r.id);
}

/**
 * A leader that loses its lock mid-pass stops at once: the pass in progress finishes the calls it
 * has out and starts no more, since the new leader owns the work from then on. The first pass
 * after taking the lead (the catch-up after a failover, the longest) was once let run to its end:
 * its queue made grant calls after the new leader had recorded those grants revoked.
 */
describe('leadership lost during the first pass (PostgreSQL, two replicas)', () => {
  let h: CoreHarness;
  const stores: Store[] = [];
  beforeEach(async () => {
    h = await coreHarness(ONE_LANE, undefined, 'postgres');
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close().catch(() => undefined);
    await h.close();
  });

  it('the old leader starts no provider call after its lock is gone', async () => {
    const provider = new RecordingProvider(PER_GRANT);
    // Two approved grants waiting for activation, U1's first in the queue.
    await file(h, h.core, 'U1');
    h.clock.advance(1000);
    const g2 = await file(h, h.core, 'U2');

    // Replica 1's grant call for g1 (the first in its queue) is slow.
    let reached = false;
    const slow = holdFirstGrant(provider);
    void slow.reached.then(() => (reached = true));

    const store1 = h.store;
    const store2 = await openStore(h.location);
    stores.push(store2);
    const core2 = new Core({
      store: store2,
      clock: h.clock,
      config: h.config,
      directory: new StaticDirectory({ SDBA: ['UDBA'], SENG: ['UENG'] }),
    });
    const sweeper1 = sweeperOn(h.core, provider);
    const sweeper2 = sweeperOn(core2, provider);
    // Replica 2 campaigns every 50 ms, replica 1 again only a minute after it lost the lock: the
    // freed lock goes to replica 2 (a reconnecting replica 1 could otherwise take it back).
    const leader1 = new LeaderJobs(store1.leadership({ intervalMs: 60_000 }), [sweeper1], logger);
    const leader2 = new LeaderJobs(store2.leadership({ intervalMs: 50 }), [sweeper2], logger);

    // Replica 1 leads; its first pass is held in g1's grant call, g2 next in its queue.
    const started1 = leader1.start();
    await until(() => reached);
    await leader2.start();
    expect(leader2.leading).toBe(false);

    // The server drops replica 1's leadership session (a failover, an admin, a network blip).
    const pid = await h.sql.value<number>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objid = 2 AND granted
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    await h.sql.all('SELECT pg_terminate_backend(?)', pid);
    await until(() => !leader1.leading && leader2.leading);

    // Replica 2 leads: it activates g1 and g2; U2 then ends g2 and replica 2 revokes it.
    await until(async () => (await core2.grant(g2))!.status === 'active');
    await core2.revokeGrant({ grantId: g2, actor: 'U2' });
    await sweeper2.tick();
    expect((await core2.grant(g2))!.status).toBe('revoked');
    expect(provider.present.has(g2)).toBe(false);

    // Replica 1's slow call answers. It lost leadership seconds ago.
    const callsBefore = provider.calls.length;
    const taking = jest.spyOn(h.core.lifecycle, 'grantCall');
    slow.release();
    await started1;
    await Promise.all([leader1.stop(), leader2.stop()]);

    // The old leader's pass went no further: it did not even try to take g2's grant call (which
    // the grant's lease would refuse by now), and made no call for it.
    expect(taking).not.toHaveBeenCalled();
    expect((await core2.grant(g2))!.status).toBe('revoked');
    expect(provider.present.has(g2)).toBe(false);
    expect(provider.calls.slice(callsBefore).filter((c) => c.grantId === g2)).toEqual([]);
  });
});

/**
 * The lease is counted from when the write that takes it runs, not from before it: a write that
 * waited (here for the change lock another connection held, past twice the provider's timeout)
 * once wrote a lease already over, the call went out anyway, and the other replica activated,
 * revoked and recorded the grant revoked before that call landed.
 */
describe('a grant call whose lease waited for the database (PostgreSQL, two replicas)', () => {
  let h: CoreHarness;
  let locker: pg.Client | undefined;
  beforeEach(async () => {
    h = await coreHarness(ONE_LANE, undefined, 'postgres');
  });
  afterEach(async () => {
    await locker?.end().catch(() => undefined);
    await h.close();
  });

  it('still holds the grant while its call is out', async () => {
    const provider = new RecordingProvider(PER_GRANT);
    const g = await file(h, h.core, 'U1');
    const { release } = holdFirstGrant(provider);
    locker = new pg.Client({ connectionString: h.location.databaseUrl });
    await locker.connect();
    await locker.query('SELECT pg_advisory_lock($1, $2)', [...LOCKS.change]);
    const pass = sweeperOn(h.core, provider).tick();
    await until(
      async () =>
        (await h.sql.value<number>(
          `SELECT count(*)::int FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'
              AND query LIKE 'BEGIN;%pg_advisory_xact_lock%'`,
        )) > 0,
    );
    h.clock.advance(2 * 1_000 + 1);
    await locker.query('SELECT pg_advisory_unlock($1, $2)', [...LOCKS.change]);
    await until(() => provider.callsOf('grant').length === 1);

    const core2 = await h.another();
    const second = sweeperOn(core2, provider);
    await second.tick();
    await core2.revokeGrant({ grantId: g, actor: 'U1' });
    await second.tick();
    expect(provider.callsOf('grant')).toHaveLength(1);
    expect((await core2.grant(g))!.status).toBe('revoking');

    release();
    await pass;
    await second.tick();
    expect((await core2.grant(g))!.status).toBe('revoked');
    expect(provider.present.has(g)).toBe(false);
  });
});

/**
 * A grant call out on one replica (its leader before a failover, or a process that then died)
 * holds the grant's call (recordGrantCall): no other replica calls, and an early end waits, until
 * it answers or can no longer land. A revoke made before it landed would leave the access it
 * makes while the record says the grant was revoked.
 */
describe.each(STORE_KINDS)('a grant call out on another replica (%s)', (kind) => {
  let h: CoreHarness;
  beforeEach(async () => {
    h = await coreHarness(ONE_LANE, undefined, kind);
  });
  afterEach(async () => {
    await h.close();
  });

  it('holds the grant: the other replica neither calls nor revokes until it lands', async () => {
    const provider = new RecordingProvider(PER_GRANT);
    const g = await file(h, h.core, 'U1');
    const { release, reached } = holdFirstGrant(provider);
    const first = sweeperOn(h.core, provider);
    const pass = first.tick();
    await reached;

    // The other replica leads now. The holder ends the grant while the first call is out.
    const core2 = await h.another();
    const second = sweeperOn(core2, provider);
    await second.tick();
    await core2.revokeGrant({ grantId: g, actor: 'U1' });
    await second.tick();
    expect(provider.callsOf('grant')).toHaveLength(1);
    expect(provider.callsOf('revoke')).toHaveLength(0);
    expect((await core2.grant(g))!.status).toBe('revoking');

    // The first call lands: the revoke is due at once, and ends what it made.
    release();
    await pass;
    await second.tick();
    expect(provider.callsOf('revoke')).toHaveLength(1);
    expect((await core2.grant(g))!.status).toBe('revoked');
    expect(provider.present.has(g)).toBe(false);
  });

  it('keeps the lease another replica took after this one ran out, when this one answers late', async () => {
    const g = await file(h, h.core, 'U1');
    const leaseA = await h.core.lifecycle.grantCall(g, 'u1@example.com', 1_000);
    const core2 = await h.another();
    h.clock.set(leaseA!);
    const leaseB = await core2.lifecycle.grantCall(g, 'u1@example.com', 1_000);
    expect(leaseB).toBe(leaseA! + 2_000);
    h.clock.advance(10);
    const retry = { retryBase: 5_000, retryMax: 600_000, alertAfterAttempts: 5 };
    await h.core.lifecycle.failed(g, 'grant', 'HTTP 502', retry, { lease: leaseA });
    expect((await core2.grant(g))!.fenceUntil).toBe(leaseB);
    await core2.revokeGrant({ grantId: g, actor: 'U1' });
    expect((await core2.grant(g))!.nextAttemptAt).toBe(leaseB);
    // The first call lands after all: still B's lease, and the revoke waits for B's call.
    await h.core.lifecycle.activated(g, {
      startsAt: h.clock.now(),
      expiresAt: h.clock.now() + 30 * 60_000,
      state: undefined,
      elapsedMs: 3_000,
      lease: leaseA,
    });
    expect(await core2.grant(g)).toMatchObject({ fenceUntil: leaseB, nextAttemptAt: leaseB });
  });

  it('a call that never answers (its process died) holds the grant no longer than its fence', async () => {
    const provider = new RecordingProvider(PER_GRANT);
    const g = await file(h, h.core, 'U1');
    // Its call was taken, and the process died before it answered.
    const until = await h.core.lifecycle.grantCall(g, 'u1@example.com', 1_000);
    expect(until).toBe(h.clock.now() + 2_000);

    const core2 = await h.another();
    const second = sweeperOn(core2, provider);
    await second.tick();
    expect(provider.callsOf('grant')).toHaveLength(0);
    h.clock.set(until!);
    await second.tick();
    expect(provider.callsOf('grant')).toHaveLength(1);
    expect((await core2.grant(g))!.status).toBe('active');
  });
});
