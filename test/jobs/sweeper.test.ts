import { TAKE_AHEAD_MS } from '../../src/core';
import { StaticDirectory } from '../../src/core/directory';
import { MIN_REARM_MS, Sweeper, type Timers } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import { Sealer } from '../../src/secrets/seal';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { lookupOf, RecordingProvider } from '../support/recording-provider';
import { STORE_KINDS, type StoreKind } from '../support/stores';
import { refuse, restoreTriggers } from '../store/triggers';

const JUST = 'investigating INC-42 slow queries';
const MIN = 60_000;

/** Timers that only fire when the test says so, recording when the sweeper asked to wake. */
class ManualTimers implements Timers {
  pending = new Map<number, { fn: () => void; ms: number }>();
  private next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.set(id, { fn, ms });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  only(): { fn: () => void; ms: number } {
    expect(this.pending.size).toBe(1);
    return [...this.pending.values()][0]!;
  }
  /** The one timer, once the sweeper (which reads the store first) has asked for it. */
  async armed(): Promise<{ fn: () => void; ms: number }> {
    const deadline = Date.now() + 5_000;
    while (this.pending.size === 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 5));
    return this.only();
  }
  fire(): void {
    const [id, timer] = [...this.pending.entries()][0]!;
    this.pending.delete(id);
    timer.fn();
  }
  /** Fires the timers pending now, not the ones they set in turn. */
  fireAll(): void {
    const now = [...this.pending.entries()];
    this.pending.clear();
    for (const [, timer] of now) timer.fn();
  }
}

const sealer = new Sealer('test-sealing-secret');

interface Rig {
  h: CoreHarness;
  provider: RecordingProvider;
  timers: ManualTimers;
  sweeper: Sweeper;
}

function rig(h: CoreHarness, provider = new RecordingProvider(), timeoutMs = 1000): Rig {
  const timers = new ManualTimers();
  const sweeper = new Sweeper({
    core: h.core,
    providers: lookupOf({ hook: provider }, timeoutMs),
    directory: new StaticDirectory({}, { UREQ: 'req@example.com' }),
    sealer,
    logger,
    timers,
    random: () => 1,
  });
  return { h, provider, timers, sweeper };
}

async function approved(
  h: CoreHarness,
  resourceId = 'auto',
  duration = '30m',
  requester = 'UREQ',
): Promise<string> {
  const req = await h.core.createRequest({ requester, resourceId, duration, justification: JUST });
  if (req.status === 'pending')
    await h.core.decide({ requestId: req.id, actor: 'ULEAD', decision: 'approve' });
  return h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
}

describe.each(STORE_KINDS)('sweeper (%s)', (kind: StoreKind) => {
  let r: Rig;
  const harness = () => coreHarness(BASE_CONFIG, undefined, kind);
  const grant = async (id: string) => (await r.h.core.grant(id))!;
  beforeEach(async () => (r = rig(await harness())));
  afterEach(async () => {
    await r.sweeper.stop();
    await restoreTriggers();
    await r.h.close();
  });

  it('leaves a grant that changed status between its listing and its taking to its next moment', async () => {
    const grantId = await approved(r.h);
    const replica = await r.h.another();
    const list = r.h.core.lifecycle.due.bind(r.h.core.lifecycle);
    jest.spyOn(r.h.core.lifecycle, 'due').mockImplementationOnce(async (limit, after) => {
      const listed = await list(limit, after);
      // Another replica activates it after this one listed it as activating.
      const now = r.h.clock.now();
      await replica.lifecycle.activated(grantId, {
        startsAt: now,
        expiresAt: now + 30 * MIN,
        state: undefined,
        elapsedMs: 2,
      });
      return listed;
    });
    const started = r.sweeper.start();
    // Taken as it now is, the grant would hold a lane of the pass until its expiry, half an hour
    // away; left out, the pass ends and the next timer is its expiry warning, 20 minutes away.
    expect((await r.timers.armed()).ms).toBe(20 * MIN);
    await started;
    expect(r.provider.calls).toEqual([]);
    expect((await grant(grantId)).status).toBe('active');
  });

  it('activates an approved grant with the clock starting at activation, and seals credentials for the DM', async () => {
    r.provider.credentials = 'user=alice password=pa55-w0rd-secret';
    const grantId = await approved(r.h);
    r.h.clock.advance(MIN);
    await r.sweeper.tick();
    const active = await grant(grantId);
    expect(active).toMatchObject({
      status: 'active',
      startsAt: r.h.clock.now(),
      expiresAt: r.h.clock.now() + 30 * MIN,
    });
    expect(r.provider.callsOf('grant')).toEqual([
      {
        action: 'grant',
        grantId,
        userId: 'UREQ',
        startsAt: active.startsAt,
        expiresAt: active.expiresAt,
        state: undefined,
      },
    ]);
    const payload = await r.h.sql.value<string>(
      "SELECT payload FROM outbox WHERE topic = 'credentials'",
    );
    expect(payload).not.toContain('pa55-w0rd-secret');
    expect(JSON.parse(sealer.open(JSON.parse(payload).sealed))).toEqual({
      text: 'user=alice password=pa55-w0rd-secret',
    });
    const details = await r.h.sql.all<{ details: string }>('SELECT details FROM audit_events');
    expect(details.length).toBeGreaterThan(0);
    expect(details.map((d) => d.details).join('\n')).not.toContain('pa55-w0rd-secret');
  });

  it('catches up on many expired grants in one pass, with one read for which of them a live grant covers', async () => {
    const users = Array.from({ length: 20 }, (_, i) => `UC${i}`);
    const ids: string[] = [];
    for (const user of users) ids.push(await approved(r.h, 'auto', '30m', user));
    await r.sweeper.tick();
    r.h.clock.advance(20 * MIN);
    // UC0 asks again: this later grant still gives UC0 the resource when the first one ends.
    const cover = await approved(r.h, 'auto', '30m', 'UC0');
    await r.sweeper.tick();
    r.h.clock.advance(10 * MIN + 1_000);
    const one = jest.spyOn(r.h.core.lifecycle, 'covering');
    const each = jest.spyOn(r.h.core.lifecycle, 'coveringEach');
    await r.sweeper.tick();
    expect(one).not.toHaveBeenCalled();
    expect(each).toHaveBeenCalledTimes(1);
    for (const id of ids) expect((await grant(id)).status).toBe('revoked');
    expect((await grant(cover)).status).toBe('active');
    expect(
      r.provider
        .callsOf('revoke')
        .map((c) => c.grantId)
        .sort(),
    ).toEqual(ids.slice(1).sort());
    const ended = await r.h.sql.value<string>(
      "SELECT details FROM audit_events WHERE grant_id = ? AND action = 'grant.revoked'",
      ids[0],
    );
    expect(JSON.parse(ended)).toMatchObject({ providerCall: 'skipped', coveredBy: cover });
  });

  it('arms an exact timer, books the expiry just ahead of expires_at and revokes on the moment', async () => {
    const grantId = await approved(r.h);
    await r.sweeper.start();
    const expiresAt = (await grant(grantId)).expiresAt!;
    const warnAt = expiresAt - 10 * MIN;
    expect(r.timers.only().ms).toBe(warnAt - r.h.clock.now());
    // No tick() of our own: only the armed timers' callbacks can run these passes.
    r.h.clock.set(warnAt);
    r.timers.fire();
    expect((await r.timers.armed()).ms).toBe(10 * MIN - TAKE_AHEAD_MS);
    expect(await r.h.sql.value('SELECT warned_at FROM grants WHERE id = ?', grantId)).toBe(warnAt);
    r.h.clock.set(expiresAt - TAKE_AHEAD_MS);
    r.timers.fire();
    // The pass books the expiry, then waits for the moment before calling the provider.
    expect((await r.timers.armed()).ms).toBe(TAKE_AHEAD_MS);
    expect(await grant(grantId)).toMatchObject({ status: 'revoking', endReason: 'expired' });
    expect(r.provider.callsOf('revoke')).toHaveLength(0);
    expect(r.provider.present.size).toBe(1);
    // A timer that fires before the clock reads the moment (timers count from the event loop's
    // cached time) only waits for the rest.
    r.h.clock.set(expiresAt - 3);
    r.timers.fire();
    expect((await r.timers.armed()).ms).toBe(3);
    expect(r.provider.callsOf('revoke')).toHaveLength(0);
    r.h.clock.set(expiresAt);
    r.timers.fire();
    // Joins the pass the timer started (and runs one more, which finds nothing due). A stop()
    // here would end that pass before its call: a stopped sweeper starts no provider call.
    await r.sweeper.tick();
    expect(r.provider.callsOf('revoke')).toHaveLength(1);
    expect(await grant(grantId)).toMatchObject({
      status: 'revoked',
      endReason: 'expired',
      endedAt: expiresAt,
    });
    expect(r.provider.present.size).toBe(0);
    expect(r.provider.callsOf('check')).toHaveLength(1);
  });

  it('keeps the timer a pass arms over a read of the next moment that began before that pass', async () => {
    const grantId = await approved(r.h);
    await r.sweeper.start();
    const expiresAt = (await grant(grantId)).expiresAt!;
    const warnAt = expiresAt - 10 * MIN;
    const read = r.h.core.lifecycle.nextWakeAt.bind(r.h.core.lifecycle);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let began!: () => void;
    const reading = new Promise<void>((resolve) => (began = resolve));
    jest.spyOn(r.h.core.lifecycle, 'nextWakeAt').mockImplementationOnce(async (warnBefore) => {
      const next = await read(warnBefore);
      began();
      // Answered only after the pass below has ended and armed its own timer.
      await held;
      return next;
    });
    // A change committed outside a pass reads the next moment again: the warning, at warnAt.
    await r.h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '1h',
      justification: JUST,
    });
    await reading;
    r.h.clock.set(warnAt);
    r.timers.fire();
    expect((await r.timers.armed()).ms).toBe(10 * MIN - TAKE_AHEAD_MS);
    release();
    // The held read's arm() goes on without I/O; a macrotask later it has armed, or declined to.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(r.timers.only().ms).toBe(10 * MIN - TAKE_AHEAD_MS);
  });

  it('stops without waiting for a booked expiry, which the next pass revokes at its moment', async () => {
    const grantId = await approved(r.h);
    await r.sweeper.tick();
    const expiresAt = (await grant(grantId)).expiresAt!;
    r.h.clock.set(expiresAt - TAKE_AHEAD_MS / 2);
    const started = r.sweeper.start();
    expect((await r.timers.armed()).ms).toBe(TAKE_AHEAD_MS / 2);
    expect((await grant(grantId)).status).toBe('revoking');
    await r.sweeper.stop();
    await started;
    expect(r.provider.callsOf('revoke')).toHaveLength(0);

    r.h.clock.set(expiresAt);
    const restarted = rig(r.h, r.provider);
    await restarted.sweeper.start();
    await restarted.sweeper.stop();
    expect(await grant(grantId)).toMatchObject({ status: 'revoked', endedAt: expiresAt });
    expect(r.provider.callsOf('revoke')).toHaveLength(1);
  });

  it('wakes up for a grant approved after start, without waiting for the cron tick', async () => {
    await r.sweeper.start();
    expect(r.timers.pending.size).toBe(0);
    const grantId = await approved(r.h);
    expect((await r.timers.armed()).ms).toBe(MIN_REARM_MS);
    r.timers.fire();
    await r.sweeper.tick();
    expect((await grant(grantId)).status).toBe('active');
  });

  it('catches up on start with everything that expired while it was down', async () => {
    const ids = [await approved(r.h), await approved(r.h, 'auto', '1h', 'UOTHER')];
    await r.sweeper.tick();
    await r.sweeper.stop();
    r.h.clock.advance(3 * 60 * MIN);
    const restarted = rig(r.h, r.provider);
    await restarted.sweeper.start();
    await restarted.sweeper.stop();
    for (const id of ids) expect((await grant(id)).status).toBe('revoked');
  });

  it('retries a failing revoke with backoff, alerts once, and only marks it revoked after the provider confirmed', async () => {
    const grantId = await approved(r.h);
    await r.sweeper.tick();
    r.h.clock.advance(30 * MIN);
    r.provider.plan.push('fail', 'fail', 'fail', 'fail', 'fail', 'fail');
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      await r.sweeper.tick();
      const now = await grant(grantId);
      expect(now.status).toBe('revoking');
      waits.push(now.nextAttemptAt! - r.h.clock.now());
      r.h.clock.set(now.nextAttemptAt!);
    }
    expect(waits).toEqual([5000, 10000, 20000, 40000, 80000, 160000]);
    expect(await r.h.sql.value("SELECT count(*) FROM outbox WHERE topic = 'alert'")).toBe(1);
    await r.sweeper.tick();
    expect((await grant(grantId)).status).toBe('revoked');
    const attempts = await r.h.sql.value(
      "SELECT count(*) FROM audit_events WHERE grant_id = ? AND action = 'grant.revoke_failed_attempt'",
      grantId,
    );
    expect(attempts).toBe(6);
  });

  it('keeps retrying when the revoke says ok but the access is still there', async () => {
    const grantId = await approved(r.h);
    await r.sweeper.tick();
    r.provider.checkLies = true;
    r.h.clock.advance(30 * MIN);
    await r.sweeper.tick();
    expect(await grant(grantId)).toMatchObject({
      status: 'revoking',
      lastError: 'revoke: revoke reported success but a check says the access is still there',
    });
  });

  it('keeps retrying when a check answers neither true nor false', async () => {
    const grantId = await approved(r.h);
    await r.sweeper.tick();
    // A module's check that forgot its return: the access cannot be read as gone.
    Object.assign(r.provider, { check: async () => undefined });
    r.h.clock.advance(30 * MIN);
    await r.sweeper.tick();
    expect(await grant(grantId)).toMatchObject({
      status: 'revoking',
      lastError: 'revoke: check answered undefined, not true or false',
    });
  });

  it('aborts a provider call that hangs past its timeout and retries it', async () => {
    await r.sweeper.stop();
    await r.h.close();
    r = rig(await harness(), new RecordingProvider(), 30);
    const grantId = await approved(r.h);
    r.provider.plan.push('hang');
    await r.sweeper.tick();
    expect(await grant(grantId)).toMatchObject({
      status: 'activating',
      attempts: 1,
      lastError: 'grant: timed out after 30 ms',
    });
    r.h.clock.advance(MIN);
    await r.sweeper.tick();
    expect((await grant(grantId)).status).toBe('active');
  });

  it('never cuts access early while another grant of the same user and resource is active', async () => {
    const first = await approved(r.h, 'auto', '30m');
    await r.sweeper.tick();
    r.h.clock.advance(10 * MIN);
    const second = await approved(r.h, 'auto', '30m');
    await r.sweeper.tick();
    r.h.clock.advance(20 * MIN);
    await r.sweeper.tick();
    expect((await grant(first)).status).toBe('revoked');
    expect(r.provider.callsOf('revoke')).toHaveLength(0);
    expect(r.provider.present.has('UREQ/auto')).toBe(true);
    r.h.clock.advance(10 * MIN);
    await r.sweeper.tick();
    expect((await grant(second)).status).toBe('revoked');
    expect(r.provider.callsOf('revoke')).toHaveLength(1);
    expect(r.provider.present.size).toBe(0);
  });

  it('lets a grant approved during a revoke of the same shared access call the provider only after it', async () => {
    await r.sweeper.stop();
    await r.h.close();
    // A call timeout far past the hold below, so a slow machine cannot turn the held revoke
    // into a timed-out one, which would rightly skip its check.
    r = rig(
      await coreHarness(`${BASE_CONFIG}sweeper: { concurrency: 2 }\n`, undefined, kind),
      new RecordingProvider(),
      30_000,
    );
    const first = await approved(r.h, 'auto', '30m');
    await r.sweeper.tick();
    r.h.clock.advance(1_000);
    // Enough other grants ending at once that the pass lists again while the first revoke is out.
    for (let i = 0; i < 8; i++) await approved(r.h, 'auto', '30m', `UOTHER${i}`);
    await r.sweeper.tick();
    r.h.clock.advance(30 * MIN + 1_000);

    let second: string | undefined;
    r.provider.onCall = async (call) => {
      if (call.action !== 'revoke' || call.grantId !== first) return;
      second = await approved(r.h, 'auto', '30m');
      // Out until the pass has had every chance to take the new grant and call the provider.
      const until = Date.now() + 300;
      while (Date.now() < until && !r.provider.callsOf('grant').some((c) => c.grantId === second))
        await new Promise((resolve) => setTimeout(resolve, 5));
    };
    await r.sweeper.tick();
    await r.sweeper.tick();

    const order = r.provider.calls
      .filter((c) => c.grantId === first || c.grantId === second)
      .map((c) => `${c.action} ${c.grantId === first ? 'first' : 'second'}`);
    expect(order).toEqual(['grant first', 'revoke first', 'check first', 'grant second']);
    expect((await grant(first)).status).toBe('revoked');
    expect((await grant(second!)).status).toBe('active');
    expect(r.provider.present.has('UREQ/auto')).toBe(true);
  });

  it('revokes per-grant accesses independently', async () => {
    await r.sweeper.stop();
    await r.h.close();
    r = rig(
      await harness(),
      new RecordingProvider({
        enforcesExpiry: true,
        endsOpenSessions: true,
        isolation: 'per-grant',
      }),
    );
    const first = await approved(r.h, 'auto', '30m');
    await r.sweeper.tick();
    r.h.clock.advance(10 * MIN);
    await approved(r.h, 'auto', '30m');
    await r.sweeper.tick();
    r.h.clock.advance(20 * MIN);
    await r.sweeper.tick();
    expect(r.provider.callsOf('revoke').map((c) => c.grantId)).toEqual([first]);
    expect(r.provider.present.size).toBe(1);
  });

  it('revokes many expired grants in parallel, never more than the configured concurrency', async () => {
    for (let i = 0; i < 60; i++) await approved(r.h, 'auto', '30m', `UUSER${i}`);
    await r.sweeper.tick();
    r.h.clock.advance(30 * MIN);
    r.provider.maxInFlight = 0;
    await r.sweeper.tick();
    expect(await r.h.sql.value("SELECT count(*) FROM grants WHERE status = 'revoked'")).toBe(60);
    expect(r.provider.maxInFlight).toBeGreaterThan(1);
    expect(r.provider.maxInFlight).toBeLessThanOrEqual(r.h.config.sweeper.concurrency);
  });

  it('expires and records many revokes in a few transactions, each grant with its own events', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await approved(r.h, 'auto', '30m', `UUSER${i}`));
    await r.sweeper.tick();
    r.h.clock.advance(30 * MIN);
    let commits = 0;
    r.h.core.onCommit(() => commits++);
    await r.sweeper.tick();
    expect(commits).toBeLessThan(ids.length);
    expect(
      r.provider
        .callsOf('revoke')
        .map((c) => c.grantId)
        .sort(),
    ).toEqual([...ids].sort());
    for (const id of ids) {
      expect((await grant(id)).status).toBe('revoked');
      const actions = await r.h.sql.all<{ action: string }>(
        'SELECT action FROM audit_events WHERE grant_id = ? ORDER BY seq',
        id,
      );
      expect(actions.slice(-2).map((a) => a.action)).toEqual([
        'grant.revoke_requested',
        'grant.revoked',
      ]);
    }
    expect((await r.h.core.audit.verifySince()).intact).toBe(true);
  });

  it('sends every due revoke of per-grant access before reading any back, and records none before its read-back', async () => {
    r = rig(r.h, new RecordingProvider({ ...r.provider.guarantees, isolation: 'per-grant' }));
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await approved(r.h, 'auto', '30m', `UUSER${i}`));
    await r.sweeper.tick();
    const atCheck: string[] = [];
    r.provider.onCall = async (call) => {
      if (call.action === 'check') atCheck.push((await grant(call.grantId)).status);
    };
    r.h.clock.advance(30 * MIN);
    await r.sweeper.tick();
    const actions = r.provider.calls.map((c) => c.action).filter((a) => a !== 'grant');
    expect(actions).toEqual([...ids.map(() => 'revoke'), ...ids.map(() => 'check')]);
    expect(atCheck).toEqual(ids.map(() => 'revoking'));
    for (const id of ids) expect((await grant(id)).status).toBe('revoked');
  });

  it('records a confirmed revoke while a slower call of the same pass is still out, as ended when confirmed', async () => {
    r = rig(
      r.h,
      new RecordingProvider({ ...r.provider.guarantees, isolation: 'per-grant' }),
      20_000,
    );
    const quick = await approved(r.h, 'auto', '30m', 'UQUICK');
    const slow = await approved(r.h, 'auto', '30m', 'USLOW');
    await r.sweeper.tick();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    r.provider.onCall = (call) =>
      call.action === 'revoke' && call.grantId === slow ? held : Promise.resolve();
    r.h.clock.advance(30 * MIN);
    const confirmedAt = r.h.clock.now();
    const pass = r.sweeper.tick();
    const until = async (done: () => Promise<boolean> | boolean) => {
      const deadline = Date.now() + 15_000;
      while (!(await done()) && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await done()).toBe(true);
    };
    await until(() => r.provider.callsOf('check').some((c) => c.grantId === quick));
    // Its record is written seconds later, held while the pass still calls: it says when the
    // access ended, not when it was written down.
    r.h.clock.advance(3_000);
    // Records wait while the pass still calls, but not for as long as the slowest call takes.
    await until(async () => (await grant(quick)).status === 'revoked');
    expect(await grant(quick)).toMatchObject({ endedAt: confirmedAt });
    expect((await grant(slow)).status).toBe('revoking');
    release();
    await pass;
    expect(await grant(slow)).toMatchObject({ status: 'revoked', endedAt: confirmedAt + 3_000 });
  });

  it('goes on past a page of due grants that are all busy elsewhere', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await approved(r.h, 'auto', '30m', `UUSER${i}`));
    await r.sweeper.tick();
    await r.sweeper.stop();
    r.h.clock.advance(30 * MIN);
    // The first page (twice the concurrency, in the order listed) is all in the reconciler's hands.
    const firstPage = await r.h.sql.all<{ id: string }>(
      'SELECT id FROM grants ORDER BY next_attempt_at, id LIMIT ?',
      2 * r.h.config.sweeper.concurrency,
    );
    const busy = new Set(firstPage.map((g) => g.id));
    const sweeper = new Sweeper({
      core: r.h.core,
      providers: lookupOf({ hook: r.provider }, 1000),
      directory: new StaticDirectory(),
      sealer,
      logger,
      timers: new ManualTimers(),
      busy,
    });
    await sweeper.tick();
    for (const id of ids)
      expect((await grant(id)).status).toBe(busy.has(id) ? 'active' : 'revoked');
  });

  it('lists each expired grant once in a pass, not again once it is revoking', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.push(await approved(r.h, 'auto', '30m', `UUSER${i}`));
    await r.sweeper.tick();
    // Past the expiry, so that the moment they are moved to revoking sorts after it.
    r.h.clock.advance(31 * MIN);
    const listed: string[] = [];
    const due = r.h.core.lifecycle.due.bind(r.h.core.lifecycle);
    r.h.core.lifecycle.due = async (limit, after) => {
      const page = await due(limit, after);
      listed.push(...page.map((g) => g.id));
      return page;
    };
    await r.sweeper.tick();
    for (const id of ids) expect((await grant(id)).status).toBe('revoked');
    expect(listed.sort()).toEqual([...ids].sort());
  });

  /** A rig on a fresh store whose sweeper runs two lanes: pages of 4 grants, then of 16. */
  async function twoLanes(): Promise<Rig> {
    await r.sweeper.stop();
    await r.h.close();
    return rig(await coreHarness(`${BASE_CONFIG}sweeper: { concurrency: 2 }\n`, undefined, kind));
  }

  /** Each booking commit of the pass: the revokes called by then, and the grants booked before. */
  function bookings(): { called: number; bookedBefore: number }[] {
    const seen: { called: number; bookedBefore: number }[] = [];
    let booked = 0;
    r.h.core.onCommit((events) => {
      const now = events.filter((e) => e.action === 'grant.revoke_requested').length;
      if (now === 0) return;
      seen.push({ called: r.provider.callsOf('revoke').length, bookedBefore: booked });
      booked += now;
    });
    return seen;
  }

  it('books the next page of due grants while the lanes still call the one before', async () => {
    r = await twoLanes();
    for (let i = 0; i < 60; i++) await approved(r.h, 'auto', '30m', `UUSER${i}`);
    await r.sweeper.tick();
    r.h.clock.advance(31 * MIN);
    // Calls that take a while, as across a network: booking a page takes less than a few.
    r.provider.onCall = async (call) => {
      if (call.action === 'revoke') await new Promise((resolve) => setTimeout(resolve, 10));
    };
    const seen = bookings();
    await r.sweeper.tick();
    expect(await r.h.sql.value("SELECT count(*) FROM grants WHERE status = 'revoked'")).toBe(60);
    // Pages of 4, 16, 16, 16 and 8. From the third on, each was booked while the lanes still had
    // more than their own number of grants booked and waiting; left until the lanes had (almost)
    // nothing, every page would stall the calls for as long as its booking took.
    expect(seen).toHaveLength(5);
    for (const { called, bookedBefore } of seen.slice(2))
      expect(bookedBefore - called).toBeGreaterThan(r.h.config.sweeper.concurrency);
  });

  it('books a mass expiry to its end when its moment comes while it is still being booked', async () => {
    r = await twoLanes();
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) ids.push(await approved(r.h, 'auto', '30m', `UUSER${i}`));
    await r.sweeper.tick();
    const expiresAt = (await grant(ids[0]!)).expiresAt!;
    r.h.clock.set(expiresAt - TAKE_AHEAD_MS);
    // Pages of at most 10 stand in for a mass expiry of thousands, and the moment comes once the
    // second is booked, as it does for a booking that takes longer than TAKE_AHEAD_MS.
    const due = r.h.core.lifecycle.due.bind(r.h.core.lifecycle);
    r.h.core.lifecycle.due = (limit, after) => due(Math.min(limit, 10), after);
    const seen = bookings();
    r.h.core.onCommit(() => {
      if (seen.length === 2) r.h.clock.set(expiresAt);
    });
    const pass = r.sweeper.start();
    const deadline = Date.now() + 10_000;
    const revoking = () =>
      r.h.sql.value<number>("SELECT count(*) FROM grants WHERE status = 'revoking'");
    while ((await revoking()) < ids.length && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    // Booked to its end before any call: the lanes still wait on the timers for the moment.
    expect(await revoking()).toBe(ids.length);
    expect(r.provider.callsOf('revoke')).toHaveLength(0);
    r.timers.fireAll();
    await pass;
    for (const id of ids) expect((await grant(id)).status).toBe('revoked');
  });

  it('counts a revoke whose record cannot be written as a failed attempt, and retries it', async () => {
    const grantId = await approved(r.h);
    await r.sweeper.tick();
    r.h.clock.advance(30 * MIN);
    const allow = await refuse(r.h.sql, kind, {
      name: 'refuse_revoked',
      table: 'grants',
      on: 'UPDATE OF status',
      when: "NEW.status = 'revoked'",
      message: 'disk says no',
    });
    await r.sweeper.tick();
    const failed = await grant(grantId);
    expect(failed).toMatchObject({ status: 'revoking', attempts: 1 });
    expect(failed.lastError).toContain('disk says no');
    expect(r.provider.callsOf('revoke')).toHaveLength(1);
    await allow();
    r.h.clock.set(failed.nextAttemptAt!);
    await r.sweeper.tick();
    expect((await grant(grantId)).status).toBe('revoked');
    expect(r.provider.callsOf('revoke')).toHaveLength(2);
  });

  it('finishes a revoke that was cut off by a crash (revoking, provider maybe done) after a restart', async () => {
    const grantId = await approved(r.h);
    await r.sweeper.tick();
    await r.h.core.revokeGrant({ grantId, actor: 'UREQ' });
    r.provider.present.delete('UREQ/auto');
    await r.sweeper.tick();
    expect((await grant(grantId)).status).toBe('revoked');
    expect(r.provider.callsOf('revoke')).toHaveLength(1);
  });

  it('leaves alone a revoke to retry that another process finished after it was listed', async () => {
    const grantId = await approved(r.h);
    await r.sweeper.tick();
    await r.h.core.revokeGrant({ grantId, actor: 'UREQ' });
    const due = r.h.core.lifecycle.due.bind(r.h.core.lifecycle);
    r.h.core.lifecycle.due = async (limit, after) => {
      const page = await due(limit, after);
      // Between the listing and the sweeper reading the grant, someone else records the end.
      if (page.some((g) => g.id === grantId))
        await r.h.sql.run("UPDATE grants SET status = 'revoked' WHERE id = ?", grantId);
      return page;
    };
    await r.sweeper.tick();
    expect(r.provider.callsOf('revoke')).toHaveLength(0);
    expect((await grant(grantId)).status).toBe('revoked');
  });

  it('warns a holder once, ten minutes before the end', async () => {
    await approved(r.h);
    await r.sweeper.tick();
    r.h.clock.advance(20 * MIN);
    await r.sweeper.tick();
    await r.sweeper.tick();
    const warnings = await r.h.sql.value(
      "SELECT count(*) FROM outbox WHERE key LIKE 'grant.expiring:%'",
    );
    expect(warnings).toBe(1);
  });

  it('expires stale requests on its pass', async () => {
    const req = await r.h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'prod-db',
      duration: '1h',
      justification: JUST,
    });
    r.h.clock.advance(24 * 60 * MIN);
    await r.sweeper.tick();
    expect(await r.h.sql.value('SELECT status FROM requests WHERE id = ?', req.id)).toBe('expired');
  });

  it('tells the provider the new expiry after an extension', async () => {
    const req = await r.h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'quorum',
      duration: '1h',
      justification: JUST,
    });
    await r.h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    await r.h.core.decide({ requestId: req.id, actor: 'UA2', decision: 'approve' });
    await r.sweeper.tick();
    const grantId = await r.h.sql.value<string>('SELECT id FROM grants');
    const ext = await r.h.core.requestExtension({
      grantId,
      actor: 'UREQ',
      duration: '1h',
      justification: 'the migration is still running',
    });
    await r.h.core.decide({ requestId: ext.id, actor: 'UA1', decision: 'approve' });
    await r.h.core.decide({ requestId: ext.id, actor: 'UA3', decision: 'approve' });
    await r.sweeper.tick();
    const extended = await grant(grantId);
    const grants = r.provider.callsOf('grant');
    expect(grants).toHaveLength(2);
    expect(grants[1]).toMatchObject({
      expiresAt: extended.expiresAt,
      state: { key: 'UREQ/quorum' },
    });
    expect(extended.providerExpiresAt).toBe(extended.expiresAt);
    await r.sweeper.tick();
    expect(r.provider.callsOf('grant')).toHaveLength(2);
  });

  it('hands the holder new credentials a re-grant after an extension answers with', async () => {
    const req = await r.h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'quorum',
      duration: '1h',
      justification: JUST,
    });
    await r.h.core.decide({ requestId: req.id, actor: 'UA1', decision: 'approve' });
    await r.h.core.decide({ requestId: req.id, actor: 'UA2', decision: 'approve' });
    r.provider.credentials = 'password: first-one';
    await r.sweeper.tick();
    const grantId = await r.h.sql.value<string>('SELECT id FROM grants');
    const ext = await r.h.core.requestExtension({
      grantId,
      actor: 'UREQ',
      duration: '1h',
      justification: 'the migration is still running',
    });
    await r.h.core.decide({ requestId: ext.id, actor: 'UA1', decision: 'approve' });
    await r.h.core.decide({ requestId: ext.id, actor: 'UA3', decision: 'approve' });
    r.provider.credentials = 'password: rotated-on-re-grant';
    await r.sweeper.tick();
    const rows = await r.h.sql.all<{ key: string; payload: string }>(
      "SELECT key, payload FROM outbox WHERE topic = 'credentials' ORDER BY id",
    );
    expect(rows.map((row) => JSON.parse(sealer.open(JSON.parse(row.payload).sealed)))).toEqual([
      { text: 'password: first-one' },
      { text: 'password: rotated-on-re-grant' },
    ]);
    expect(rows[1]!.key).toMatch(new RegExp(`^grant\\.credentials:${grantId}:[0-9a-f]{16}$`));
    const synced = await r.h.sql.value<string>(
      "SELECT details FROM audit_events WHERE action = 'grant.synced'",
    );
    expect(JSON.parse(synced)).toMatchObject({ credentialsIssued: true });
    expect(synced).not.toContain('rotated');
  });

  it('keeps retrying a grant whose provider was removed from the configuration', async () => {
    await r.sweeper.stop();
    const h = r.h;
    r = rig(h);
    const grantId = await approved(h);
    const orphan = new Sweeper({
      core: h.core,
      providers: lookupOf({}),
      directory: new StaticDirectory(),
      sealer,
      logger,
      timers: r.timers,
    });
    await orphan.tick();
    const stuck = await grant(grantId);
    expect(stuck).toMatchObject({ status: 'activating', attempts: 1 });
    expect(stuck.lastError).toContain('provider "hook" is not in the configuration any more');
  });
});
