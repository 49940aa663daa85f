import type { OnCallSourceConfig } from '../config/rules';
import { systemClock, type Clock } from '../core/clock';
import { OnCallUnavailable, type OnCall } from '../core';
import { registerSecret, type Logger } from '../log';
import { scrub } from '../secrets/scrub';
import { commandOnCall } from './command';
import { pagerDutyOnCall } from './pagerduty';
import { webhookOnCall } from './webhook';

/** Finds a Slack user by email (the Slack directory's `users.lookupByEmail`). */
export interface SlackUsers {
  userIdByEmail(email: string): Promise<string | undefined>;
}

export interface OnCallRosterDeps {
  users: SlackUsers;
  /** The folder of hallpass.yml: a command source's relative path starts there. */
  configDir: string;
  clock?: Clock;
  logger?: Logger;
}

const SLACK_ID = /^[UW][A-Z0-9]{2,}$/;

/**
 * Who each configured on-call source has on call now, as Slack user ids. Answers are cached for
 * the source's `ttl`, and concurrent lookups share one call. It fails closed like the Slack
 * directory: when a source cannot answer, a cached answer stands in only while it is younger
 * than `maxStaleness`; past that, the lookup throws OnCallUnavailable and rules that need it
 * refuse (or, for auto-approval, leave the request to a person).
 */
export class OnCallRoster implements OnCall {
  private readonly cache = new Map<string, { users: string[]; at: number }>();
  private readonly inFlight = new Map<string, Promise<string[]>>();
  private readonly clock: Clock;

  constructor(
    private readonly sources: Record<string, OnCallSourceConfig>,
    private readonly deps: OnCallRosterDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    for (const source of Object.values(sources)) {
      if (source.type === 'pagerduty') registerSecret(source.token);
      if (source.type === 'webhook') registerSecret(source.secret);
    }
  }

  onCallNow(name: string): Promise<readonly string[]> {
    const source = this.sources[name];
    if (!source) return Promise.reject(new Error(`no on-call source named ${name}`));
    const cached = this.cache.get(name);
    const now = this.clock.now();
    if (cached && now - cached.at < source.ttl) return Promise.resolve(cached.users);
    const pending = this.inFlight.get(name);
    if (pending) return pending;
    const lookup = this.ask(name, source)
      .then((users) => {
        this.cache.set(name, { users, at: this.clock.now() });
        return users;
      })
      .catch((err: unknown) => {
        const error = scrub(err instanceof Error ? err.message : String(err));
        const ageMs = cached ? this.clock.now() - cached.at : undefined;
        if (cached && ageMs !== undefined && ageMs <= source.maxStaleness) {
          this.deps.logger?.warn('on-call lookup failed; using the cached answer', {
            source: name,
            ageMs,
            error,
          });
          return cached.users;
        }
        this.deps.logger?.warn('on-call lookup failed and no recent answer is cached', {
          source: name,
          ageMs,
          error,
        });
        throw new OnCallUnavailable(name, `could not ask on-call source ${name} (${error})`);
      })
      .finally(() => this.inFlight.delete(name));
    this.inFlight.set(name, lookup);
    return lookup;
  }

  /** Asks the source, then turns the emails it names into Slack users (ids pass through). */
  private async ask(name: string, source: OnCallSourceConfig): Promise<string[]> {
    const signal = AbortSignal.timeout(source.timeout);
    const entries =
      source.type === 'pagerduty'
        ? await pagerDutyOnCall(source, signal)
        : source.type === 'command'
          ? await commandOnCall(name, source, this.deps.configDir, signal)
          : await webhookOnCall(source, signal);
    const users = new Set<string>();
    for (const entry of entries) {
      if (SLACK_ID.test(entry)) {
        users.add(entry);
        continue;
      }
      const id = await this.deps.users.userIdByEmail(entry.toLowerCase());
      if (id) users.add(id);
      else
        this.deps.logger?.warn('someone on call has no Slack account with that email', {
          source: name,
        });
    }
    return [...users];
  }
}
