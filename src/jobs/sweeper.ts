import { schedule, type ScheduledTask } from 'node-cron';
import type { Core, GrantRow, RetryPolicy, Revocation, Revoked } from '../core';
import type { Directory } from '../core/directory';
import type { Logger } from '../log';
import { forgetSecret, registerSecret } from '../secrets/scrub';
import type { Sealer } from '../secrets/seal';
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
  private again = false;
  private stopped = true;
  private unsubscribe?: () => void;
  private readonly timers: Timers;
  /** Confirmed revokes, recorded a few at a time; a grant stays in flight until its batch commits. */
  private readonly revoked = new Batch<Revoked, GrantRow | undefined>(
    (done) => this.grants.revoked(done),
    { windowMs: RECORD_WINDOW_MS, maxItems: RECORD_MAX },
  );
  private readonly recording = new Map<string, Promise<void>>();
  /** Credentials issued by this process, kept out of every text until their grant has ended. */
  private readonly issued = new Map<string, string[]>();

  constructor(private readonly deps: SweeperDeps) {
    this.timers = deps.timers ?? realTimers;
    this.inFlight = deps.busy ?? new Set();
  }

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
    this.cron = schedule(this.config.sweeper.schedule, () => void this.tick(), {
      name: 'hallpass-sweeper',
      noOverlap: false,
    });
    // During a pass the timer is re-armed when the pass ends; outside one, a change may bring work forward.
    this.unsubscribe = this.deps.core.onCommit(() => {
      if (!this.running) void this.arm();
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
        await this.arm();
      }
    })();
    return this.running;
  }

  private async pass(): Promise<void> {
    await this.safely('expire stale requests', () => this.deps.core.expireStaleRequests());
    const { concurrency, warnBefore } = this.config.sweeper;
    const seen = new Set<string>();
    for (;;) {
      const listed =
        (await this.safely('list due grants', () =>
          this.grants.due(concurrency * 8 + this.inFlight.size),
        )) ?? [];
      const due = listed.filter((g) => !this.inFlight.has(g.id) && !seen.has(g.id));
      if (due.length === 0) break;
      due.forEach((g) => seen.add(g.id));
      await forEachLimited(await this.expireDue(due), concurrency, (grant) => this.process(grant));
      this.revoked.drain();
      await Promise.all(this.recording.values());
    }
    for (const grant of (await this.safely('list warnings', () =>
      this.grants.toWarn(warnBefore),
    )) ?? []) {
      await this.safely('warn', () => this.grants.warned(grant.id));
    }
    await forEachLimited(
      (await this.safely('list syncs', () => this.grants.toSync())) ?? [],
      concurrency,
      (grant) => this.sync(grant),
    );
  }

  /** Sets the exact timer for the next due moment (grant work, a warning, a stale request). */
  private async arm(): Promise<void> {
    if (this.stopped) return;
    const next = await this.safely('next due', () =>
      this.grants.nextWakeAt(this.config.sweeper.warnBefore),
    );
    if (next === null || next === undefined || this.stopped) return;
    if (this.timerAt !== null && this.timerAt <= next && this.timer !== undefined) return;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timerAt = next;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next - this.deps.core.now()));
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = null;
      void this.tick();
    }, delay);
  }

  /**
   * Moves the expired grants among `due` to `revoking` in one transaction and returns the work
   * left: activations and revokes. An active grant extended meanwhile drops out; all of them do
   * when the transaction fails, until the next pass.
   */
  private async expireDue(due: GrantRow[]): Promise<GrantRow[]> {
    const active = due.filter((g) => g.status === 'active');
    const expired = new Map<string, GrantRow>();
    const now =
      (await this.safely('begin expiries', () => this.grants.expire(active.map((g) => g.id)))) ??
      [];
    for (const grant of now) {
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
      const startsAt = this.deps.core.now();
      const window = { startsAt, expiresAt: startsAt + grant.durationMs };
      const result = await withTimeout(timeoutMs, (signal) =>
        provider.grant(
          callContext(grant, this.deps.core.policy, this.deps.providers, email, window, signal),
        ),
      );
      const credentials = result.credentials;
      if (credentials) {
        const secrets = [credentials.text, ...(credentials.secrets ?? [])];
        secrets.forEach(registerSecret);
        this.issued.set(grant.id, secrets);
      }
      const sealedCredentials = credentials
        ? this.deps.sealer.seal(JSON.stringify({ text: credentials.text }))
        : undefined;
      const recorded = await this.grants.activated(grant.id, {
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
      await this.failed(grant, 'grant', err);
    }
  }

  private async revoke(grant: GrantRow): Promise<void> {
    const started = Date.now();
    try {
      const { provider, timeoutMs } = this.resolve(grant);
      if (provider.guarantees.isolation === 'shared') {
        const cover = await this.grants.covering(grant);
        if (cover) {
          this.record(grant, { coveredBy: cover.id });
          return;
        }
      }
      const email = await emailOf(this.deps.directory, grant.userId);
      const window = {
        startsAt: grant.startsAt ?? grant.createdAt,
        expiresAt: grant.expiresAt ?? this.deps.core.now(),
      };
      await withTimeout(timeoutMs, (signal) =>
        provider.revoke(
          callContext(grant, this.deps.core.policy, this.deps.providers, email, window, signal),
        ),
      );
      if (provider.check) {
        const check = provider.check.bind(provider);
        const present = await withTimeout(timeoutMs, (signal) =>
          check(
            callContext(grant, this.deps.core.policy, this.deps.providers, email, window, signal),
          ),
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
      await this.failed(grant, 'revoke', err);
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
          callContext(grant, this.deps.core.policy, this.deps.providers, email, window, signal),
        ),
      );
      await this.grants.synced(grant.id, grant.expiresAt);
    } catch (err) {
      this.deps.logger.warn('could not tell the provider about an extension; will retry', {
        grantId: grant.id,
        error: describeError(err),
      });
    } finally {
      this.inFlight.delete(grant.id);
    }
  }

  private async failed(grant: GrantRow, call: 'grant' | 'revoke', err: unknown): Promise<void> {
    const error = describeError(err);
    this.deps.logger.warn(`provider ${call} failed`, {
      grantId: grant.id,
      provider: grant.provider,
      error,
    });
    await this.safely('record failure', () =>
      this.grants.failed(grant.id, `${call}: ${error}`, this.retry),
    );
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
