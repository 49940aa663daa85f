import { Core, TAKE_AHEAD_MS } from '../../src/core';
import { StaticDirectory } from '../../src/core/directory';
import { parseConfig } from '../../src/config/load';
import { MIN_REARM_MS, Sweeper, type Timers } from '../../src/jobs/sweeper';
import { logger } from '../../src/log';
import type {
  GrantResult,
  Provider,
  ProviderCallContext,
  ProviderGuarantees,
} from '../../src/providers/types';
import { Sealer } from '../../src/secrets/seal';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { lookupOf, RecordingProvider } from '../support/recording-provider';
import { STORE_KINDS, type StoreKind } from '../support/stores';
import { refuse, restoreTriggers } from '../store/triggers';

/**
 * Issue #9, item 2: every step of the failure path may itself fail — the policy lookup (the
 * resource is gone), the database (it refuses the record), the provider (it throws instead of
 * rejecting) — and still the attempt is counted or held, nothing is retried at once, the exact
 * timer never re-arms sooner than MIN_REARM_MS, and once the database takes writes again the
 * failure is recorded with its backoff.
 */

const JUST = 'investigating INC-42 slow queries';
const MIN = 60_000;
const sealer = new Sealer('test-sealing-secret');

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
  get armed(): number {
    return this.pending.size;
  }
  /** Fires whatever is armed, as if its moment had come. */
  fire(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    due.forEach((fn) => fn());
  }
}

/**
 * A provider whose calls throw synchronously, before returning any promise: a module adapter
 * with a bug in its argument handling. `failGrant` / `failRevoke` pick which.
 */
class ThrowingProvider implements Provider {
  readonly guarantees: ProviderGuarantees = {
    enforcesExpiry: false,
    endsOpenSessions: true,
    isolation: 'shared',
  };
  readonly calls: string[] = [];
  readonly present = new Set<string>();
  failGrant = true;
  failRevoke = true;

  grant(ctx: ProviderCallContext<unknown>): Promise<GrantResult> {
    this.calls.push('grant');
    if (this.failGrant) throw new TypeError('grant blew up before returning a promise');
    this.present.add(ctx.user.slackId);
    return Promise.resolve({});
  }

  revoke(ctx: ProviderCallContext<unknown>): Promise<void> {
    this.calls.push('revoke');
    if (this.failRevoke) throw new TypeError('revoke blew up before returning a promise');
    this.present.delete(ctx.user.slackId);
    return Promise.resolve();
  }

  check(ctx: ProviderCallContext<unknown>): Promise<boolean> {
    this.calls.push('check');
    return Promise.resolve(this.present.has(ctx.user.slackId));
  }

  count(call: string): number {
    return this.calls.filter((c) => c === call).length;
  }
}

/** `gone` is the resource an edit of hallpass.yml removes; `kept` stays. */
function removalConfig(withGone: boolean): string {
  const gone = `
  - id: gone
    name: Going away
    provider: hook
    maxDuration: 1h
    approvalsRequired: 0
    approverChannel: CGONE`;
  return `
timezone: UTC
admins: [UADMIN]
requests:
  approverChannel: CAPPROVALS
sweeper:
  alertAfterAttempts: 1
providers:
  hook:
    type: webhook
    url: http://127.0.0.1:9/hook
    secret: s3cret-value
resources:${withGone ? gone : ''}
  - id: kept
    name: Kept
    provider: hook
    maxDuration: 1h
    approvalsRequired: 0
`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(STORE_KINDS)('failure paths (%s)', (kind: StoreKind) => {
  let h: CoreHarness;
  const sweepers: Sweeper[] = [];

  afterEach(async () => {
    for (const s of sweepers.splice(0)) await s.stop();
    await restoreTriggers();
    await h.close();
  });

  function sweeperOn(
    core: Core,
    provider: Provider,
    timers?: Timers,
    directory = new StaticDirectory(),
  ): Sweeper {
    const sweeper = new Sweeper({
      core,
      providers: lookupOf({ hook: provider }),
      directory,
      sealer,
      logger,
      ...(timers ? { timers } : {}),
      random: () => 1,
    });
    sweepers.push(sweeper);
    return sweeper;
  }

  async function grantOf(core: Core, requester: string, resourceId = 'auto'): Promise<string> {
    const req = await core.createRequest({
      requester,
      resourceId,
      duration: '30m',
      justification: JUST,
    });
    return h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
  }

  const grant = async (id: string) => (await h.core.grant(id))!;
  const alertsOf = async (grantId: string) =>
    (
      await h.sql.all<{ payload: string }>(
        "SELECT payload FROM outbox WHERE topic = 'alert' ORDER BY id",
      )
    )
      .map((r) => JSON.parse(r.payload) as Record<string, unknown>)
      .filter((p) => p.grantId === grantId);

  /** The whole grant, unless the database refuses every change to it from now on. */
  const refuseChangesTo = (grantId: string) =>
    refuse(h.sql, kind, {
      name: 'refuse_grant_changes',
      table: 'grants',
      on: 'UPDATE',
      when: `NEW.id = '${grantId}'`,
      message: 'could not extend file: No space left on device',
    });

  /** A core as the bot after hallpass.yml lost the `gone` resource, on the same store. */
  const withoutGone = () =>
    new Core({
      store: h.store,
      clock: h.clock,
      config: parseConfig(removalConfig(false), {}),
      directory: new StaticDirectory(),
    });

  describe('the resource is gone from the configuration', () => {
    beforeEach(async () => {
      h = await coreHarness(removalConfig(true), undefined, kind);
    });

    it('starts no activation, with or without recorded terms: ends it, and the clean-up revoke goes through the recorded provider', async () => {
      const withTerms = await grantOf(h.core, 'UREQ', 'gone');
      const older = await grantOf(h.core, 'UOLD', 'gone');
      await h.sql.run('UPDATE grants SET snapshot = NULL WHERE id = ?', older);
      const provider = new RecordingProvider();
      const core = withoutGone();
      expect(core.policy.findResource('gone')).toBeUndefined();
      await sweeperOn(core, provider).tick();

      for (const id of [withTerms, older]) {
        expect(await grant(id)).toMatchObject({
          status: 'revoking',
          endReason: 'resource_removed',
          endedBy: 'hallpass',
          nextAttemptAt: h.clock.now(),
        });
        expect(await alertsOf(id)).toEqual([]);
      }
      expect(provider.callsOf('grant')).toEqual([]);

      await sweeperOn(core, provider).tick();
      for (const id of [withTerms, older]) expect((await grant(id)).status).toBe('revoked');
      expect(provider.callsOf('revoke')).toHaveLength(2);
    });

    it('records a failed revoke (attempt, backoff, alert) with or without recorded terms, and does not retry it at once', async () => {
      const withTerms = await grantOf(h.core, 'UREQ', 'gone');
      const older = await grantOf(h.core, 'UOLD', 'gone');
      const provider = new RecordingProvider();
      await sweeperOn(h.core, provider).tick();
      await h.sql.run('UPDATE grants SET snapshot = NULL WHERE id = ?', older);

      const core = withoutGone();
      const sweeper = sweeperOn(core, provider);
      h.clock.advance(30 * MIN);
      provider.plan.push('fail', 'fail');
      await sweeper.tick();
      for (const id of [withTerms, older]) {
        const now = await grant(id);
        expect(now).toMatchObject({
          status: 'revoking',
          attempts: 1,
          lastError: 'revoke: revoke refused by the test',
        });
        expect(now.nextAttemptAt! - h.clock.now()).toBe(5_000);
      }
      expect((await alertsOf(withTerms)).map((a) => [a.action, a.channel])).toEqual([
        ['revoke', 'CGONE'],
      ]);
      expect((await alertsOf(older)).map((a) => [a.action, a.channel])).toEqual([
        ['revoke', 'CAPPROVALS'],
      ]);
      await sweeper.tick();
      expect(provider.callsOf('revoke')).toHaveLength(2);

      h.clock.advance(5_000);
      await sweeper.tick();
      for (const id of [withTerms, older]) expect((await grant(id)).status).toBe('revoked');
      expect(provider.present.size).toBe(0);
    });
  });

  describe('the database or the provider throws', () => {
    beforeEach(async () => {
      h = await coreHarness(BASE_CONFIG, undefined, kind);
    });

    it('holds a grant whose failure the database refuses to record, with backoff, and records it once the database accepts', async () => {
      const provider = new RecordingProvider();
      const grantId = await grantOf(h.core, 'UREQ');
      await sweeperOn(h.core, provider).tick();
      await h.core.revokeGrant({ grantId, actor: 'UREQ' });
      const allow = await refuseChangesTo(grantId);
      provider.plan.push('fail', 'fail', 'fail');

      const timers = new ArmedTimers();
      const sweeper = sweeperOn(h.core, provider, timers);
      // start() runs the first pass: the revoke fails and its record is refused.
      await sweeper.start();
      const wake = async () => {
        timers.fire();
        await sweeper.tick();
      };
      expect(provider.callsOf('revoke')).toHaveLength(1);
      // Nothing was written: the grant looks exactly as due as before.
      expect(await grant(grantId)).toMatchObject({
        status: 'revoking',
        attempts: 0,
        lastError: null,
      });

      // However often the sweeper wakes, the held grant is not tried again before its hold ends,
      // and once only held work is left the timer waits for the hold rather than the floor.
      await wake();
      await wake();
      expect(provider.callsOf('revoke')).toHaveLength(1);
      expect(timers.delays.at(-1)).toBe(5_000);

      // Still refused after the hold: tried again, held again, twice as long.
      h.clock.advance(5_000);
      await wake();
      expect(provider.callsOf('revoke')).toHaveLength(2);
      await wake();
      expect(timers.delays.at(-1)).toBe(10_000);
      expect(provider.callsOf('revoke')).toHaveLength(2);

      // The database accepts again: the next failure is recorded, with the backoff of a first one.
      await allow();
      h.clock.advance(10_000);
      await wake();
      expect(provider.callsOf('revoke')).toHaveLength(3);
      const recorded = await grant(grantId);
      expect(recorded).toMatchObject({
        status: 'revoking',
        attempts: 1,
        lastError: 'revoke: revoke refused by the test',
      });
      expect(recorded.nextAttemptAt! - h.clock.now()).toBe(5_000);
      expect(
        await h.sql.value(
          "SELECT count(*) FROM audit_events WHERE grant_id = ? AND action = 'grant.revoke_failed_attempt'",
          grantId,
        ),
      ).toBe(1);
      await wake();
      expect(provider.callsOf('revoke')).toHaveLength(3);
      expect(timers.delays.at(-1)).toBe(5_000 - TAKE_AHEAD_MS);

      h.clock.set(recorded.nextAttemptAt!);
      await wake();
      expect((await grant(grantId)).status).toBe('revoked');
      expect(provider.present.size).toBe(0);
      expect(Math.min(...timers.delays)).toBeGreaterThanOrEqual(MIN_REARM_MS);
    });

    it('holds a confirmed revoke whose record and failure record are both refused, and records it later', async () => {
      const provider = new RecordingProvider();
      const grantId = await grantOf(h.core, 'UREQ');
      await sweeperOn(h.core, provider).tick();
      h.clock.advance(30 * MIN);
      const sweeper = sweeperOn(h.core, provider);
      // The expiry itself goes through; every change after it is refused.
      await h.core.lifecycle.expire([grantId]);
      const allow = await refuseChangesTo(grantId);
      await sweeper.tick();
      expect(provider.callsOf('revoke')).toHaveLength(1);
      expect(provider.present.size).toBe(0);
      expect((await grant(grantId)).status).toBe('revoking');
      await sweeper.tick();
      expect(provider.callsOf('revoke')).toHaveLength(1);

      await allow();
      h.clock.advance(5_000);
      await sweeper.tick();
      expect((await grant(grantId)).status).toBe('revoked');
      expect(provider.callsOf('revoke')).toHaveLength(2);
    });

    it('counts a grant call that throws synchronously as a failed attempt, with backoff', async () => {
      const provider = new ThrowingProvider();
      const grantId = await grantOf(h.core, 'UREQ');
      const timers = new ArmedTimers();
      const sweeper = sweeperOn(h.core, provider, timers);
      await sweeper.start();
      let now = await grant(grantId);
      expect(now).toMatchObject({
        status: 'activating',
        attempts: 1,
        lastError: 'grant: grant blew up before returning a promise',
      });
      expect(now.nextAttemptAt! - h.clock.now()).toBe(5_000);
      expect(timers.delays.at(-1)).toBe(5_000 - TAKE_AHEAD_MS);
      timers.fire();
      await sweeper.tick();
      expect(provider.count('grant')).toBe(1);

      h.clock.set(now.nextAttemptAt!);
      timers.fire();
      await sweeper.tick();
      now = await grant(grantId);
      expect(now).toMatchObject({ status: 'activating', attempts: 2 });
      expect(now.nextAttemptAt! - h.clock.now()).toBe(10_000);
      expect(provider.count('grant')).toBe(2);

      provider.failGrant = false;
      h.clock.set(now.nextAttemptAt!);
      timers.fire();
      await sweeper.tick();
      expect((await grant(grantId)).status).toBe('active');
      expect(Math.min(...timers.delays)).toBeGreaterThanOrEqual(MIN_REARM_MS);
    });

    it('counts a revoke call that throws synchronously as a failed attempt, with backoff', async () => {
      const provider = new ThrowingProvider();
      provider.failGrant = false;
      const grantId = await grantOf(h.core, 'UREQ');
      const sweeper = sweeperOn(h.core, provider);
      await sweeper.tick();
      h.clock.advance(30 * MIN);
      await sweeper.tick();
      const now = await grant(grantId);
      expect(now).toMatchObject({
        status: 'revoking',
        attempts: 1,
        lastError: 'revoke: revoke blew up before returning a promise',
      });
      expect(now.nextAttemptAt! - h.clock.now()).toBe(5_000);
      await sweeper.tick();
      expect(provider.count('revoke')).toBe(1);

      provider.failRevoke = false;
      h.clock.set(now.nextAttemptAt!);
      await sweeper.tick();
      expect((await grant(grantId)).status).toBe('revoked');
      expect(provider.present.size).toBe(0);
    });

    it('does not loop when the provider throws synchronously and the database refuses the record (real timers)', async () => {
      const provider = new ThrowingProvider();
      const grantId = await grantOf(h.core, 'UREQ');
      // The call's lease is written; the record of its failure (an attempt counted) is refused.
      const allow = await refuse(h.sql, kind, {
        name: 'refuse_grant_failure',
        table: 'grants',
        on: 'UPDATE',
        when: `NEW.id = '${grantId}' AND NEW.attempts <> OLD.attempts`,
        message: 'could not extend file: No space left on device',
      });
      const sweeper = sweeperOn(h.core, provider);
      await sweeper.start();
      await sleep(600);
      // One call, then the grant is held for its backoff (5 s of the frozen test clock), where
      // a sweeper that retried what it could not record would have called again at every pass.
      expect(provider.count('grant')).toBe(1);
      expect(await grant(grantId)).toMatchObject({ status: 'activating', attempts: 0 });
      await sweeper.stop();

      await allow();
      h.clock.advance(5_000);
      await sweeper.tick();
      expect(provider.count('grant')).toBe(2);
      expect(await grant(grantId)).toMatchObject({
        status: 'activating',
        attempts: 1,
        lastError: 'grant: grant blew up before returning a promise',
      });
    });

    it('re-arms no sooner than MIN_REARM_MS while due work keeps being refused', async () => {
      const provider = new RecordingProvider();
      const grantId = await grantOf(h.core, 'UREQ');
      await sweeperOn(h.core, provider).tick();
      h.clock.advance(30 * MIN);
      // The expiry (active → revoking) is refused: the grant stays due and nothing can be done.
      await refuse(h.sql, kind, {
        name: 'refuse_expiry',
        table: 'grants',
        on: 'UPDATE OF status',
        when: "NEW.status = 'revoking'",
        message: 'database is read-only',
      });
      const timers = new ArmedTimers();
      const sweeper = sweeperOn(h.core, provider, timers);
      await sweeper.start();
      for (let i = 0; i < 5; i++) {
        expect(timers.armed).toBe(1);
        timers.fire();
        await sweeper.tick();
      }
      expect((await grant(grantId)).status).toBe('active');
      expect(provider.callsOf('revoke')).toHaveLength(0);
      expect(timers.delays.length).toBeGreaterThanOrEqual(6);
      expect(timers.delays.every((ms) => ms === MIN_REARM_MS)).toBe(true);

      // With real timers it is a pass every MIN_REARM_MS at most, never a tight loop.
      await sweeper.stop();
      const real = sweeperOn(h.core, provider);
      let passes = 0;
      const due = h.core.lifecycle.due.bind(h.core.lifecycle);
      h.core.lifecycle.due = (limit, after) => {
        passes++;
        return due(limit, after);
      };
      await real.start();
      await sleep(500);
      await real.stop();
      expect(passes).toBeGreaterThan(2);
      // Each pass lists twice: the page it cannot act on, then past it to the end.
      expect(passes).toBeLessThanOrEqual(Math.ceil(500 / MIN_REARM_MS) * 2 + 2);
    });
  });
});
