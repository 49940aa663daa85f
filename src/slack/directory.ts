import type { webApi } from '@slack/bolt';
import { systemClock, type Clock } from '../core/clock';
import type { Directory } from '../core/directory';
import type { Logger } from '../log';

/** The two Web API methods the directory uses (a Bolt WebClient has them). */
export type DirectoryClient = {
  usergroups: { users: Pick<webApi.WebClient['usergroups']['users'], 'list'> };
  users: Pick<webApi.WebClient['users'], 'info'>;
};

export interface SlackDirectoryOptions {
  clock?: Clock;
  logger?: Logger;
  /** How long a user group's members are trusted; `usergroups.users.list` is Tier 2 (20+/min). */
  groupTtlMs?: number;
  emailTtlMs?: number;
}

/**
 * Answers the core's Directory questions from Slack: who is in a user group
 * (`usergroups.users.list`, needs usergroups:read) and a person's email (`users.info`, needs
 * users:read and users:read.email). Answers are cached, and concurrent lookups of the same key
 * share one call. When Slack fails and an older answer is cached, that answer is used (and a
 * warning logged) rather than refusing every approver for the length of an outage.
 */
export class SlackDirectory implements Directory {
  private readonly groups: TtlCache<readonly string[]>;
  private readonly emails: TtlCache<string | undefined>;

  constructor(
    private readonly client: DirectoryClient,
    options: SlackDirectoryOptions = {},
  ) {
    const clock = options.clock ?? systemClock;
    this.groups = new TtlCache('usergroup', options.groupTtlMs ?? 60_000, clock, options.logger);
    this.emails = new TtlCache('email', options.emailTtlMs ?? 3_600_000, clock, options.logger);
  }

  usergroupMembers(usergroupId: string): Promise<readonly string[]> {
    return this.groups.get(usergroupId, async () => {
      const result = await this.client.usergroups.users.list({ usergroup: usergroupId });
      return result.users ?? [];
    });
  }

  emailOf(userId: string): Promise<string | undefined> {
    return this.emails.get(userId, async () => {
      const result = await this.client.users.info({ user: userId });
      return result.user?.profile?.email || undefined;
    });
  }
}

class TtlCache<T> {
  private readonly entries = new Map<string, { value: T; fetchedAt: number }>();
  private readonly inFlight = new Map<string, Promise<T>>();

  constructor(
    private readonly kind: string,
    private readonly ttlMs: number,
    private readonly clock: Clock,
    private readonly logger: Logger | undefined,
  ) {}

  get(key: string, load: () => Promise<T>): Promise<T> {
    const entry = this.entries.get(key);
    if (entry && this.clock.now() - entry.fetchedAt < this.ttlMs)
      return Promise.resolve(entry.value);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const lookup = load()
      .then((value) => {
        this.entries.set(key, { value, fetchedAt: this.clock.now() });
        return value;
      })
      .catch((err: unknown) => {
        if (!entry) throw err;
        this.logger?.warn('slack directory lookup failed; using the cached answer', {
          kind: this.kind,
          key,
          ageMs: this.clock.now() - entry.fetchedAt,
          error: err,
        });
        return entry.value;
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, lookup);
    return lookup;
  }
}
