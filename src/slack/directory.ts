import { webApi } from '@slack/bolt';
import { systemClock, type Clock } from '../core/clock';
import { DirectoryUnavailable, type Directory, type PersonStatus } from '../core/directory';
import type { Logger } from '../log';

/** The two Web API methods the directory uses (a Bolt WebClient has them). */
export type DirectoryClient = {
  usergroups: { users: Pick<webApi.WebClient['usergroups']['users'], 'list'> };
  users: Pick<webApi.WebClient['users'], 'info' | 'lookupByEmail'>;
};

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

function describe(err: unknown): string {
  const e = err as { code?: unknown; data?: { error?: unknown }; message?: unknown };
  if (e.code === webApi.ErrorCode.PlatformError) return `slack answered ${String(e.data?.error)}`;
  if (e.code === webApi.ErrorCode.RateLimitedError) return 'slack rate-limited the lookup';
  return typeof e.message === 'string' ? e.message : String(err);
}

interface Person {
  email?: string;
  status: PersonStatus;
}

/**
 * Answers the core's Directory questions from Slack: who is in a user group
 * (`usergroups.users.list`, needs usergroups:read), and a person's email and whether they still
 * belong to the workspace (`users.info`, needs users:read and users:read.email). Answers are
 * cached, and concurrent lookups of the same key share one call. It fails closed: a group or
 * person Slack says does not exist has no members or is deactivated, at once, whatever was
 * cached; when Slack cannot answer, a cached answer stands in only while it is younger than
 * `maxStaleMs`, and past that the lookup throws DirectoryUnavailable.
 */
export class SlackDirectory implements Directory {
  private readonly groups: TtlCache<readonly string[]>;
  private readonly people: TtlCache<Person>;
  private readonly byEmail: TtlCache<string | undefined>;

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

  /** Forgets what is cached of a person: Slack told us they changed (`user_change`). */
  forget(userId: string): void {
    this.people.forget(userId);
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
        return { email: user?.profile?.email || undefined, status };
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
  ) {}

  forget(key: string): void {
    this.entries.delete(key);
  }

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
        const ageMs = entry ? this.clock.now() - entry.fetchedAt : undefined;
        if (entry && ageMs !== undefined && ageMs <= this.maxStaleMs) {
          this.logger?.warn('slack directory lookup failed; using the cached answer', {
            kind: this.kind,
            key,
            ageMs,
            error: describe(err),
          });
          return entry.value;
        }
        this.logger?.warn('slack directory lookup failed and no recent answer is cached', {
          kind: this.kind,
          key,
          ageMs,
          error: describe(err),
        });
        throw new DirectoryUnavailable(`could not look up ${this.kind} ${key} (${describe(err)})`);
      })
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, lookup);
    return lookup;
  }
}
