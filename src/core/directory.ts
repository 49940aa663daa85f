/**
 * Who is in which user group, and people's emails. The Slack layer answers from Slack's API
 * (cached); the CLI and tests answer from what they know.
 */
export interface Directory {
  usergroupMembers(usergroupId: string): Promise<readonly string[]>;
  emailOf(userId: string): Promise<string | undefined>;
}

export class StaticDirectory implements Directory {
  constructor(
    private readonly groups: Record<string, readonly string[]> = {},
    private readonly emails: Record<string, string> = {},
  ) {}
  async usergroupMembers(usergroupId: string): Promise<readonly string[]> {
    return this.groups[usergroupId] ?? [];
  }
  async emailOf(userId: string): Promise<string | undefined> {
    return this.emails[userId];
  }
}
