import { schedule, type ScheduledTask } from 'node-cron';
import { expectedOf, type Core, type Drift, type Expected, type GrantRow } from '../core';
import type { Directory } from '../core/directory';
import type { Logger } from '../log';
import { registerSecret } from '../secrets/scrub';
import type { Sealer } from '../secrets/seal';
import { AccountUnknown, type AccessTurns } from './access-turns';
import { forEachLimited } from '../limit';
import type { ProviderCalls } from './provider-calls';
import {
  callContext,
  describeError,
  grantedEmailOf,
  presenceOf,
  providerFor,
  takeGrantCall,
  type ProviderLookup,
  type ResolvedProvider,
} from './provider-call';

/** An active grant this close to its end is left to the sweeper: a re-grant would race its revoke. */
const NEAR_END_MS = 60_000;
/** Ended grants read back per run at most. */
const RECHECKS_PER_RUN = 500;

export interface Finding {
  grantId: string;
  userId: string;
  resourceId: string;
  expected: Expected;
  /**
   * What the read-back found, `unreadable` when the provider has no `check`, or `covered` for an
   * ended grant whose access another live grant still holds (not read back: it is there by right).
   */
  found: 'present' | 'absent' | 'unreadable' | 'error' | 'covered';
  /** For `covered`: the grant that holds the access now. */
  coveredBy?: string;
  /** For drift outside a dry run: whether the repair worked. */
  repaired?: boolean;
  error?: string;
}

export interface ReconcilerDeps {
  core: Core;
  sealer: Sealer;
  providers: ProviderLookup;
  directory: Directory;
  logger: Logger;
  /**
   * Grants with a provider call in progress in this process, shared with the sweeper: a grant
   * is never read back, re-granted or revoked by both at once.
   */
  busy: Set<string>;
  /** Provider calls tracked until they settle, shared with the sweeper. */
  calls: ProviderCalls;
  /**
   * Turns on shared access, shared with the sweeper: the read-back and repair of an ended grant
   * take one, so a repair revoke cannot cross the activation of a grant approved meanwhile.
   */
  turns: AccessTurns;
  /** Told how each scheduled run ended (for /metrics). */
  onRun?: (outcome: 'ok' | 'drift' | 'failed') => void;
  /** Who runs it, when an operator does (`hallpass grants reconcile`): its audit names them. */
  operator?: string;
}

/**
 * Continuous verification: reads back, with each provider's `check`, active grants (is the
 * access there?) and recently ended ones (is it gone?), on `reconcile.schedule`. What disagrees
 * with the record is drift: the reconciler repairs it (re-grants an active grant that vanished,
 * revokes again what came back), audits it and alerts. Runs where the sweeper runs (the leader).
 */
export class Reconciler {
  private cron?: ScheduledTask;
  private running?: Promise<Finding[]>;
  private readonly attempts = new Map<string, number>();
  /** Set while `stop` waits for the pass in progress: it reads back nothing more (as the sweeper). */
  private halting = false;

  constructor(private readonly deps: ReconcilerDeps) {}

  start(): void {
    this.cron = schedule(this.deps.core.config.reconcile.schedule, () => void this.tick(), {
      name: 'hallpass-reconciler',
      noOverlap: true,
    });
  }

  async stop(): Promise<void> {
    await this.cron?.stop();
    this.cron = undefined;
    this.halting = true;
    try {
      await this.running;
    } finally {
      this.halting = false;
    }
  }

  private async tick(): Promise<void> {
    try {
      const findings = await this.run();
      const drift = findings.filter((f) => f.found !== f.expected && f.found !== 'unreadable');
      if (drift.length > 0) this.deps.logger.warn('reconciler found drift', { drift });
      this.deps.onRun?.(drift.length > 0 ? 'drift' : 'ok');
    } catch (err) {
      this.deps.logger.error('reconciler run failed', { error: describeError(err) });
      this.deps.onRun?.('failed');
    }
  }

  /** One pass over what is due; a pass already running is joined rather than started again. */
  run(options: { dryRun?: boolean } = {}): Promise<Finding[]> {
    this.running ??= this.pass(options.dryRun ?? false).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async pass(dryRun: boolean): Promise<Finding[]> {
    const { core } = this.deps;
    const { concurrency, batch } = core.config.reconcile;
    const ended = await core.lifecycle.toRecheck(RECHECKS_PER_RUN);
    const active = await core.lifecycle.leastRecentlyVerified(batch);
    const findings: Finding[] = [];
    await forEachLimited([...ended, ...active], concurrency, async (grant) => {
      if (this.halting) return;
      const finding = await this.exclusive(grant.id, () => this.reconcile(grant.id, dryRun));
      if (finding) findings.push(finding);
    });
    return findings;
  }

  /** Runs `work` unless the sweeper (or another pass) is calling the provider for this grant. */
  private async exclusive<T>(grantId: string, work: () => Promise<T>): Promise<T | undefined> {
    if (this.deps.busy.has(grantId)) return undefined;
    this.deps.busy.add(grantId);
    try {
      return await work();
    } finally {
      this.deps.busy.delete(grantId);
    }
  }

  private async reconcile(grantId: string, dryRun: boolean): Promise<Finding | undefined> {
    const { core } = this.deps;
    // Read again now that no provider call of this process runs for it: the state may have moved.
    const grant = await core.lifecycle.get(grantId);
    const expected = grant && expectedOf(grant);
    if (!grant || !expected) return undefined;
    if (expected === 'present' && (grant.expiresAt ?? 0) - core.now() < NEAR_END_MS)
      return undefined;
    const finding = (found: Finding['found'], more: Partial<Finding> = {}): Finding => ({
      grantId: grant.id,
      userId: grant.userId,
      resourceId: grant.resourceId,
      expected,
      found,
      ...more,
    });
    const resolved = providerFor(this.deps.providers, grant);
    const access = expected === 'absent' ? this.deps.turns.accessOf(grant) : undefined;
    // Its turn may come after a stop: by then it reads back nothing more.
    return access
      ? this.deps.turns.run(access, async () =>
          this.halting ? undefined : this.readBack(grant, expected, resolved, finding, dryRun),
        )
      : this.readBack(grant, expected, resolved, finding, dryRun);
  }

  private async readBack(
    grant: GrantRow,
    expected: Expected,
    resolved: ResolvedProvider | { problem: string },
    finding: (found: Finding['found'], more?: Partial<Finding>) => Finding,
    dryRun: boolean,
  ): Promise<Finding> {
    const { core } = this.deps;
    // A person's grants of one resource share the access on such a provider: while another grant
    // holds it, finding it present says nothing against this one, and a "repair" would take it
    // from the grant that holds it. Its last holder's revoke reads it back when that one ends.
    if (
      expected === 'absent' &&
      'provider' in resolved &&
      resolved.provider.guarantees.isolation === 'shared'
    ) {
      let cover: GrantRow | undefined;
      try {
        cover = await core.lifecycle.covering(grant, (a, b) =>
          this.deps.turns.oneAccess(a, b, this.deps.directory),
        );
      } catch (err) {
        if (!(err instanceof AccountUnknown)) throw err;
        return finding('error', { error: err.message });
      }
      if (cover) {
        if (!dryRun)
          await core.lifecycle.rechecked(grant.id, { coveredBy: cover.id }, this.deps.operator);
        return finding('covered', { coveredBy: cover.id });
      }
    }
    // Its provider was taken out of the configuration (allowed once no live grant uses it), or
    // points elsewhere now: the read-back an ended grant still owes waits until it is back as it
    // was, rather than being called done.
    if ('problem' in resolved) return finding('error', { error: resolved.problem });
    if (!resolved.provider.check) {
      if (!dryRun && expected === 'absent')
        await core.lifecycle.rechecked(grant.id, { readable: false }, this.deps.operator);
      return finding('unreadable');
    }
    let present: boolean;
    try {
      present = await this.check(resolved, grant);
    } catch (err) {
      return finding('error', { error: describeError(err) });
    }
    if ((present ? 'present' : 'absent') === expected) {
      if (!dryRun) {
        if (expected === 'present') await core.lifecycle.verified(grant.id);
        else await core.lifecycle.rechecked(grant.id, { readable: true }, this.deps.operator);
      }
      this.attempts.delete(grant.id);
      return finding(expected);
    }
    const found = present ? 'present' : 'absent';
    if (dryRun) return finding(found);
    const repair = await this.repair(resolved, grant, expected);
    const { repaired, error } = repair;
    const attempt = (this.attempts.get(grant.id) ?? 0) + 1;
    if (repaired) this.attempts.delete(grant.id);
    else this.attempts.set(grant.id, attempt);
    await core.lifecycle.drift(
      grant.id,
      { expected, ...repair, ...(this.deps.operator ? { by: this.deps.operator } : {}) },
      attempt,
    );
    return finding(found, { repaired, ...(error ? { error } : {}) });
  }

  private async callWindow(grant: GrantRow) {
    const email = await grantedEmailOf(this.deps.directory, grant);
    const window = {
      startsAt: grant.startsAt ?? grant.createdAt,
      expiresAt: grant.expiresAt ?? this.deps.core.now(),
    };
    return { email, window };
  }

  private async check(resolved: ResolvedProvider, grant: GrantRow): Promise<boolean> {
    const { provider, timeoutMs } = resolved;
    const check = provider.check!.bind(provider);
    const { email, window } = await this.callWindow(grant);
    const ctx = callContext(grant, this.deps.core.policy, this.deps.providers, email, window);
    return this.deps.calls.run(grant.id, timeoutMs, (signal) => presenceOf(check(ctx(signal))));
  }

  /** Puts the target system back as the record says, then reads it back to be sure. */
  private async repair(
    resolved: ResolvedProvider,
    grant: GrantRow,
    expected: Expected,
  ): Promise<Omit<Drift, 'expected'>> {
    const { provider, timeoutMs } = resolved;
    const { email, window } = await this.callWindow(grant);
    const ctx = callContext(grant, this.deps.core.policy, this.deps.providers, email, window);
    let lease: number | undefined;
    try {
      let sealedCredentials: string | undefined;
      let readFrom = grant;
      let state: unknown;
      if (expected === 'present') {
        // The re-grant holds the grant as an activation's call does: a process that dies with it
        // out leaves its lease in the database, and no revoke comes before the call can land.
        const { core, logger } = this.deps;
        lease = await takeGrantCall(core, logger, grant.id, email, timeoutMs);
        if (lease === undefined)
          return { repaired: false, error: 'another grant call may still be out; not re-granting' };
        // A re-created access may come with new credentials (a new password): the holder gets them.
        const made = await this.deps.calls.run(grant.id, timeoutMs, (s) => provider.grant(ctx(s)));
        const { credentials } = made;
        // It may be a new access with its own state: read back, and later revoked, by that.
        if (made.state !== undefined) {
          state = made.state;
          readFrom = { ...grant, providerState: JSON.stringify(state) };
        }
        if (credentials) {
          [credentials.text, ...(credentials.secrets ?? [])].forEach(registerSecret);
          sealedCredentials = this.deps.sealer.seal(JSON.stringify({ text: credentials.text }));
        }
      } else {
        // A call that timed out earlier may still land: waited for first, as the sweeper does.
        await this.deps.calls.settled(grant.id, 2 * timeoutMs);
        // Fenced before it is sent: should this process die (or lose the lead) with it out, the
        // person's next grant of a shared access is not activated before it can no longer land.
        const fenced = await this.deps.core.lifecycle.repairRevoke(
          grant.id,
          this.deps.core.now() + 2 * timeoutMs,
        );
        if (!fenced) return { repaired: false, error: 'the grant is not ended; not revoking' };
        await this.deps.calls.run(grant.id, timeoutMs, (s) => provider.revoke(ctx(s)));
      }
      const kept = {
        ...(state === undefined ? {} : { state }),
        ...(lease !== undefined ? { lease } : {}),
      };
      const present = await this.check(resolved, readFrom);
      return present === (expected === 'present')
        ? { repaired: true, ...kept, ...(sealedCredentials ? { sealedCredentials } : {}) }
        : {
            repaired: false,
            ...kept,
            error: `the read-back after the repair still found it ${present ? 'present' : 'absent'}`,
          };
    } catch (err) {
      // The lease is given back; a call that timed out may still land, so its fence is left: a
      // re-grant's for whichever process revokes the grant, a repair revoke's for the activation
      // of the person's next grant of a shared access.
      const late = this.deps.calls.pending(grant.id);
      return {
        repaired: false,
        error: describeError(err),
        ...(lease !== undefined ? { lease } : {}),
        ...(late ? { fenceUntil: this.deps.core.now() + 2 * timeoutMs } : {}),
      };
    }
  }
}
