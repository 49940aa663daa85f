import { schedule, type ScheduledTask } from 'node-cron';
import type {
  Core,
  Covers,
  DueGrant,
  DuePlace,
  FailedCall,
  GrantRow,
  RetryPolicy,
  Revocation,
  Revoked,
} from '../core';
import type { Directory } from '../core/directory';
import type { Logger } from '../log';
import type { Credentials } from '../providers/types';
import { forgetSecret, registerSecret } from '../secrets/scrub';
import type { Sealer } from '../secrets/seal';
import { backoffDelay } from '../core/backoff';
import { AccessTurns, AccountUnknown } from './access-turns';
import { Batch } from './batch';
import { throttle } from './throttle';
import { ProviderCalls } from './provider-calls';
import { forEachLimited } from '../limit';
import {
  boundedLookup,
  callContext,
  describeError,
  grantedEmailOf,
  presenceOf,
  ProviderCallError,
  providerFor,
  takeGrantCall,
  type ProviderLookup,
  type ResolvedProvider,
} from './provider-call';

/** Timers, injectable so tests can see when the sweeper asks to be woken. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** setTimeout cannot wait longer than this; the cron tick covers anything further out anyway. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What is left of a revoke once its call answered: reading it back, then recording it. */
type ReadBack = () => Promise<void>;

/**
 * Revokes confirmed within this window commit together: the access is gone already, only its
 * record waits, and a commit costs more than the few rows in it. While a pass still has provider
 * calls to make or in progress, the window stays open, for RECORD_HOLD_MS at most or until
 * RECORD_MAX wait: with many grants ending at once, recording the first ones would hold up the
 * calls that end the others, and those are what ends access. Each record carries the moment its
 * revoke was confirmed, so holding it changes when it is written, not what it says. The records
 * are then written RECORD_PIECE to a transaction, with the event loop let run between them, so
 * that no flush holds the thread (and Slack's acks) for long.
 */
const RECORD_WINDOW_MS = 10;
const RECORD_HOLD_MS = 5_000;
const RECORD_MAX = 16_384;
const RECORD_PIECE = 1_000;

/**
 * At most this many grants are booked ahead of their moment in one pass: more than a pass books
 * in TAKE_AHEAD_MS here, so the cap bounds the rows held in memory when vast numbers expire at
 * once rather than how many are booked in time.
 */
const TAKEN_AHEAD_MAX = 16_384;

/**
 * Grants booked a transaction while the lanes wait for the moment. Booking costs per transaction
 * as well as per grant: on PostgreSQL on two cores, ten thousand grants in pages of 128 took
 * longer than TAKE_AHEAD_MS in the slower rounds, and in pages of 1,000 were booked 0.2 to 0.5 s
 * before the moment in every round measured (docs/performance-journal.md). A page holds the store's
 * writes for tens of milliseconds, which before the moment delays nothing that ends access.
 */
const BOOK_AHEAD_PAGE = 1_000;

/**
 * A grant whose activation comes this long after its approval asks the directory about its holder
 * again first: the approval's own check is that old.
 */
const ASK_AGAIN_AFTER_MS = 10 * 60_000;

/**
 * The exact timer never fires sooner than this after it is set: when something keeps falling
 * due without the sweeper being able to act on it, a pass a few times a second is the most it
 * costs, never a loop.
 */
export const MIN_REARM_MS = 25;

export interface SweeperDeps {
  core: Core;
  providers: ProviderLookup;
  directory: Directory;
  sealer: Sealer;
  logger: Logger;
  timers?: Timers;
  random?: () => number;
  /** Grants with a provider call in progress, shared with the reconciler. */
  busy?: Set<string>;
  /** Provider calls tracked until they settle, shared with the reconciler. */
  calls?: ProviderCalls;
  /** Turns on shared access, shared with the reconciler's repairs. */
  turns?: AccessTurns;
  /** Told after each full pass (for /metrics: a sweeper that stops passing is alerted on). */
  onPass?: () => void;
}

/**
 * Activates approved grants, revokes expired ones, expires stale requests and warns holders.
 * A cron tick is the safety net; an exact timer for the next due moment makes access end within
 * a second of expires_at. Provider calls run outside transactions, at most `concurrency` at once.
 */
export class Sweeper {
  /** Grants with a provider call in progress here (shared with the reconciler). */
  private readonly inFlight: Set<string>;
  private cron?: ScheduledTask;
  private timer: unknown;
  private timerAt: number | null = null;
  private running: Promise<void> | null = null;
  /** Passes ended so far: a read of the next due moment that one ended during is stale. */
  private passesEnded = 0;
  /**
   * When this process began sweeping (its first pass since start): a revoke another process sent
   * before then (it died, or lost the lead, with the call out) left nothing in the database.
   */
  private sweepingSince: number | null = null;
  private again = false;
  private stopped = true;
  /**
   * Set while `stop` waits for the pass in progress: the pass finishes the calls it has out and
   * starts no more. A leader that lost leadership is stopped this way, and the next leader owns
   * the work from then on; a call started after the stop could cross one of the next leader's.
   */
  private halting = false;
  private unsubscribe?: () => void;
  private readonly timers: Timers;
  /** Confirmed revokes, recorded a few at a time; a grant stays in flight until its batch commits. */
  private readonly revoked = new Batch<Revoked, GrantRow | undefined>(
    (done) => this.grants.revoked(done),
    {
      windowMs: RECORD_WINDOW_MS,
      maxItems: RECORD_MAX,
      holdWhile: () => this.calling,
      maxHoldMs: RECORD_HOLD_MS,
      maxFlush: RECORD_PIECE,
    },
  );
  /** The lanes of a pass are making provider calls. */
  private calling = false;
  private readonly recording = new Map<string, Promise<void>>();
  /** Credentials issued by this process, kept out of every text until their grant has ended. */
  private readonly issued = new Map<string, string[]>();
  /** Every provider call of this process, tracked until it settles, timed out or not. */
  private readonly calls: ProviderCalls;
  /**
   * Grants whose failure could not be recorded (the database refused): left alone here, with
   * backoff, until the record can be written, so a failure that cannot be recorded cannot loop.
   */
  private readonly held = new Map<string, { until: number; attempts: number }>();
  /** Provider calls on one person's shared access, one after another in the order taken. */
  private readonly turns: AccessTurns;
  /** The last pass found nothing it could act on. */
  private idle = false;
  /** Lanes waiting for the moment of a grant taken ahead; stopping ends the waits. */
  private readonly waits = new Set<() => void>();

  constructor(private readonly deps: SweeperDeps) {
    this.timers = deps.timers ?? realTimers;
    this.inFlight = deps.busy ?? new Set();
    this.calls = deps.calls ?? new ProviderCalls();
    this.turns = deps.turns ?? new AccessTurns(deps.providers);
  }

  private readonly oneAccess = (a: GrantRow, b: GrantRow) =>
    this.turns.oneAccess(a, b, this.deps.directory);

  private get grants() {
    return this.deps.core.lifecycle;
  }

  private get config() {
    return this.deps.core.config;
  }

  private get retry(): RetryPolicy {
    const { retryBase, retryMax, alertAfterAttempts } = this.config.sweeper;
    return { retryBase, retryMax, alertAfterAttempts, random: this.deps.random };
  }

  /** Runs at once (catching up on whatever expired while the bot was down), then on schedule. */
  async start(): Promise<void> {
    this.stopped = false;
    this.sweepingSince = null;
    this.cron = schedule(this.config.sweeper.schedule, () => void this.tick(), {
      name: 'hallpass-sweeper',
      noOverlap: false,
    });
    // During a pass the timer is re-armed when the pass ends; outside one, a change may bring
    // work forward. Under load that is every request: the due moments are read again at most
    // every MIN_REARM_MS, which the timer would wait for anyway.
    const rearm = throttle(() => {
      if (!this.running) void this.arm();
    }, MIN_REARM_MS);
    const unsubscribe = this.deps.core.onCommit(rearm);
    this.unsubscribe = () => {
      unsubscribe();
      rearm.cancel();
    };
    await this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await this.cron?.stop();
    this.cron = undefined;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = null;
    this.waits.forEach((stop) => stop());
    this.halting = true;
    try {
      await this.running;
    } finally {
      this.halting = false;
    }
  }

  /** One full pass. Concurrent calls coalesce: a call during a pass schedules one more pass. */
  tick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      try {
        do {
          this.again = false;
          await this.pass();
          this.deps.onPass?.();
        } while (this.again && !this.stopped);
      } finally {
        this.running = null;
        this.passesEnded++;
        await this.arm();
      }
    })();
    return this.running;
  }

  private async pass(): Promise<void> {
    this.sweepingSince ??= this.deps.core.now();
    await this.safely('expire stale requests', () => this.deps.core.expireStaleRequests());
    const { concurrency, warnBefore } = this.config.sweeper;
    await this.workDue(concurrency);
    if (this.halting) return;
    for (const grant of (await this.safely('list warnings', () =>
      this.grants.toWarn(warnBefore),
    )) ?? []) {
      await this.safely('warn', () => this.grants.warned(grant.id, grant.expiresAt));
    }
    await forEachLimited(
      (await this.safely('list syncs', () => this.grants.toSync())) ?? [],
      concurrency,
      (grant) => this.sync(grant),
    );
  }

  /**
   * Works through every grant due now with `concurrency` lanes of provider calls. The lanes take
   * grants from a queue that is refilled (the next page listed past the last grant listed, so the
   * grants taken are not read again while their record waits; the expired ones moved to
   * `revoking` in one transaction, and the page's covering grants read at once) while they still
   * have work, so the calls never stand still while the next batch is booked: with a thousand
   * grants expiring at once, that wait between batches was most of what Hallpass added to the
   * calls themselves. The first batch is small, so the first calls start soon. A grant is taken
   * once per pass. Work due within TAKE_AHEAD_MS is taken before its moment and its lane waits
   * for the moment to call: a mass expiry is booked while the access is still live, in larger
   * pages, and the calls that end it go out when it ends. A booking the moment overtakes goes on to
   * its end beside the first calls, rather than a page at a time whenever the lanes run short.
   * Work that falls due while a lane waits goes to the next pass.
   */
  private async workDue(concurrency: number): Promise<void> {
    const seen = new Set<string>();
    const queue: { grant: GrantRow; covers: Covers | undefined }[] = [];
    let refilling: Promise<void> | null = null;
    let exhausted = false;
    let after: DuePlace | undefined;
    // The next page is booked while the lanes still have this many to call, so they do not stand
    // still while it is booked.
    const page = concurrency * 8;
    const refill = (size = page): Promise<void> =>
      (refilling ??= (async () => {
        const batch = seen.size === 0 ? concurrency * 2 : size;
        let due: DueGrant[] = [];
        while (due.length === 0) {
          if (this.halting) {
            exhausted = true;
            return;
          }
          const listed = await this.safely('list due grants', () => this.grants.due(batch, after));
          const last = listed?.at(-1);
          if (!last) {
            exhausted = true;
            return;
          }
          after = { at: last.nextAttemptAt, id: last.id };
          const now = this.deps.core.now();
          due = listed!.filter(
            (g) => !this.inFlight.has(g.id) && !seen.has(g.id) && !this.isHeld(g.id, now),
          );
        }
        due.forEach((g) => seen.add(g.id));
        const work = await this.takeDue(due);
        const covers = await this.coversOf(work);
        queue.push(...work.map((grant) => ({ grant, covers })));
      })().finally(() => {
        refilling = null;
      }));
    // While lanes wait for the moment, what else falls due by then is booked too.
    let fillingAhead = false;
    const fillAhead = async (): Promise<void> => {
      if (fillingAhead) return;
      fillingAhead = true;
      const booking = () => !exhausted && queue.length < TAKEN_AHEAD_MAX;
      try {
        while (booking()) await refill(BOOK_AHEAD_PAGE);
      } finally {
        fillingAhead = false;
      }
    };
    const readBacks: ReadBack[] = [];
    const later = (readBack: ReadBack) => readBacks.push(readBack);
    const readBackLane = async (): Promise<void> => {
      for (let next = readBacks.shift(); next; next = readBacks.shift()) await next();
    };
    const lane = async (): Promise<void> => {
      for (;;) {
        if (this.halting) return readBackLane();
        if (queue.length === 0) {
          if (exhausted) return readBackLane();
          await refill();
          continue;
        }
        const { grant, covers } = queue.shift()!;
        if (queue.length < page && !exhausted) void refill();
        const at = grant.nextAttemptAt ?? 0;
        if (at > this.deps.core.now()) {
          void fillAhead();
          // Stopped first: the next pass, here or on the next leader, takes it at its moment.
          if (!(await this.reached(at))) continue;
        }
        const access = this.turns.accessOf(grant);
        await (access
          ? // Its turn may come after a stop: by then the next leader owns the work.
            this.turns.run(access, async () => {
              if (!this.halting) await this.process(grant, covers);
            })
          : this.process(grant, covers, later));
      }
    };
    this.calling = true;
    try {
      await Promise.all(Array.from({ length: concurrency }, lane));
      // Read-backs handed on by revokes that were still out when the other lanes finished.
      await Promise.all(Array.from({ length: concurrency }, readBackLane));
    } finally {
      this.calling = false;
    }
    this.idle = seen.size === 0;
    this.revoked.drain();
    await Promise.all(this.recording.values());
  }

  /**
   * Waits until the clock reaches `at`: true then, false when the sweeper stopped first (or is
   * not running). A timer counts from the event loop's cached time, so it can fire a little
   * before the clock reads `at`: the wait goes on for what is left.
   */
  private async reached(at: number): Promise<boolean> {
    for (;;) {
      const left = at - this.deps.core.now();
      if (left <= 0) return true;
      if (this.stopped || !(await this.wait(left))) return false;
    }
  }

  /** Waits `ms` on the timers: true when the time ran out, false when stopping ended it. */
  private wait(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const end = (ranOut: boolean) => {
        this.waits.delete(stop);
        resolve(ranOut);
      };
      const handle = this.timers.setTimeout(() => end(true), ms);
      const stop = () => {
        this.timers.clearTimeout(handle);
        end(false);
      };
      this.waits.add(stop);
    });
  }

  /** Sets the exact timer for the next due moment (grant work, a warning, a stale request). */
  private async arm(): Promise<void> {
    if (this.stopped) return;
    const passes = this.passesEnded;
    let next = await this.safely('next due', () =>
      this.grants.nextWakeAt(this.config.sweeper.warnBefore),
    );
    // A pass that started while this read ran arms the timer itself when it ends, from what it
    // leaves, as one that ended meanwhile has; arming from this read could set the timer for work
    // that pass has since done.
    const stale = this.running || this.passesEnded !== passes;
    if (next === null || next === undefined || this.stopped || stale) return;
    // What is due now but held here waits for its hold to run out, not for the floor.
    const now = this.deps.core.now();
    if (this.idle && next <= now && this.held.size > 0) {
      next = Math.max(now, Math.min(...[...this.held.values()].map((h) => h.until)));
    }
    if (this.timerAt !== null && this.timerAt <= next && this.timer !== undefined) return;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timerAt = next;
    const delay = Math.min(MAX_TIMER_MS, Math.max(MIN_REARM_MS, next - this.deps.core.now()));
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = null;
      void this.tick();
    }, delay);
  }

  /**
   * The work among `due`, as whole rows in the order listed: the expired grants moved to
   * `revoking` in one transaction (the rows it wrote), the activations and revokes to retry read
   * in one statement. An active grant extended meanwhile drops out, as does a grant that left its
   * status since it was listed; all of a kind do when their statement fails, until the next pass.
   */
  private async takeDue(due: DueGrant[]): Promise<GrantRow[]> {
    const expired = due.filter((g) => g.status === 'active').map((g) => g.id);
    const retried = due.filter((g) => g.status !== 'active').map((g) => g.id);
    const [moved, read] = await Promise.all([
      expired.length > 0 ? this.safely('begin expiries', () => this.grants.expire(expired)) : [],
      retried.length > 0 ? this.safely('read due grants', () => this.grants.getMany(retried)) : [],
    ]);
    const current = new Map([...(moved ?? []), ...(read ?? [])].map((g) => [g.id, g]));
    return due.flatMap((listed) => {
      const row = current.get(listed.id);
      const expected = listed.status === 'active' ? 'revoking' : listed.status;
      return row?.status === expected ? [row] : [];
    });
  }

  /**
   * Which of the revokes in `work` on a shared-isolation provider another live grant still
   * covers, in one read for the page rather than one per revoke. A grant approved after this
   * read cannot be undone by the revoke: it comes in a later page, and calls on one shared access
   * run in the order they were taken (`AccessTurns`), so its grant call follows the revoke. A
   * grant of the same access being activated meanwhile (its call out) may have taken its turn
   * first and be active by the revoke's turn: that revoke asks again then (`askAgain`).
   * Undefined when the read failed: each revoke then asks for itself.
   */
  private coversOf(work: readonly GrantRow[]): Promise<Covers | undefined> {
    const shared = work.filter(
      (g) =>
        g.status === 'revoking' &&
        this.deps.providers.get(g.provider)?.provider.guarantees.isolation === 'shared',
    );
    return this.safely('find covering grants', () =>
      this.grants.coveringEach(shared, this.oneAccess),
    );
  }

  /**
   * Activates or revokes `grant`. With `later`, a revoke's read-back may be handed on to run once
   * the pass has sent its other revokes; the grant stays in flight until it has run.
   */
  private async process(
    grant: GrantRow,
    covers?: Covers,
    later?: (readBack: ReadBack) => void,
  ): Promise<void> {
    this.inFlight.add(grant.id);
    let handedOn = false;
    try {
      if (grant.status === 'activating') await this.activate(grant);
      else if (grant.status === 'revoking') {
        const readBack = await this.revoke(grant, covers, later !== undefined);
        if (readBack && later) {
          handedOn = true;
          later(() => readBack().finally(() => this.release(grant.id)));
        }
      }
    } finally {
      if (!handedOn) this.release(grant.id);
    }
  }

  /** Frees a grant once its calls are done, unless its confirmed revoke still waits to commit. */
  private release(grantId: string): void {
    if (!this.recording.has(grantId)) this.inFlight.delete(grantId);
  }

  /** Hands a confirmed revoke to the next batch and frees the lane for the next provider call. */
  private record(grant: GrantRow, revocation: Revocation): void {
    const recorded = this.revoked
      .add({ ...revocation, grantId: grant.id, confirmedAt: this.deps.core.now() })
      .then(
        () => {
          this.issued.get(grant.id)?.forEach(forgetSecret);
          this.issued.delete(grant.id);
        },
        (err: unknown) => this.failed(grant, 'revoke', err),
      )
      .finally(() => {
        this.recording.delete(grant.id);
        this.inFlight.delete(grant.id);
      });
    this.recording.set(grant.id, recorded);
  }

  private resolve(grant: GrantRow): ResolvedProvider {
    const found = providerFor(this.deps.providers, grant);
    if ('problem' in found) throw new ProviderCallError(found.problem);
    return found;
  }

  /** Whether this grant's failure could not be recorded and it waits out its backoff here. */
  private isHeld(grantId: string, now: number): boolean {
    const hold = this.held.get(grantId);
    return hold !== undefined && hold.until > now;
  }

  private contextOf(
    grant: GrantRow,
    email: string | undefined,
    window: { startsAt: number; expiresAt: number },
  ) {
    return callContext(grant, this.deps.core.policy, this.deps.providers, email, window);
  }

  /**
   * Whether the holder of a grant approved a while ago (booked for a later start, or retried) left
   * since without Hallpass hearing of it (a `user_change` lost): asked afresh, one who did is
   * offboarded, which ends this grant, and nothing is granted. A directory that cannot answer in
   * time (out, or rate-limiting a mass of booked starts) leaves the approval's own check standing.
   */
  private async leftSinceApproval(grant: GrantRow): Promise<boolean> {
    if (this.deps.core.now() - grant.createdAt < ASK_AGAIN_AFTER_MS) return false;
    const { directory } = this.deps;
    const status = await boundedLookup(() => directory.statusOf(grant.userId, { fresh: true }));
    if (status === undefined) {
      this.deps.logger.warn('the directory did not say in time whether a grant holder left', {
        grantId: grant.id,
      });
      return false;
    }
    if (status === 'active') return false;
    await this.deps.core.recordPersonStatus(grant.userId, status, 'directory_check');
    this.deps.logger.warn('not granting: its holder left since it was approved', {
      grantId: grant.id,
      status,
    });
    return true;
  }

  /** How long a timed-out call may still land: at least its own timeout. */
  private fenceFor(timeoutMs: number): number {
    return this.deps.core.now() + 2 * timeoutMs;
  }

  /**
   * Whether `grant`'s activation waits for a revoke of another grant of its access that may still
   * land, where a person's grants share one access: a grant call made first would be undone by
   * it. Held back (rescheduled, true) to the fence such a revoke left in the database when it
   * timed out, in whichever process, and for two timeouts after this process took over the sweep
   * to any revoke another may have sent before. One of this process that timed out and has not
   * settled, its fence past or never written, is waited for here first, as a revoke waits for a
   * grant call; one still out after the grace is left to the read-backs.
   */
  private async heldForRevoke(
    grant: GrantRow,
    provider: ResolvedProvider['provider'],
    timeoutMs: number,
  ): Promise<boolean> {
    if (provider.guarantees.isolation !== 'shared') return false;
    // Not knowing whether an ending grant is the same account holds back as if it were: only
    // for as long as its revoke may be out.
    const sameOrUnknown = (a: GrantRow, b: GrantRow) =>
      this.oneAccess(a, b).catch((err: unknown) => {
        if (err instanceof AccountUnknown) return true;
        throw err;
      });
    // A revoke another process sent before this one took over the sweep (it died, or lost the
    // lead, with the call out) recorded no fence: it may land until two timeouts after the
    // takeover, whether the grant is still being revoked or this process has revoked it since.
    const now = this.deps.core.now();
    const since = this.sweepingSince ?? now;
    const takeover = since + 2 * timeoutMs;
    const inWindow = takeover > now;
    const ending = await this.grants.endingAlongside(
      grant,
      sameOrUnknown,
      inWindow ? since : undefined,
    );
    const inherited = inWindow && ending.length > 0 ? takeover : 0;
    const until = Math.max(inherited, ...ending.map((g) => g.fenceUntil ?? 0));
    if (until > now) {
      if (await this.grants.activationHeld(grant.id, until))
        this.deps.logger.info('a revoke of the same access may still land; activating after it', {
          grantId: grant.id,
          until: new Date(until).toISOString(),
        });
      return true;
    }
    for (const g of ending) {
      if (this.calls.pending(g.id) && !(await this.calls.settled(g.id, 2 * timeoutMs)))
        this.deps.logger.warn('a revoke of the same access that timed out has still not answered', {
          grantId: grant.id,
          revoking: g.id,
        });
    }
    return false;
  }

  private async activate(grant: GrantRow): Promise<void> {
    const started = Date.now();
    let timeout = 0;
    let lease: number | undefined;
    try {
      // Nobody can grant a resource removed from the configuration: one approved before is not
      // started (booked for later, or retrying), and its revoke clears what an attempt set up.
      if (!this.deps.core.policy.findResource(grant.resourceId)) {
        if (await this.grants.resourceRemoved(grant.id))
          this.deps.logger.warn('not starting a grant whose resource was removed; ending it', {
            grantId: grant.id,
            resourceId: grant.resourceId,
          });
        return;
      }
      if (await this.leftSinceApproval(grant)) return;
      const { provider, timeoutMs } = this.resolve(grant);
      timeout = timeoutMs;
      // A retry names the email its first attempt did: that attempt may have granted it.
      const email = await grantedEmailOf(this.deps.directory, grant);
      // A call of this process that timed out and has not settled is waited for: never two
      // calls of one grant out at once. One still out after the grace counts as another failed
      // attempt, fenced, so the retries still run out into the clean-up and the alert.
      if (this.calls.pending(grant.id) && !(await this.calls.settled(grant.id, 2 * timeoutMs))) {
        const err = new ProviderCallError('the grant call that timed out has still not answered');
        await this.failed(grant, 'grant', err, { fenceUntil: this.fenceFor(timeoutMs) });
        return;
      }
      // Compared by the address this call will name, not looked up again: a second lookup that
      // fails would count the grants as two accesses and let the call cross the revoke.
      const activating = { ...grant, grantedEmail: email ?? grant.grantedEmail };
      if (await this.heldForRevoke(activating, provider, timeoutMs)) return;
      // Not taken means the grant left `activating` while the email was looked up (ended early:
      // its revoke could not name the address this call would), or another process's call may
      // still be out (it led before this one).
      lease = await takeGrantCall(this.deps.core, this.deps.logger, grant.id, email, timeoutMs);
      if (lease === undefined) return;
      const startsAt = this.deps.core.now();
      const window = { startsAt, expiresAt: startsAt + grant.durationMs };
      const ctx = this.contextOf(grant, email, window);
      const result = await this.calls.run(grant.id, timeoutMs, (signal) =>
        provider.grant(ctx(signal)),
      );
      const sealedCredentials = this.sealIssued(grant.id, result.credentials);
      const recorded = await this.grants.activated(grant.id, {
        ...window,
        state: result.state,
        sealedCredentials,
        elapsedMs: Date.now() - started,
        email,
        lease,
      });
      if (!recorded)
        this.deps.logger.info(
          'grant ended while it was being activated; the revoke will clean up',
          { grantId: grant.id },
        );
    } catch (err) {
      // A call that timed out may still land: nothing is concluded about this grant before the
      // fence, whichever process looks at it next.
      const fenceUntil = this.calls.pending(grant.id) ? this.fenceFor(timeout) : undefined;
      await this.failed(grant, 'grant', err, { fenceUntil, lease });
    }
  }

  /**
   * Revokes `grant` and reads it back. With `mayDefer`, a provider whose grants do not share
   * access has the read-back returned rather than made: the pass sends the rest of its revokes
   * first, so in a mass expiry every access ends sooner, and the record, which waits for the
   * read-back, still never leads the provider. Shared access reads back at once, in its turn,
   * so a later grant of the same access cannot land between the revoke and its check.
   */
  private async revoke(
    grant: GrantRow,
    covers?: Covers,
    mayDefer = false,
  ): Promise<ReadBack | undefined> {
    const started = Date.now();
    let timeout = 0;
    try {
      const { provider, timeoutMs } = this.resolve(grant);
      timeout = timeoutMs;
      // A grant (or re-grant) call of this process that timed out is waited for first, so it
      // cannot land after the revoke; one still out after the grace is left to the read-backs.
      if (!(await this.calls.settled(grant.id, 2 * timeoutMs))) {
        this.deps.logger.warn(
          'a grant call that timed out has still not answered; revoking anyway',
          {
            grantId: grant.id,
          },
        );
      }
      if (provider.guarantees.isolation === 'shared') {
        const cover =
          covers && !covers.askAgain.has(grant.id)
            ? covers.by.get(grant.id)
            : await this.grants.covering(grant, this.oneAccess);
        if (cover) {
          this.record(grant, { coveredBy: cover.id });
          return;
        }
      }
      const email = await grantedEmailOf(this.deps.directory, grant);
      const window = {
        startsAt: grant.startsAt ?? grant.createdAt,
        expiresAt: grant.expiresAt ?? this.deps.core.now(),
      };
      const ctx = this.contextOf(grant, email, window);
      const result = await this.calls.run(grant.id, timeoutMs, (signal) =>
        provider.revoke(ctx(signal)),
      );
      const readBack = async () => {
        try {
          if (provider.check) {
            const check = provider.check.bind(provider);
            const present = await this.calls.run(grant.id, timeoutMs, (signal) =>
              presenceOf(check(ctx(signal))),
            );
            if (present)
              throw new ProviderCallError(
                'revoke reported success but a check says the access is still there',
              );
          }
          this.record(grant, {
            checked: provider.check !== undefined,
            elapsedMs: Date.now() - started,
            ...(result?.activity ? { activity: result.activity } : {}),
          });
        } catch (err) {
          await this.failed(grant, 'revoke', err);
        }
      };
      if (mayDefer && provider.check && provider.guarantees.isolation !== 'shared') return readBack;
      await readBack();
    } catch (err) {
      // A revoke that timed out may still land: on shared access, the person's next grant of it
      // is not activated before the fence, in any process.
      const fenceUntil = this.calls.pending(grant.id) ? this.fenceFor(timeout) : undefined;
      await this.failed(grant, 'revoke', err, { fenceUntil });
    }
    return undefined;
  }

  /** After an extension, tells the provider the new expiry (grant is idempotent and updates it). */
  private async sync(grant: GrantRow): Promise<void> {
    // A grant whose end has come is revoked, not extended: a re-grant that kept timing out
    // would otherwise fence its expiry off again on every pass.
    if (
      this.halting ||
      this.inFlight.has(grant.id) ||
      grant.startsAt === null ||
      grant.expiresAt === null ||
      grant.expiresAt <= this.deps.core.now()
    )
      return;
    this.inFlight.add(grant.id);
    let timeout = 0;
    let lease: number | undefined;
    try {
      const { provider, timeoutMs } = this.resolve(grant);
      timeout = timeoutMs;
      const email = await grantedEmailOf(this.deps.directory, grant);
      // The re-grant holds the grant as an activation's call does: a process that dies with it
      // out leaves its lease in the database, and no revoke comes before the call can land.
      lease = await takeGrantCall(this.deps.core, this.deps.logger, grant.id, email, timeoutMs);
      if (lease === undefined) return;
      const window = { startsAt: grant.startsAt, expiresAt: grant.expiresAt };
      const ctx = this.contextOf(grant, email, window);
      const result = await this.calls.run(grant.id, timeoutMs, (signal) =>
        provider.grant(ctx(signal)),
      );
      // A provider may answer a re-grant with new credentials (a new password): the holder gets
      // them, as after the first grant.
      const sealedCredentials = this.sealIssued(grant.id, result.credentials);
      await this.grants.synced(grant.id, grant.expiresAt, result.state, sealedCredentials, lease);
    } catch (err) {
      this.deps.logger.warn('could not tell the provider about an extension; will retry', {
        grantId: grant.id,
        error: describeError(err),
      });
      // The lease is given back; a re-grant that timed out may still land, so its fence is left,
      // for whichever process revokes the grant.
      const fenceUntil = this.calls.pending(grant.id) ? this.fenceFor(timeout) : undefined;
      if (lease !== undefined || fenceUntil !== undefined)
        await this.safely('record the end of an extension re-grant', () =>
          this.grants.failed(grant.id, 'grant', describeError(err), this.retry, {
            fenceUntil,
            lease,
          }),
        );
    } finally {
      this.inFlight.delete(grant.id);
    }
  }

  /**
   * Credentials a provider issued for `grantId`, kept out of every text until the grant has ended,
   * and sealed for the holder's DM; undefined when it issued none.
   */
  private sealIssued(grantId: string, credentials?: Credentials): string | undefined {
    if (!credentials) return undefined;
    const secrets = [credentials.text, ...(credentials.secrets ?? [])];
    secrets.forEach(registerSecret);
    this.issued.set(grantId, [...(this.issued.get(grantId) ?? []), ...secrets]);
    return this.deps.sealer.seal(JSON.stringify({ text: credentials.text }));
  }

  /**
   * Records a failed call: the attempt counts, the next one moves out with backoff, an alert
   * follows after the configured number. When even that cannot be written, the grant is held
   * here with the same backoff instead of being tried again at once.
   */
  private async failed(
    grant: GrantRow,
    call: 'grant' | 'revoke',
    err: unknown,
    how?: FailedCall,
  ): Promise<void> {
    const error = describeError(err);
    this.deps.logger.warn(`provider ${call} failed`, {
      grantId: grant.id,
      provider: grant.provider,
      error,
    });
    try {
      await this.grants.failed(grant.id, call, error, this.retry, how);
      this.held.delete(grant.id);
      return;
    } catch (recordError) {
      this.deps.logger.error('sweeper could not record a failed provider call', {
        grantId: grant.id,
        error: describeError(recordError),
      });
    }
    const attempts = (this.held.get(grant.id)?.attempts ?? 0) + 1;
    const { retryBase, retryMax } = this.config.sweeper;
    const until =
      this.deps.core.now() + backoffDelay(attempts, retryBase, retryMax, this.deps.random);
    this.held.set(grant.id, { until, attempts });
  }

  /** A database hiccup (busy, full disk) must not kill the sweeper; the next pass retries. */
  private async safely<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fn();
    } catch (err) {
      this.deps.logger.error(`sweeper could not ${what}`, { error: describeError(err) });
      return undefined;
    }
  }
}
