import { Writable } from 'node:stream';
import winston from 'winston';
import type { Core } from '../../src/core';
import { StaticDirectory } from '../../src/core/directory';
import { ProviderCallError } from '../../src/jobs/provider-call';
import { AccessTurns } from '../../src/jobs/access-turns';
import { ProviderCalls } from '../../src/jobs/provider-calls';
import { Reconciler } from '../../src/jobs/reconciler';
import { Sweeper } from '../../src/jobs/sweeper';
import type {
  GrantResult,
  Provider,
  ProviderCallContext,
  ProviderGuarantees,
} from '../../src/providers/types';
import { Sealer } from '../../src/secrets/seal';
import { coreHarness, type CoreHarness } from '../support/core';
import { filedGrant, jobsOf, type TestJobs } from '../support/job-process';
import { lookupOf, RecordingProvider } from '../support/recording-provider';
import { STORE_KINDS, type StoreKind } from '../support/stores';

/**
 * Issue #9, item 3: a provider call that timed out is not over. Its grant may still land; the
 * revoke meant to clean it up waits for it (up to twice the timeout), is scheduled no sooner than
 * the recorded fence, and every ended grant is read back again after its end. An extension's
 * re-grant is fenced alike, and the state a grant call answers with is kept even when it comes
 * after the grant ended, or from a re-grant: the revoke names the access that call made.
 */

const JUST = 'investigating INC-42 slow queries';
const MIN = 60_000;
const TIMEOUT_MS = 1_000;
/** The provider applies a grant this long after it was called, whatever the abort signal says. */
const LATE_MS = 1_500;
const sealer = new Sealer('test-sealing-secret');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(5);
  }
}

/**
 * A target system behind a slow, stubborn adapter: its grant ignores the abort signal and applies
 * the access LATE_MS after it was called (or, with `never`, only when the test releases it).
 * Revoke and check answer at once. `events` is what happened to the access, in order.
 */
class LateProvider implements Provider {
  readonly guarantees: ProviderGuarantees = {
    enforcesExpiry: false,
    endsOpenSessions: true,
    isolation: 'shared',
  };
  readonly present = new Set<string>();
  readonly events: string[] = [];
  /** When the last grant call came in (wall time). */
  calledAt = 0;
  never = false;
  private readonly held: (() => void)[] = [];

  private key(ctx: ProviderCallContext<unknown>): string {
    return `${ctx.user.slackId}/${ctx.resource.id}`;
  }

  grant(ctx: ProviderCallContext<unknown>): Promise<GrantResult> {
    this.events.push('grant called');
    this.calledAt = Date.now();
    return new Promise((resolve) => {
      const land = () => {
        this.present.add(this.key(ctx));
        this.events.push('grant landed');
        resolve({});
      };
      if (this.never) this.held.push(land);
      else setTimeout(land, LATE_MS);
    });
  }

  async revoke(ctx: ProviderCallContext<unknown>): Promise<void> {
    this.events.push('revoke');
    this.present.delete(this.key(ctx));
  }

  async check(ctx: ProviderCallContext<unknown>): Promise<boolean> {
    this.events.push('check');
    return this.present.has(this.key(ctx));
  }

  /** Lets every held grant call land now. */
  release(): void {
    this.held.splice(0).forEach((land) => land());
  }

  /** Resolves once a late grant called now would have landed (and a little more). */
  async afterLanding(): Promise<void> {
    await sleep(Math.max(0, this.calledAt + LATE_MS + 100 - Date.now()));
  }
}

function config(options: {
  alertAfterAttempts: number;
  retryBase?: string;
  maxTotalDuration?: string;
}): string {
  return `
timezone: UTC
admins: [UADMIN]
requests:
  approverChannel: CAPPROVALS
sweeper:
  alertAfterAttempts: ${options.alertAfterAttempts}
  retryBase: ${options.retryBase ?? '5s'}
providers:
  hook:
    type: webhook
    url: http://127.0.0.1:9/hook
    secret: s3cret-value
    timeout: 1s
resources:
  - id: auto
    name: Auto approved
    provider: hook
    maxDuration: 1h
    maxTotalDuration: ${options.maxTotalDuration ?? '1h'}
    approvalsRequired: 0
`;
}

describe.each(STORE_KINDS)('fenced provider calls (%s)', (kind: StoreKind) => {
  let h: CoreHarness;
  let provider: LateProvider;
  let sweeper: Sweeper;
  let reconciler: Reconciler;
  let logs: string[];

  async function setUp(yaml: string): Promise<void> {
    h = await coreHarness(yaml, undefined, kind);
    provider = new LateProvider();
    logs = [];
    const logger = winston.createLogger({
      level: 'debug',
      format: winston.format.json(),
      transports: [
        new winston.transports.Stream({
          stream: new Writable({
            write(chunk, _encoding, done) {
              logs.push(String(chunk));
              done();
            },
          }),
        }),
      ],
    });
    const providers = lookupOf({ hook: provider }, TIMEOUT_MS);
    const shared = {
      core: h.core,
      providers,
      directory: new StaticDirectory(),
      sealer,
      logger,
      busy: new Set<string>(),
      calls: new ProviderCalls(),
      turns: new AccessTurns(providers),
    };
    sweeper = new Sweeper({ ...shared, random: () => 1 });
    reconciler = new Reconciler(shared);
  }

  afterEach(async () => {
    provider.release();
    await sweeper.stop();
    await reconciler.stop();
    await h.close();
  });

  async function requested(): Promise<string> {
    const req = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    return h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
  }

  const grant = async (id: string) => (await h.core.grant(id))!;

  it('waits for a timed-out grant to land before its clean-up revoke, so the access ends absent', async () => {
    await setUp(config({ alertAfterAttempts: 1 }));
    const grantId = await requested();
    const t = h.clock.now();
    await sweeper.tick();
    expect(await grant(grantId)).toMatchObject({
      status: 'revoking',
      endReason: 'activation_failed',
      lastError: 'grant: timed out after 1000 ms',
      fenceUntil: t + 2 * TIMEOUT_MS,
      nextAttemptAt: t + 2 * TIMEOUT_MS,
    });
    expect(provider.events).toEqual(['grant called']);

    // The clean-up revoke is not due before the fence, however often the sweeper passes.
    h.clock.set(t + 2 * TIMEOUT_MS - 1);
    await sweeper.tick();
    expect(provider.events).toEqual(['grant called']);

    // Due now, while the grant call is still out: the revoke waits for it to land first.
    h.clock.set(t + 2 * TIMEOUT_MS);
    await sweeper.tick();
    await provider.afterLanding();
    expect(provider.events).toEqual(['grant called', 'grant landed', 'revoke', 'check']);
    expect(provider.present.size).toBe(0);
    expect(await grant(grantId)).toMatchObject({
      status: 'failed',
      endedAt: t + 2 * TIMEOUT_MS,
      recheckAt: t + 2 * TIMEOUT_MS + 2 * MIN,
    });
  });

  it('makes no second grant call while its first is out, and counts that wait as a failed attempt', async () => {
    await setUp(config({ alertAfterAttempts: 2 }));
    provider.never = true;
    const grantId = await requested();
    await sweeper.tick();
    const failed = await grant(grantId);
    expect(failed).toMatchObject({ status: 'activating', attempts: 1 });
    // Its retry falls due (past the fence): the first call has still not answered, so the retry
    // calls nothing, and its failed attempts run out into the clean-up as any others would.
    h.clock.set(failed.nextAttemptAt!);
    await sweeper.tick();
    expect(provider.events).toEqual(['grant called']);
    expect(await grant(grantId)).toMatchObject({
      status: 'revoking',
      endReason: 'activation_failed',
      lastError: 'grant: the grant call that timed out has still not answered',
    });
  });

  it('schedules a user revoke after a timed-out activation no sooner than the fence, and ends absent', async () => {
    await setUp(config({ alertAfterAttempts: 2 }));
    const grantId = await requested();
    const t = h.clock.now();
    await sweeper.tick();
    expect(await grant(grantId)).toMatchObject({
      status: 'activating',
      attempts: 1,
      fenceUntil: t + 2 * TIMEOUT_MS,
    });

    await h.core.revokeGrant({ grantId, actor: 'UREQ' });
    expect(await grant(grantId)).toMatchObject({
      status: 'revoking',
      endReason: 'revoked_by_user',
      nextAttemptAt: t + 2 * TIMEOUT_MS,
    });
    h.clock.set(t + 2 * TIMEOUT_MS - 1);
    await sweeper.tick();
    expect(provider.events).toEqual(['grant called']);

    h.clock.set(t + 2 * TIMEOUT_MS);
    await sweeper.tick();
    await provider.afterLanding();
    expect(provider.events).toEqual(['grant called', 'grant landed', 'revoke', 'check']);
    expect(provider.present.size).toBe(0);
    expect(await grant(grantId)).toMatchObject({
      status: 'revoked',
      endReason: 'revoked_by_user',
      recheckAt: t + 2 * TIMEOUT_MS + 2 * MIN,
    });
  });

  it('fences a user revoke made while the activation call is still out, and ends absent', async () => {
    // A first retry sooner than the fence: only the fence keeps the revoke from running early.
    await setUp(config({ alertAfterAttempts: 1, retryBase: '1s' }));
    const grantId = await requested();
    const t = h.clock.now();
    const activating = sweeper.tick();
    while (provider.events.length === 0) await sleep(5);
    await h.core.revokeGrant({ grantId, actor: 'UREQ' });
    await activating;

    const fenced = await grant(grantId);
    expect(fenced).toMatchObject({
      status: 'revoking',
      endReason: 'revoked_by_user',
      fenceUntil: t + 2 * TIMEOUT_MS,
    });
    expect(fenced.nextAttemptAt).toBeGreaterThanOrEqual(t + 2 * TIMEOUT_MS);

    h.clock.set(fenced.nextAttemptAt!);
    await sweeper.tick();
    await provider.afterLanding();
    expect(provider.events).toEqual(['grant called', 'grant landed', 'revoke', 'check']);
    expect(provider.present.size).toBe(0);
    expect((await grant(grantId)).status).toBe('revoked');
  });

  it('revokes anyway after the grace when a call never settles, and the read-back after the end catches it landing later', async () => {
    await setUp(config({ alertAfterAttempts: 1 }));
    provider.never = true;
    const grantId = await requested();
    const t = h.clock.now();
    await sweeper.tick();
    expect((await grant(grantId)).fenceUntil).toBe(t + 2 * TIMEOUT_MS);

    h.clock.set(t + 2 * TIMEOUT_MS);
    const waited = Date.now();
    await sweeper.tick();
    // It waited out the grace (twice the timeout) for the call, then revoked without it.
    expect(Date.now() - waited).toBeGreaterThanOrEqual(2 * TIMEOUT_MS - 50);
    expect(provider.events).toEqual(['grant called', 'revoke', 'check']);
    expect(logs.join('')).toContain(
      'a grant call that timed out has still not answered; revoking anyway',
    );
    const ended = await grant(grantId);
    expect(ended).toMatchObject({
      status: 'failed',
      endedAt: t + 2 * TIMEOUT_MS,
      recheckAt: t + 2 * TIMEOUT_MS + 2 * MIN,
      rechecks: 0,
    });

    // The stray call lands after all; the read-back at end + 2m finds it and takes it away.
    provider.release();
    expect(provider.present.size).toBe(1);
    h.clock.set(ended.recheckAt!);
    expect(await reconciler.run()).toEqual([
      {
        grantId,
        userId: 'UREQ',
        resourceId: 'auto',
        expected: 'absent',
        found: 'present',
        repaired: true,
      },
    ]);
    expect(provider.present.size).toBe(0);
  });
});

/** A per-grant webhook whose calls the tests answer through KeyedTarget. */
const KEYED_CONFIG = config({ alertAfterAttempts: 5, maxTotalDuration: '4h' });

/**
 * A target system that, like a webhook receiver issuing API keys (or aws-identity-center's
 * assignment, okta-group's user id, ldap-group's member value), identifies the access a grant
 * call made by the `state` it returns: revoke and check act on `ctx.state`. Grant is idempotent
 * (the same key while the one in `state` exists) and, when the key in `state` is gone, issues a
 * new one. Without state, revoke and check can only fall back to a lookup that finds nothing
 * (the person renamed at the target, the key unlisted): revoke succeeds and check says absent.
 */
class KeyedTarget implements Provider {
  readonly guarantees: ProviderGuarantees = {
    enforcesExpiry: false,
    endsOpenSessions: true,
    isolation: 'per-grant',
  };
  /** Keys that give access now. */
  readonly keys = new Set<string>();
  readonly calls: { action: string; state: unknown }[] = [];
  private issued = 0;
  /** Grant calls land LATE_MS after they were made, ignoring the abort (a slow receiver). */
  slow = false;
  /** Keys named after the grant (a receiver keyed on grantId): a re-grant re-creates the same. */
  keyByGrant = false;
  /** Grant calls wait for `release` before they answer (the call is out). */
  hold = false;
  private readonly held: (() => void)[] = [];
  lastGrantCalledAt = 0;

  private keyOf(ctx: ProviderCallContext<unknown>): string | undefined {
    const state = ctx.state as { key?: string } | undefined;
    return state?.key;
  }

  async grant(ctx: ProviderCallContext<unknown>): Promise<GrantResult> {
    this.calls.push({ action: 'grant', state: ctx.state });
    this.lastGrantCalledAt = Date.now();
    const land = (): GrantResult => {
      const known = this.keyOf(ctx);
      const key = this.keyByGrant
        ? `key-${ctx.grantId}`
        : known && this.keys.has(known)
          ? known
          : `key-${++this.issued}`;
      this.keys.add(key);
      return { state: { key } };
    };
    if (this.slow) {
      return new Promise((resolve) => setTimeout(() => resolve(land()), LATE_MS));
    }
    if (this.hold) {
      await new Promise<void>((resolve) => this.held.push(resolve));
    }
    return land();
  }

  async revoke(ctx: ProviderCallContext<unknown>): Promise<void> {
    this.calls.push({ action: 'revoke', state: ctx.state });
    const key = this.keyOf(ctx);
    if (key) this.keys.delete(key);
  }

  async check(ctx: ProviderCallContext<unknown>): Promise<boolean> {
    this.calls.push({ action: 'check', state: ctx.state });
    const key = this.keyOf(ctx);
    return key !== undefined && this.keys.has(key);
  }

  release(): void {
    this.held.splice(0).forEach((go) => go());
  }

  /** Grant calls the receiver has and is still working on (`hold`). */
  get heldCalls(): number {
    return this.held.length;
  }

  async afterLanding(): Promise<void> {
    await sleep(Math.max(0, this.lastGrantCalledAt + LATE_MS + 100 - Date.now()));
  }
}

/**
 * One Hallpass process (its sweeper and reconciler, with the in-memory state they share), on the
 * harness's core unless given its own (a restarted process's, on the same database).
 */
function processOn(h: CoreHarness, target: KeyedTarget, core: Core = h.core): TestJobs {
  const directory = new StaticDirectory({}, { UREQ: 'req@example.com' });
  return jobsOf(core, lookupOf({ hook: target }, TIMEOUT_MS), directory);
}

describe('provider answers the record keeps: late ones, and re-grants (sqlite)', () => {
  let h: CoreHarness;
  let target: KeyedTarget;
  const processes: TestJobs[] = [];
  const start = (core?: Core) => {
    const p = processOn(h, target, core);
    processes.push(p);
    return p;
  };

  beforeEach(async () => {
    h = await coreHarness(KEYED_CONFIG, undefined, 'sqlite');
    target = new KeyedTarget();
  });
  afterEach(async () => {
    target.release();
    for (const p of processes.splice(0)) {
      await p.sweeper.stop();
      await p.reconciler.stop();
    }
    await h.close();
  });

  /**
   * `first` goes away (a crash, a redeploy, leadership moving to another replica) while a re-grant
   * it made is late; the next process, knowing only what the database says, revokes the grant
   * the holder ends, as the late call lands and after any fence has passed.
   */
  async function revokedAfterRestart(first: TestJobs, grantId: string): Promise<void> {
    await first.sweeper.stop();
    await first.reconciler.stop();
    const next = start();
    await h.core.revokeGrant({ grantId, actor: 'UREQ' });
    await next.sweeper.tick();
    await target.afterLanding();
    h.clock.advance(10 * TIMEOUT_MS);
    await next.sweeper.tick();
  }

  /**
   * `first` is killed (an OOM, a redeploy) while the receiver is still working on a re-grant it
   * sent: nothing of it runs any more but that call. A restarted process, knowing only what the
   * database says, revokes the grant the holder ends at once; the receiver then applies the
   * re-grant, well within the provider's timeout, and the restarted process passes again once
   * anything a fence held back is due.
   */
  async function revokedWhileOut(grantId: string): Promise<void> {
    await until(() => target.heldCalls === 1);
    const next = start(await h.another());
    await h.core.revokeGrant({ grantId, actor: 'UREQ' });
    await next.sweeper.tick();
    target.release();
    await sleep(50);
    h.clock.advance(10 * TIMEOUT_MS);
    await next.sweeper.tick();
  }

  async function activeGrant(p: TestJobs): Promise<string> {
    const req = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    const grantId = await h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
    await p.sweeper.tick();
    expect((await h.core.grant(grantId))!.status).toBe('active');
    return grantId;
  }

  it('fences the revoke after an extension re-grant that timed out, across a restart, so a late re-grant cannot outlive the revoked record', async () => {
    const first = start();
    target.keyByGrant = true;
    const grantId = await activeGrant(first);
    expect([...target.keys]).toEqual([`key-${grantId}`]);

    // An extension is approved; the sweeper tells the provider, and that grant call times out
    // while the receiver is still working on it (it applies it LATE_MS after it was sent).
    await h.core.requestExtension({
      grantId,
      actor: 'UREQ',
      duration: '30m',
      justification: 'the migration is still running',
    });
    target.slow = true;
    await first.sweeper.tick();
    expect(target.calls.filter((c) => c.action === 'grant')).toHaveLength(2);

    await revokedAfterRestart(first, grantId);
    const row = (await h.core.grant(grantId))!;
    expect(row.status).toBe('revoked');
    // The record says the access is gone: it must be.
    expect([...target.keys]).toEqual([]);
  });

  // The re-grant holds the grant in the database before it is made, as an activation's call does:
  // without that, a process that died with it out left no fence, the restarted one revoked at
  // once, and the re-grant landed after the revoke.
  it('fences the revoke after an extension re-grant still out when its process died, so it cannot outlive the revoked record', async () => {
    const first = start();
    target.keyByGrant = true;
    const grantId = await activeGrant(first);
    await h.core.requestExtension({
      grantId,
      actor: 'UREQ',
      duration: '30m',
      justification: 'the migration is still running',
    });
    target.hold = true;
    const dying = first.sweeper.tick();

    await revokedWhileOut(grantId);
    await dying;
    expect((await h.core.grant(grantId))!.status).toBe('revoked');
    // The record says the access is gone: it must be.
    expect([...target.keys]).toEqual([]);
  });

  it('keeps the state a grant call answered with even when the grant was ended while the call was out, so its revoke removes that access', async () => {
    const p = start();
    const req = await h.core.createRequest({
      requester: 'UREQ',
      resourceId: 'auto',
      duration: '30m',
      justification: JUST,
    });
    const grantId = await h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
    target.hold = true;
    const activating = p.sweeper.tick();
    while (target.calls.length === 0) await sleep(5);

    // The holder (or offboarding) ends it while the grant call is out; the call then succeeds.
    await h.core.revokeGrant({ grantId, actor: 'UREQ' });
    target.release();
    await activating;
    expect(target.keys.size).toBe(1);

    target.hold = false;
    await p.sweeper.tick();
    const row = (await h.core.grant(grantId))!;
    expect(row.status).toBe('revoked');
    // The record says revoked: the access the grant call made must be gone, and the revoke
    // named what that call answered with.
    expect([...target.keys]).toEqual([]);
    expect(target.calls.find((c) => c.action === 'revoke')?.state).toEqual({ key: 'key-1' });
  });

  it('expires an extended grant on time though its extension re-grant keeps timing out', async () => {
    const p = start();
    const grantId = await activeGrant(p);
    await h.core.requestExtension({
      grantId,
      actor: 'UREQ',
      duration: '30m',
      justification: 'the migration is still running',
    });
    const { expiresAt } = (await h.core.grant(grantId))!;
    // The target's grant calls stop answering (its revoke still works). Passes come back to back,
    // as they do when a provider's timeout is long against the sweeper's schedule; each one
    // would retry the re-grant and fence the expiry off again.
    target.hold = true;
    h.clock.set(expiresAt! - 1_000);
    for (let i = 0; i < 8; i++) {
      await p.sweeper.tick();
      h.clock.advance(1_500);
    }
    expect((await h.core.grant(grantId))!.status).toBe('revoked');
    expect([...target.keys]).toEqual([]);
  }, 30_000);

  it('fences the revoke after a reconciler re-grant that timed out, across a restart', async () => {
    const first = start();
    target.keyByGrant = true;
    const grantId = await activeGrant(first);
    // Someone deletes the access at the target; the reconciler re-grants it, and that call times
    // out while the receiver is still applying it.
    target.keys.clear();
    target.slow = true;
    const findings = await first.reconciler.run();
    expect(findings).toEqual([
      expect.objectContaining({ grantId, found: 'absent', repaired: false }),
    ]);

    await revokedAfterRestart(first, grantId);
    expect((await h.core.grant(grantId))!.status).toBe('revoked');
    expect([...target.keys]).toEqual([]);
  }, 30_000);

  it('fences the revoke after a reconciler re-grant still out when its process died', async () => {
    const first = start();
    target.keyByGrant = true;
    const grantId = await activeGrant(first);
    // Someone deletes the access at the target; the reconciler finds it absent and re-grants.
    target.keys.clear();
    h.clock.advance(5 * MIN);
    target.hold = true;
    const dying = first.reconciler.run();

    await revokedWhileOut(grantId);
    await dying;
    expect((await h.core.grant(grantId))!.status).toBe('revoked');
    expect([...target.keys]).toEqual([]);
  });

  it('keeps the state a reconciler re-grant answered with, so the later revoke removes the re-created access', async () => {
    const p = start();
    const grantId = await activeGrant(p);
    expect([...target.keys]).toEqual(['key-1']);

    // Someone deletes the access at the target; the reconciler finds the drift and re-grants,
    // and the receiver issues a new key for it.
    target.keys.clear();
    const findings = await p.reconciler.run();
    expect(findings).toEqual([expect.objectContaining({ grantId, found: 'absent' })]);
    expect([...target.keys]).toEqual(['key-2']);

    // The grant expires and is revoked.
    h.clock.advance(31 * MIN);
    await p.sweeper.tick();
    const row = (await h.core.grant(grantId))!;
    expect(row.status).toBe('revoked');
    // The record says revoked: the access the re-grant re-created must be gone too.
    expect([...target.keys]).toEqual([]);
    // (And the repair itself was read back with the state it made: it counts as repaired.)
    expect(findings[0]?.repaired).toBe(true);
  });
});

/**
 * A revoke on shared access that times out at Hallpass but is applied by the target later (a slow
 * receiver): the person's next grant of that access is not activated until that revoke can no
 * longer land, so the late revoke cannot take away the access the record says the new grant gives.
 */
describe.each(STORE_KINDS)('a revoke that times out but lands later (%s)', (kind: StoreKind) => {
  /** The receiver applies the revoke this long after it was called, past TIMEOUT_MS. */
  const REVOKE_LANDS_MS = 1_300;
  let h: CoreHarness;
  let provider: RecordingProvider;
  const processes: TestJobs[] = [];

  /** One Hallpass process on `core` (the harness's unless given): its sweeper and reconciler. */
  function start(core: Core = h.core): TestJobs {
    const p = jobsOf(
      core,
      lookupOf({ hook: provider }, TIMEOUT_MS),
      new StaticDirectory({}, { UREQ: 'req@example.com' }),
    );
    processes.push(p);
    return p;
  }

  beforeEach(async () => {
    h = await coreHarness(config({ alertAfterAttempts: 5 }), undefined, kind);
    // Shared access: the person's grants of the resource are one access at the target.
    provider = new RecordingProvider();
  });
  afterEach(async () => {
    provider.onCall = undefined;
    for (const p of processes.splice(0)) {
      await p.sweeper.stop();
      await p.reconciler.stop();
    }
    await h.close();
  });

  const requested = () => filedGrant(h);

  const grant = async (id: string) => (await h.core.grant(id))!;
  const grantCallsOf = (id: string) => provider.callsOf('grant').filter((c) => c.grantId === id);

  /**
   * Activates a first grant, then revokes it with a revoke the receiver applies only after the
   * timeout; resolves once the revoke timed out, with the grant and when its revoke lands.
   */
  async function revokeLate(
    sweeper: Sweeper,
  ): Promise<{ first: string; landed: Promise<unknown> }> {
    const first = await requested();
    await sweeper.tick();
    expect((await grant(first)).status).toBe('active');
    expect(provider.present.size).toBe(1);
    let landed!: Promise<unknown>;
    provider.onCall = async (call) => {
      if (call.action !== 'revoke' || call.grantId !== first) return;
      provider.onCall = undefined;
      landed = sleep(REVOKE_LANDS_MS);
      await landed;
    };
    await h.core.revokeGrant({ grantId: first, actor: 'UREQ' });
    await sweeper.tick();
    return { first, landed: landed.then(() => sleep(50)) };
  }

  it('activates the next grant of the access only once the timed-out revoke can no longer land', async () => {
    const { sweeper } = start();
    const t = h.clock.now();
    const { first, landed } = await revokeLate(sweeper);
    expect(await grant(first)).toMatchObject({
      status: 'revoking',
      lastError: 'revoke: timed out after 1000 ms',
      fenceUntil: t + 2 * TIMEOUT_MS,
    });

    // The person asks again at once and is approved: the activation waits out the fence.
    const second = await requested();
    await sweeper.tick();
    expect(await grant(second)).toMatchObject({
      status: 'activating',
      attempts: 0,
      nextAttemptAt: t + 2 * TIMEOUT_MS,
    });
    expect(grantCallsOf(second)).toEqual([]);

    // The first revoke lands at the receiver; then the fence passes, and the first grant's retry.
    await landed;
    expect(provider.present.size).toBe(0);
    h.clock.advance(MIN);
    await sweeper.tick();
    expect((await grant(first)).status).toBe('revoked');
    expect((await grant(second)).status).toBe('active');
    expect(grantCallsOf(second)).toHaveLength(1);
    expect(provider.present.size).toBe(1);
  });

  it('holds the next activation back on a fence another process left when its revoke timed out', async () => {
    const old = start().sweeper;
    const t = h.clock.now();
    const { first, landed } = await revokeLate(old);
    expect((await grant(first)).fenceUntil).toBe(t + 2 * TIMEOUT_MS);
    // The process that made the call is gone (a restart, leadership moving): only the database
    // says that the revoke may still land.
    await old.stop();
    const next = start(await h.another()).sweeper;

    const second = await requested();
    await next.tick();
    expect(await grant(second)).toMatchObject({
      status: 'activating',
      nextAttemptAt: t + 2 * TIMEOUT_MS,
    });
    expect(grantCallsOf(second)).toEqual([]);

    await landed;
    h.clock.set(t + 2 * TIMEOUT_MS);
    await next.tick();
    expect((await grant(second)).status).toBe('active');
    expect(provider.present.size).toBe(1);
    h.clock.advance(MIN);
    await next.tick();
    expect((await grant(first)).status).toBe('revoked');
    expect((await grant(second)).status).toBe('active');
    expect(provider.present.size).toBe(1);
  });

  it('holds the next activation back after a takeover, for a revoke the process before sent and never recorded', async () => {
    const oldCore = await h.another();
    const old = start(oldCore).sweeper;
    const first = await requested();
    await old.tick();
    expect((await grant(first)).status).toBe('active');
    // The old leader's revoke reaches the receiver, which applies it only when let go; the old
    // process is gone before it could record anything (its writes fail from here on).
    const letGo = provider.holdNext('revoke', first);
    jest.spyOn(oldCore.lifecycle, 'failed').mockRejectedValue(new Error('connection terminated'));
    await h.core.revokeGrant({ grantId: first, actor: 'UREQ' });
    const oldPass = old.tick();
    await until(() => provider.callsOf('revoke').length === 1);

    // A new leader takes over: it revokes the first grant again (at once), and the person's
    // next grant of the same access waits two timeouts from the takeover.
    const next = start().sweeper;
    const t = h.clock.now();
    const second = await requested();
    await next.tick();
    expect((await grant(first)).status).toBe('revoked');
    expect(await grant(second)).toMatchObject({
      status: 'activating',
      nextAttemptAt: t + 2 * TIMEOUT_MS,
    });
    expect(grantCallsOf(second)).toEqual([]);

    // The old revoke lands; only then is the next grant activated.
    letGo();
    await oldPass;
    h.clock.set(t + 2 * TIMEOUT_MS);
    await next.tick();
    expect((await grant(second)).status).toBe('active');
    expect(provider.present.size).toBe(1);
  });

  it('holds the next activation back on the fence of a reconciler repair revoke that timed out', async () => {
    const { sweeper, reconciler } = start();
    const first = await requested();
    await sweeper.tick();
    await h.core.revokeGrant({ grantId: first, actor: 'UREQ' });
    await sweeper.tick();
    const ended = await grant(first);
    expect(ended.status).toBe('revoked');

    // The access comes back (by hand); the read-back after the end finds it, and its repair
    // revoke reaches the receiver, which applies it only after the timeout.
    provider.present.add('UREQ/auto');
    let landed!: Promise<unknown>;
    provider.onCall = async (call) => {
      if (call.action !== 'revoke' || call.grantId !== first) return;
      provider.onCall = undefined;
      landed = sleep(REVOKE_LANDS_MS);
      await landed;
    };
    h.clock.set(ended.recheckAt!);
    const t = h.clock.now();
    const [finding] = await reconciler.run();
    expect(finding).toMatchObject({ grantId: first, found: 'present', repaired: false });
    expect((await grant(first)).fenceUntil).toBe(t + 2 * TIMEOUT_MS);

    const second = await requested();
    await sweeper.tick();
    expect(await grant(second)).toMatchObject({
      status: 'activating',
      nextAttemptAt: t + 2 * TIMEOUT_MS,
    });
    expect(grantCallsOf(second)).toEqual([]);

    await landed;
    await sleep(50);
    expect(provider.present.size).toBe(0);
    h.clock.set(t + 2 * TIMEOUT_MS);
    await sweeper.tick();
    expect((await grant(second)).status).toBe('active');
    expect(provider.present.size).toBe(1);
  });
});

describe('ProviderCalls', () => {
  const deferred = <T>() => {
    let resolve!: (value: T) => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };

  it('answers with the call and tracks nothing once it settled', async () => {
    const calls = new ProviderCalls();
    await expect(calls.run('gr_1', 1000, async () => 'done')).resolves.toBe('done');
    expect(calls.pending('gr_1')).toBe(false);
    expect(await calls.settled('gr_1', 1000)).toBe(true);
  });

  it('rejects with the call’s own error when it fails in time', async () => {
    const calls = new ProviderCalls();
    await expect(
      calls.run('gr_1', 1000, async () => {
        throw new Error('permission denied');
      }),
    ).rejects.toThrow('permission denied');
    expect(calls.pending('gr_1')).toBe(false);
  });

  it('turns a call that throws synchronously into a rejection, not a throw', async () => {
    const calls = new ProviderCalls();
    const run = () =>
      calls.run('gr_1', 1000, () => {
        throw new TypeError('bad arguments');
      });
    let result: Promise<unknown> | undefined;
    expect(() => (result = run())).not.toThrow();
    await expect(result).rejects.toThrow('bad arguments');
    expect(calls.pending('gr_1')).toBe(false);
  });

  it('gives up on a call at its timeout, aborting its signal, but keeps it tracked until it settles and another timeout passed', async () => {
    const calls = new ProviderCalls();
    const call = deferred<string>();
    let signal: AbortSignal | undefined;
    const started = Date.now();
    const run = calls.run('gr_1', 50, (s) => {
      signal = s;
      return call.promise;
    });
    await expect(run).rejects.toThrow(new ProviderCallError('timed out after 50 ms'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toEqual(new ProviderCallError('timed out after 50 ms'));
    expect(calls.pending('gr_1')).toBe(true);
    expect(calls.pending('gr_2')).toBe(false);

    call.resolve('landed late');
    await sleep(0);
    // Settled here, but what it sent may still be applied over there for one more timeout.
    expect(calls.pending('gr_1')).toBe(true);
    expect(await calls.settled('gr_1', 1000)).toBe(true);
    expect(calls.pending('gr_1')).toBe(false);
  });

  it('keeps an aborted call that settled at once out for one more timeout', async () => {
    const calls = new ProviderCalls();
    const run = calls.run('gr_1', 50, (signal) => {
      // Like fetch: the abort rejects the call as soon as it fires.
      return new Promise<string>((_, reject) =>
        signal.addEventListener('abort', () => reject(signal.reason as Error)),
      );
    });
    await expect(run).rejects.toThrow('timed out after 50 ms');
    await sleep(0);
    expect(calls.pending('gr_1')).toBe(true);
    expect(await calls.settled('gr_1', 1000)).toBe(true);
    expect(calls.pending('gr_1')).toBe(false);
  });

  it('settled() waits for every unsettled call of the grant, and only that grant’s', async () => {
    const calls = new ProviderCalls();
    const first = deferred<void>();
    const second = deferred<void>();
    const other = deferred<void>();
    calls.run('gr_1', 10, () => first.promise).catch(() => undefined);
    calls.run('gr_1', 10, () => second.promise).catch(() => undefined);
    calls.run('gr_2', 10, () => other.promise).catch(() => undefined);
    await sleep(20);

    let done: boolean | undefined;
    const waiting = calls.settled('gr_1', 5_000).then((ok) => (done = ok));
    first.resolve();
    await sleep(20);
    expect(done).toBeUndefined();
    // A late failure is settled too: it cannot land any more.
    second.reject(new Error('gave up on its own'));
    await waiting;
    expect(done).toBe(true);
    expect(calls.pending('gr_1')).toBe(false);
    expect(calls.pending('gr_2')).toBe(true);
    expect(await calls.settled('gr_3', 5_000)).toBe(true);
    other.resolve();
  });

  it('settled() gives up after the grace when a call never settles', async () => {
    const calls = new ProviderCalls();
    const never = deferred<void>();
    calls.run('gr_1', 10, () => never.promise).catch(() => undefined);
    const started = Date.now();
    expect(await calls.settled('gr_1', 100)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    expect(calls.pending('gr_1')).toBe(true);
    never.resolve();
  });
});
