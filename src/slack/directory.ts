import { webApi } from '@slack/bolt';
import { systemClock, type Clock } from '../core/clock';
import { DirectoryUnavailable, type Directory, type PersonStatus } from '../core/directory';
import type { Logger } from '../log';
import type { ReaderZones } from './reader-zones';

/** The Web API methods the directory uses (a Bolt WebClient has them). */
export type DirectoryClient = {
  usergroups: { users: Pick<webApi.WebClient['usergroups']['users'], 'list'> };
  users: Pick<webApi.WebClient['users'], 'info' | 'lookupByEmail'>;
};

/**
 * Who is in a group of another directory, as email addresses (src/directory/ldap-groups.ts,
 * src/directory/okta-groups.ts).
 * `missing` says whether a failure is the answer "no such group" rather than no answer.
 */
export interface GroupSource {
  memberEmails(groupDn: string): Promise<string[]>;
  missing(err: unknown): boolean;
  describe(err: unknown): string;
}

export interface SlackDirectoryOptions {
  clock?: Clock;
  logger?: Logger;
  /** How long a user group's members are trusted; `usergroups.users.list` is Tier 2 (20+/min). */
  groupTtlMs?: number;
  /** How long a person's email and status are trusted (`users.info`). */
  userTtlMs?: number;
  /**
   * How old a cached answer may be and still stand in while Slack cannot answer (rate limits,
   * outages). Past it, lookups fail and rules that need them refuse.
   */
  maxStaleMs?: number;
  /** Answers `ldapGroups`: the LDAP directory; without it, such rules are refused by config. */
  ldap?: GroupSource;
  /** Answers `oktaGroups`: the Okta org; without it, such rules are refused by config. */
  okta?: GroupSource;
}

/** Slack's answers that are answers: the group or person does not exist. */
const MISSING = new Set([
  'no_such_subteam',
  'subteam_not_found',
  'user_not_found',
  'users_not_found',
]);

/** What a failed Web API call means for a lookup: an answer (missing), or no answer now. */
function missing(err: unknown): boolean {
  const code = (err as { code?: unknown; data?: { error?: unknown } }).code;
  return (
    code === webApi.ErrorCode.PlatformError &&
    MISSING.has(String((err as webApi.WebAPIPlatformError).data.error))
  );
}

function describeSlackError(err: unknown): string {
  const e = err as { code?: unknown; data?: { error?: unknown }; message?: unknown };
  if (e.code === webApi.ErrorCode.PlatformError) return `slack answered ${String(e.data?.error)}`;
  if (e.code === webApi.ErrorCode.RateLimitedError) return 'slack rate-limited the lookup';
  return typeof e.message === 'string' ? e.message : String(err);
}

interface Person {
  email?: string;
  status: PersonStatus;
  /** The zone the person set in Slack (`tz`), which their DMs and replies are written in. */
  tz?: string;
}

/**
 * Answers the core's Directory questions from Slack: who is in a user group
 * (`usergroups.users.list`, needs usergroups:read), and a person's email and whether they still
 * belong to the workspace (`users.info`, needs users:read and users:read.email). Answers are
 * cached, and concurrent lookups of the same key share one call. The same `users.info` answer
 * gives the zone a person reads times in (`tz`). It fails closed: a group or
 * person Slack says does not exist has no members or is deactivated, at once, whatever was
 * cached; when Slack cannot answer, a cached answer stands in only while it is younger than
 * `maxStaleMs`, and past that the lookup throws DirectoryUnavailable.
 */
export class SlackDirectory implements Directory, ReaderZones {
  private readonly groups: TtlCache<readonly string[]>;
  private readonly people: TtlCache<Person>;
  private readonly ldapGroups: TtlCache<readonly string[]>;
  private readonly byEmail: TtlCache<string | undefined>;
  private readonly ldap?: GroupSource;
  private readonly oktaGroups: TtlCache<readonly string[]>;
  private readonly okta?: GroupSource;

  constructor(
    private readonly client: DirectoryClient,
    options: SlackDirectoryOptions = {},
  ) {
    const clock = options.clock ?? systemClock;
    const maxStale = options.maxStaleMs ?? 5 * 60_000;
    this.groups = new TtlCache(
      'usergroup',
      options.groupTtlMs ?? 60_000,
      maxStale,
      clock,
      options.logger,
    );
    this.people = new TtlCache(
      'user',
      options.userTtlMs ?? 3_600_000,
      maxStale,
      clock,
      options.logger,
    );
    this.ldap = options.ldap;
    this.ldapGroups = new TtlCache(
      'ldap group',
      options.groupTtlMs ?? 60_000,
      maxStale,
      clock,
      options.logger,
      (err) => this.ldap?.describe(err) ?? describeSlackError(err),
      'the LDAP directory',
    );
    this.okta = options.okta;
    this.oktaGroups = new TtlCache(
      'okta group',
      options.groupTtlMs ?? 60_000,
      maxStale,
      clock,
      options.logger,
      (err) => this.okta?.describe(err) ?? describeSlackError(err),
      'Okta',
    );
    this.byEmail = new TtlCache(
      'email',
      options.userTtlMs ?? 3_600_000,
      maxStale,
      clock,
      options.logger,
    );
  }

  /**
   * The Slack user with this email (`users.lookupByEmail`, needs users:read.email), for on-call
   * sources that name people by email; undefined when Slack knows nobody by it.
   */
  userIdByEmail(email: string): Promise<string | undefined> {
    return this.byEmail.get(email.toLowerCase(), async () => {
      try {
        const { user } = await this.client.users.lookupByEmail({ email });
        return user?.deleted ? undefined : user?.id;
      } catch (err) {
        if (missing(err)) return undefined;
        throw err;
      }
    });
  }

  /** The Slack users among an LDAP group's members (see groupMembersOf). */
  ldapGroupMembers(groupDn: string): Promise<readonly string[]> {
    return this.groupMembersOf(this.ldap, this.ldapGroups, groupDn, 'the LDAP directory');
  }

  /** The Slack users among an Okta group's members (see groupMembersOf). */
  oktaGroupMembers(groupId: string): Promise<readonly string[]> {
    return this.groupMembersOf(this.okta, this.oktaGroups, groupId, 'Okta');
  }

  /**
   * The Slack users among a group's members in another directory, matched by email
   * (`users.lookupByEmail`). A group the directory says does not exist has no members; a member
   * with no Slack account is left out. Cached and failing closed like user groups.
   */
  private groupMembersOf(
    source: GroupSource | undefined,
    cache: TtlCache<readonly string[]>,
    group: string,
    sourceName: string,
  ): Promise<readonly string[]> {
    if (!source) {
      return Promise.reject(
        new DirectoryUnavailable(`${sourceName} is not configured for ${group}`, sourceName),
      );
    }
    return cache.get(group, async () => {
      let emails: string[];
      try {
        emails = await source.memberEmails(group);
      } catch (err) {
        if (source.missing(err)) return [];
        throw err;
      }
      const ids = await Promise.all(emails.map((email) => this.userIdByEmail(email)));
      return ids.filter((id): id is string => id !== undefined);
    });
  }

  usergroupMembers(usergroupId: string): Promise<readonly string[]> {
    return this.groups.get(usergroupId, async () => {
      try {
        const result = await this.client.usergroups.users.list({ usergroup: usergroupId });
        return result.users ?? [];
      } catch (err) {
        if (missing(err)) return [];
        throw err;
      }
    });
  }

  async emailOf(userId: string): Promise<string | undefined> {
    return (await this.person(userId)).email;
  }

  async statusOf(userId: string, options: { fresh?: boolean } = {}): Promise<PersonStatus> {
    if (options.fresh) this.people.forget(userId);
    return (await this.person(userId)).status;
  }

  /** The zone the person reads times in; undefined when Slack does not say or cannot answer. */
  async timezoneOf(userId: string): Promise<string | undefined> {
    try {
      return (await this.person(userId)).tz;
    } catch (err) {
      if (err instanceof DirectoryUnavailable) return undefined;
      throw err;
    }
  }

  /**
   * Forgets what is cached of a person: Slack told us they changed (`user_change`). That includes
   * which person an address belongs to, theirs before and `email` now: an address handed from one
   * account to another moves the approver role an LDAP or Okta group gives with it.
   */
  forget(userId: string, email?: string): void {
    this.people.forget(userId);
    this.byEmail.forgetAnswer(userId);
    if (email) this.byEmail.forget(email.toLowerCase());
  }

  private person(userId: string): Promise<Person> {
    return this.people.get(userId, async () => {
      try {
        const { user } = await this.client.users.info({ user: userId });
        const status: PersonStatus = user?.deleted
          ? 'deactivated'
          : user?.is_restricted || user?.is_ultra_restricted
            ? 'guest'
            : 'active';
        return { email: user?.profile?.email || undefined, status, tz: user?.tz || undefined };
      } catch (err) {
        if (missing(err)) return { status: 'deactivated' };
        throw err;
      }
    });
  }
}

class TtlCache<T> {
  private readonly entries = new Map<string, { value: T; fetchedAt: number }>();
  private readonly inFlight = new Map<string, Promise<T>>();

  constructor(
    private readonly kind: string,
    private readonly ttlMs: number,
    private readonly maxStaleMs: number,
    private readonly clock: Clock,
    private readonly logger: Logger | undefined,
    private readonly describe: (err: unknown) => string = describeSlackError,
    private readonly source = 'Slack',
  ) {}

  /**
   * Drops what is cached under `key`, and a lookup of it still in flight: that question was asked
   * before whatever made the caller forget, so its answer is neither cached nor shared with a
   * lookup asked after.
   */
  forget(key: string): void {
    this.entries.delete(key);
    this.inFlight.delete(key);
  }

  /** Forgets every key whose cached answer is `value`. */
  forgetAnswer(value: T): void {
    for (const [key, entry] of this.entries) if (entry.value === value) this.forget(key);
  }

  get(key: string, load: () => Promise<T>): Promise<T> {
    const entry = this.entries.get(key);
    if (entry && this.clock.now() - entry.fetchedAt < this.ttlMs)
      return Promise.resolve(entry.value);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const lookup = load()
      .then((value) => {
        if (this.inFlight.get(key) === lookup) {
          this.entries.set(key, { value, fetchedAt: this.clock.now() });
        }
        return value;
      })
      .catch((err: unknown) => {
        const ageMs = entry ? this.clock.now() - entry.fetchedAt : undefined;
        if (entry && ageMs !== undefined && ageMs <= this.maxStaleMs) {
          this.logger?.warn('directory lookup failed; using the cached answer', {
            kind: this.kind,
            key,
            ageMs,
            error: this.describe(err),
          });
          return entry.value;
        }
        this.logger?.warn('directory lookup failed and no recent answer is cached', {
          kind: this.kind,
          key,
          ageMs,
          error: this.describe(err),
        });
        throw new DirectoryUnavailable(
          `could not look up ${this.kind} ${key} (${this.describe(err)})`,
          this.source,
        );
      })
      .finally(() => {
        if (this.inFlight.get(key) === lookup) this.inFlight.delete(key);
      });
    this.inFlight.set(key, lookup);
    return lookup;
  }
}
