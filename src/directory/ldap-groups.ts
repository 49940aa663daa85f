import { EqualityFilter, OrFilter, type Client, type Entry } from 'ldapts';
import { z } from 'zod';
import { stringValues } from '../ldap/entry';
import { LdapFailure, ldapFailure, ResultCode } from '../ldap/errors';
import { withLdapSession } from '../ldap/session';
import {
  always,
  attributeName,
  checkConnectionSettings,
  distinguishedName,
  ldapConnection,
  ldapConnectionSettings,
  type LdapConnection,
} from '../ldap/settings';

/** How to reach the directory that answers `approvers.ldapGroups` / `requesters.ldapGroups`. */
export const ldapDirectorySettings = ldapConnectionSettings
  .extend({
    /** Where the people of memberUid (posixGroup) groups are found by their uid. */
    userBase: distinguishedName,
    mailAttribute: attributeName.default('mail'),
    uidAttribute: attributeName.default('uid'),
    /** Entries per page of a search; servers cap it (Active Directory at MaxPageSize, 1000). */
    pageSize: z.number().int().min(1).max(1000).default(500),
  })
  .superRefine(checkConnectionSettings, always);

export type LdapDirectorySettings = z.infer<typeof ldapDirectorySettings>;

/**
 * Why a lookup failed, for the policy's fail-closed cache:
 * - `no-such-group`: the directory says the group does not exist (noSuchObject). A definite
 *   answer: the group has no members.
 * - `misconfigured`: the directory refuses Hallpass (wrong password, no access, bad DN, TLS
 *   certificate not trusted). Retrying will not help until an admin fixes the settings or rights.
 * - `unavailable`: unreachable, timed out, busy: worth retrying.
 */
export type LdapGroupLookupFailure = 'no-such-group' | 'misconfigured' | 'unavailable';

export class LdapGroupLookupError extends Error {
  constructor(
    readonly groupDn: string,
    readonly kind: LdapGroupLookupFailure,
    message: string,
  ) {
    super(message);
    this.name = 'LdapGroupLookupError';
  }

  /** Only `unavailable` may give another answer on a retry. */
  get transient(): boolean {
    return this.kind === 'unavailable';
  }
}

export interface LdapGroupDirectoryOptions {
  /** The folder of hallpass.yml, for `tls.caFile`. */
  configDir: string;
  /** Each lookup as a whole, connection included. */
  timeoutMs?: number;
  /** How deep groups inside groups are followed. */
  maxDepth?: number;
}

const MEMBER_DN_ATTRIBUTES = ['member', 'uniqueMember'];
/** Member entries read at once on the one connection. */
const PARALLEL_READS = 8;
/** uids per search, so a filter stays well under servers' request size limits. */
const UIDS_PER_SEARCH = 50;

const MISCONFIGURED_CODES = new Set<number>([
  ResultCode.authMethodNotSupported,
  ResultCode.strongerAuthRequired,
  ResultCode.confidentialityRequired,
  ResultCode.undefinedAttributeType,
  ResultCode.invalidDNSyntax,
  ResultCode.inappropriateAuthentication,
  ResultCode.invalidCredentials,
  ResultCode.insufficientAccessRights,
  ResultCode.noSuchObject, // of userBase: the group itself is handled before
]);
const CERTIFICATE_ERROR =
  /^(CERT_|ERR_TLS_CERT|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_)/;

/**
 * Who is in an LDAP or Active Directory group, as email addresses (to be matched to Slack users
 * by email). Members are `member` and `uniqueMember` DNs, read for their mail, and `memberUid`
 * values, searched under `userBase`; a member DN without mail that has members of its own is a
 * nested group and is followed. Member DNs that do not exist, or that the bind DN may not read,
 * are left out. No caching here: each call asks the directory.
 */
export class LdapGroupDirectory {
  private readonly connection: LdapConnection;
  private readonly timeoutMs: number;
  private readonly maxDepth: number;

  constructor(
    private readonly settings: LdapDirectorySettings,
    options: LdapGroupDirectoryOptions,
  ) {
    this.connection = ldapConnection(settings, options.configDir);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxDepth = options.maxDepth ?? 8;
  }

  /** The directory said the group does not exist: an answer (no members), not an outage. */
  missing(err: unknown): boolean {
    return err instanceof LdapGroupLookupError && err.kind === 'no-such-group';
  }

  /** A failed lookup in a sentence for the log; LDAP errors carry no secrets (see ldapFailure). */
  describe(err: unknown): string {
    return err instanceof Error ? err.message : String(err);
  }

  /**
   * The members' email addresses, lowercased, without duplicates, sorted. Throws an
   * LdapGroupLookupError saying whether the group does not exist, Hallpass is refused, or the
   * directory could not be asked.
   */
  async memberEmails(groupDn: string, signal?: AbortSignal): Promise<string[]> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    let emails: Set<string> | undefined;
    try {
      emails = await withLdapSession(
        this.connection,
        combined,
        `ldap lookup of ${groupDn}`,
        (client) => this.collect(client, groupDn),
      );
    } catch (err) {
      const failure = err instanceof LdapFailure ? err : ldapFailure('ldap lookup', err);
      throw new LdapGroupLookupError(groupDn, classify(failure), failure.message);
    }
    if (!emails) {
      throw new LdapGroupLookupError(groupDn, 'no-such-group', `no LDAP group ${groupDn}`);
    }
    return [...emails].sort();
  }

  /** Undefined when the group itself does not exist. */
  private async collect(client: Client, groupDn: string): Promise<Set<string> | undefined> {
    const group = await this.read(client, groupDn);
    if (!group) return undefined;
    const emails = new Set<string>();
    const seen = new Set([normalizeDn(groupDn)]);
    let level: Entry[] = [group];
    for (let depth = 0; level.length > 0 && depth <= this.maxDepth; depth++) {
      const uids = level.flatMap((entry) => stringValues(entry, 'memberUid'));
      for (const email of await this.emailsOfUids(client, uids)) emails.add(email);
      const dns = level
        .flatMap((entry) => MEMBER_DN_ATTRIBUTES.flatMap((a) => stringValues(entry, a)))
        .map(withoutUniqueId)
        .filter((dn) => {
          const key = normalizeDn(dn);
          if (seen.has(key)) return false;
          seen.add(key);
          return true;
        });
      const members = (await mapLimited(dns, PARALLEL_READS, (dn) => this.read(client, dn))).filter(
        (entry): entry is Entry => entry !== undefined,
      );
      level = [];
      for (const member of members) {
        const mails = stringValues(member, this.settings.mailAttribute);
        mails.forEach((mail) => emails.add(mail.trim().toLowerCase()));
        if (mails.length === 0) level.push(member);
      }
    }
    return emails;
  }

  /** One entry with what a lookup needs of it; undefined if it does not exist (or is hidden). */
  private async read(client: Client, dn: string): Promise<Entry | undefined> {
    try {
      const { searchEntries } = await client.search(dn, {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes: [this.settings.mailAttribute, ...MEMBER_DN_ATTRIBUTES, 'memberUid'],
      });
      return searchEntries[0];
    } catch (err) {
      if ((err as { code?: unknown }).code === ResultCode.noSuchObject) return undefined;
      throw ldapFailure(`reading ${dn}`, err);
    }
  }

  private async emailsOfUids(client: Client, uids: string[]): Promise<string[]> {
    if (uids.length === 0) return [];
    const { userBase, uidAttribute, mailAttribute, pageSize } = this.settings;
    const emails: string[] = [];
    for (let i = 0; i < uids.length; i += UIDS_PER_SEARCH) {
      const batch = uids.slice(i, i + UIDS_PER_SEARCH);
      const filter = new OrFilter({
        filters: batch.map((value) => new EqualityFilter({ attribute: uidAttribute, value })),
      });
      const { searchEntries } = await client
        .search(userBase, {
          scope: 'sub',
          filter,
          attributes: [mailAttribute],
          paged: { pageSize },
        })
        .catch((err: unknown) =>
          Promise.reject(ldapFailure(`search of ${userBase} for memberUid people`, err)),
        );
      for (const entry of searchEntries) {
        stringValues(entry, mailAttribute).forEach((mail) =>
          emails.push(mail.trim().toLowerCase()),
        );
      }
    }
    return emails;
  }
}

function classify(failure: LdapFailure): LdapGroupLookupFailure {
  if (failure.aborted) return 'unavailable';
  if (failure.resultCode !== undefined && MISCONFIGURED_CODES.has(failure.resultCode)) {
    return 'misconfigured';
  }
  if (failure.networkCode && CERTIFICATE_ERROR.test(failure.networkCode)) return 'misconfigured';
  return 'unavailable';
}

/** uniqueMember may carry the member's unique id after the DN: `cn=x,dc=y#'0101'B`. */
function withoutUniqueId(value: string): string {
  return value.replace(/#'[01]*'B$/, '');
}

/** Good enough to notice a group seen before: servers compare DNs without case or spaces. */
function normalizeDn(dn: string): string {
  return dn.toLowerCase().replace(/\s*([,+=])\s*/g, '$1');
}

async function mapLimited<T, R>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
