import { schedule, type ScheduledTask } from 'node-cron';
import type { Core } from '../core';
import type { GrantRow } from '../core/context';
import type { Directory } from '../core/directory';
import {
  beginExpiries,
  coveringGrant,
  dueGrants,
  grantsToSync,
  grantsToWarn,
  nextDueAt,
  recordActivated,
  recordAttemptFailed,
  recordRevocations,
  recordSynced,
  recordWarned,
  type RetryPolicy,
  type Revocation,
  type Revoked,
} from '../core/grant-progress';
import type { Logger } from '../log';
import type { Sealer } from '../secrets/seal';
import type { Db } from '../store/db';
import { preparedOn } from '../store/prepared';
import { Batch } from './batch';
import { forEachLimited } from './limit';
import {
  callContext,
  describeError,
  emailOf,
  ProviderCallError,
  withTimeout,
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

/**
 * Revokes confirmed within this window commit together, up to RECORD_MAX: the access is gone
 * already, only its record waits, and a commit costs more than the few rows in it.
 */
const RECORD_WINDOW_MS = 10;
const RECORD_MAX = 128;

/** The other moments the sweeper wakes for, with the literal conditions of their partial indexes. */
const nextWarnable = (db: Db) =>
  db.$client
    .prepare("SELECT min(expires_at) FROM grants WHERE status = 'active' AND warned_at IS NULL")
    .pluck();
const nextStale = (db: Db) =>
  db.$client.prepare("SELECT min(pending_until) FROM requests WHERE status = 'pending'").pluck();

export interface SweeperDeps {
  core: Core;
  providers: ProviderLookup;
  directory: Directory;
  sealer: Sealer;
  logger: Logger;
  timers?: Timers;
  random?: () => number;
}

/**
 * Activates approved grants, revokes expired ones, expires stale requests and warns holders.
 * A cron tick is the safety net; an exact timer for the next due moment makes access end within
 * a second of expires_at. Provider calls run outside transactions, at most `concurrency` at once.
 */
export class Sweeper {
  private readonly inFlight = new Set<string>();
  private cron?: ScheduledTask;
  private timer: unknown;
  private timerAt: number | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private unsubscribe?: () => void;
  private readonly timers: Timers;
  /** Confirmed revokes, recorded a few at a time; a grant stays in flight until its batch commits. */
  private readonly revoked = new Batch<Revoked, GrantRow | undefined>(
    (done) => recordRevocations(this.ctx, done),
    { windowMs: RECORD_WINDOW_MS, maxItems: RECORD_MAX },
  );
  private readonly recording = new Map<string, Promise<void>>();

  constructor(private readonly deps: SweeperDeps) {
    this.timers = deps.timers ?? realTimers;
  }

  private get ctx() {
    return this.deps.core.ctx;
  }

  private get retry(): RetryPolicy {
    const { retryBase, retryMax, alertAfterAttempts } = this.ctx.config.sweeper;
    return { retryBase, retryMax, alertAfterAttempts, random: this.deps.random };
  }

  /** Runs at once (catching up on whatever expired while the bot was down), then on schedule. */
  async start(): Promise<void> {
    this.stopped = false;
    this.cron = schedule(this.ctx.config.sweeper.schedule, () => void this.tick(), {
      name: 'hallpass-sweeper',
      noOverlap: false,
    });
    // During a pass the timer is re-armed when the pass ends; outside one, a change may bring work forward.
    this.unsubscribe = this.deps.core.onCommit(() => {
      if (!this.running) this.arm();
    });
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
    await this.running;
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
        } while (this.again && !this.stopped);
      } finally {
        this.running = null;
        this.arm();
      }
    })();
    return this.running;
  }

  private async pass(): Promise<void> {
    this.safely('expire stale requests', () => this.deps.core.expireStaleRequests());
    const { concurrency, warnBefore } = this.ctx.config.sweeper;
    const seen = new Set<string>();
    for (;;) {
      const due = (
        this.safely('list due grants', () =>
          dueGrants(this.ctx, concurrency * 8 + this.inFlight.size),
        ) ?? []
      ).filter((g) => !this.inFlight.has(g.id) && !seen.has(g.id));
      if (due.length === 0) break;
      due.forEach((g) => seen.add(g.id));
      await forEachLimited(this.expireDue(due), concurrency, (grant) => this.process(grant));
      this.revoked.drain();
      await Promise.all(this.recording.values());
    }
    for (const grant of this.safely('list warnings', () => grantsToWarn(this.ctx, warnBefore)) ??
      []) {
      this.safely('warn', () => recordWarned(this.ctx, grant.id));
    }
    await forEachLimited(
      this.safely('list syncs', () => grantsToSync(this.ctx)) ?? [],
      concurrency,
      (grant) => this.sync(grant),
    );
  }

  /** Sets the exact timer for the next due moment (grant work, a warning, a stale request). */
  private arm(): void {
    if (this.stopped) return;
    const next = this.safely('next due', () => this.nextWakeAt());
    if (next === null || next === undefined) return;
    if (this.timerAt !== null && this.timerAt <= next && this.timer !== undefined) return;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timerAt = next;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next - this.ctx.clock.now()));
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = null;
      void this.tick();
    }, delay);
  }

  private nextWakeAt(): number | null {
    const { db } = this.ctx;
    const warnBefore = this.ctx.config.sweeper.warnBefore;
    const warnAt = preparedOn(db, nextWarnable).get() as number | null;
    const staleAt = preparedOn(db, nextStale).get() as number | null;
    const candidates = [
      nextDueAt(this.ctx),
      warnAt === null ? null : warnAt - warnBefore,
      staleAt,
    ].filter((t): t is number => t !== null);
    return candidates.length > 0 ? Math.min(...candidates) : null;
  }

  /**
   * Moves the expired grants among `due` to `revoking` in one transaction and returns the work
   * left: activations and revokes. An active grant extended meanwhile drops out; all of them do
   * when the transaction fails, until the next pass.
   */
  private expireDue(due: GrantRow[]): GrantRow[] {
    const active = due.filter((g) => g.status === 'active');
    const expired = new Map<string, GrantRow>();
    for (const grant of this.safely('begin expiries', () =>
      beginExpiries(
        this.ctx,
        active.map((g) => g.id),
      ),
    ) ?? []) {
      if (grant?.status === 'revoking') expired.set(grant.id, grant);
    }
    return due.flatMap((g) => (g.status !== 'active' ? [g] : (expired.get(g.id) ?? [])));
  }

  private async process(grant: GrantRow): Promise<void> {
    this.inFlight.add(grant.id);
    try {
      if (grant.status === 'activating') await this.activate(grant);
      else if (grant.status === 'revoking') await this.revoke(grant);
    } finally {
      if (!this.recording.has(grant.id)) this.inFlight.delete(grant.id);
    }
  }

  /** Hands a confirmed revoke to the next batch and frees the lane for the next provider call. */
  private record(grant: GrantRow, revocation: Revocation): void {
    const recorded = this.revoked
      .add({ ...revocation, grantId: grant.id })
      .then(
        () => undefined,
        (err: unknown) => this.failed(grant, 'revoke', err),
      )
      .finally(() => {
        this.recording.delete(grant.id);
        this.inFlight.delete(grant.id);
      });
    this.recording.set(grant.id, recorded);
  }

  private resolve(grant: GrantRow): ResolvedProvider {
    const found = this.deps.providers.get(grant.provider);
    if (!found)
      throw new ProviderCallError(
        `provider "${grant.provider}" is not configured any more; restore it so the grant can be revoked`,
      );
    return found;
  }

  private async activate(grant: GrantRow): Promise<void> {
    const started = Date.now();
    try {
      const { provider, timeoutMs } = this.resolve(grant);
      const email = await emailOf(this.deps.directory, grant.userId);
      const startsAt = this.ctx.clock.now();
      const window = { startsAt, expiresAt: startsAt + grant.durationMs };
      const result = await withTimeout(timeoutMs, (signal) =>
        provider.grant(
          callContext(grant, this.ctx.policy, this.deps.providers, email, window, signal),
        ),
      );
      const sealedCredentials = result.credentials
        ? this.deps.sealer.seal(JSON.stringify(result.credentials))
        : undefined;
      const recorded = recordActivated(this.ctx, grant.id, {
        ...window,
        state: result.state,
        sealedCredentials,
        elapsedMs: Date.now() - started,
      });
      if (!recorded)
        this.deps.logger.info(
          'grant ended while it was being activated; the revoke will clean up',
          { grantId: grant.id },
        );
    } catch (err) {
      this.failed(grant, 'grant', err);
    }
  }

  private async revoke(grant: GrantRow): Promise<void> {
    const started = Date.now();
    try {
      const { provider, timeoutMs } = this.resolve(grant);
      if (provider.guarantees.isolation === 'shared') {
        const cover = coveringGrant(this.ctx, grant);
        if (cover) {
          this.record(grant, { coveredBy: cover.id });
          return;
        }
      }
      const email = await emailOf(this.deps.directory, grant.userId);
      const window = {
        startsAt: grant.startsAt ?? grant.createdAt,
        expiresAt: grant.expiresAt ?? this.ctx.clock.now(),
      };
      await withTimeout(timeoutMs, (signal) =>
        provider.revoke(
          callContext(grant, this.ctx.policy, this.deps.providers, email, window, signal),
        ),
      );
      if (provider.check) {
        const check = provider.check.bind(provider);
        const present = await withTimeout(timeoutMs, (signal) =>
          check(callContext(grant, this.ctx.policy, this.deps.providers, email, window, signal)),
        );
        if (present)
          throw new ProviderCallError(
            'revoke reported success but a check says the access is still there',
          );
      }
      this.record(grant, {
        checked: provider.check !== undefined,
        elapsedMs: Date.now() - started,
      });
    } catch (err) {
      this.failed(grant, 'revoke', err);
    }
  }

  /** After an extension, tells the provider the new expiry (grant is idempotent and updates it). */
  private async sync(grant: GrantRow): Promise<void> {
    if (this.inFlight.has(grant.id) || grant.startsAt === null || grant.expiresAt === null) return;
    this.inFlight.add(grant.id);
    try {
      const { provider, timeoutMs } = this.resolve(grant);
      const email = await emailOf(this.deps.directory, grant.userId);
      const window = { startsAt: grant.startsAt, expiresAt: grant.expiresAt };
      await withTimeout(timeoutMs, (signal) =>
        provider.grant(
          callContext(grant, this.ctx.policy, this.deps.providers, email, window, signal),
        ),
      );
      recordSynced(this.ctx, grant.id, grant.expiresAt);
    } catch (err) {
      this.deps.logger.warn('could not tell the provider about an extension; will retry', {
        grantId: grant.id,
        error: describeError(err),
      });
    } finally {
      this.inFlight.delete(grant.id);
    }
  }

  private failed(grant: GrantRow, call: 'grant' | 'revoke', err: unknown): void {
    const error = describeError(err);
    this.deps.logger.warn(`provider ${call} failed`, {
      grantId: grant.id,
      provider: grant.provider,
      error,
    });
    this.safely('record failure', () =>
      recordAttemptFailed(this.ctx, grant.id, `${call}: ${error}`, this.retry),
    );
  }

  /** A database hiccup (busy, full disk) must not kill the sweeper; the next pass retries. */
  private safely<T>(what: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      this.deps.logger.error(`sweeper could not ${what}`, { error: describeError(err) });
      return undefined;
    }
  }
}
