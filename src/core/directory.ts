/** What the directory says of a person. */
export type PersonStatus = 'active' | 'deactivated' | 'guest';

/**
 * The directory could not answer for now (Slack rate-limited or out of reach, past how long a
 * cached answer may stand in). Rules that need the answer refuse, and nothing changes: an
 * approver is never let in on a guess.
 */
export class DirectoryUnavailable extends Error {
  constructor(
    message: string,
    /** Who did not answer, as a person reads it: `Slack`, `the LDAP directory`, `Okta`. */
    readonly source = 'Slack',
    /** Why, as a person is told: the directory was asked and did not answer, unless said. */
    readonly why = `${source} did not answer`,
  ) {
    super(message);
    this.name = 'DirectoryUnavailable';
  }
}

/**
 * Who is in which user group, people's emails and whether they still belong to the workspace.
 * The Slack layer answers from Slack's API (cached, failing closed); the CLI and tests answer
 * from what they know. A group or person that does not exist is an answer (no members,
 * deactivated); only an outage throws DirectoryUnavailable.
 */
export interface Directory {
  usergroupMembers(usergroupId: string): Promise<readonly string[]>;
  /** The Slack users in an LDAP group (`ldapGroups` in a rule), matched by email. */
  ldapGroupMembers(groupDn: string): Promise<readonly string[]>;
  /** The Slack users in an Okta group (`oktaGroups` in a rule), matched by email. */
  oktaGroupMembers(groupId: string): Promise<readonly string[]>;
  emailOf(userId: string): Promise<string | undefined>;
  /** `fresh`: ask again rather than trust a cached answer (the offboarding safety net). */
  statusOf(userId: string, options?: { fresh?: boolean }): Promise<PersonStatus>;
}

export class StaticDirectory implements Directory {
  constructor(
    private readonly groups: Record<string, readonly string[]> = {},
    private readonly emails: Record<string, string> = {},
    private readonly statuses: Record<string, PersonStatus> = {},
  ) {}
  async usergroupMembers(usergroupId: string): Promise<readonly string[]> {
    return this.groups[usergroupId] ?? [];
  }
  /** Keyed by DN in the same table as user groups. */
  async ldapGroupMembers(groupDn: string): Promise<readonly string[]> {
    return this.groups[groupDn] ?? [];
  }
  /** Keyed by group id in the same table as user groups. */
  async oktaGroupMembers(groupId: string): Promise<readonly string[]> {
    return this.groups[groupId] ?? [];
  }
  async emailOf(userId: string): Promise<string | undefined> {
    return this.emails[userId];
  }
  async statusOf(userId: string): Promise<PersonStatus> {
    return this.statuses[userId] ?? 'active';
  }
}
