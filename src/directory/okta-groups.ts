import type { Client } from '@okta/okta-sdk-nodejs';
import type { z } from 'zod';
import { isOktaStatus, oktaCall, oktaClient } from '../okta/client';
import { oktaAuth, oktaConnectionSettings, oktaSecrets } from '../okta/settings';

/**
 * How to reach the Okta org that answers `approvers.oktaGroups` / `requesters.oktaGroups`. A
 * service app needs only `okta.groups.read`: a group's member listing carries their profiles.
 */
export const oktaDirectorySettings = oktaConnectionSettings(['okta.groups.read']);

export type OktaDirectorySettings = z.infer<typeof oktaDirectorySettings>;

/** Okta's recommended page size for group members (its default is far larger). */
const MEMBERS_PAGE = 200;

/**
 * Members counted as the people they are: signed in or able to. An account not yet activated
 * (STAGED, PROVISIONED), suspended or deactivated is left out, and so is any status Okta adds.
 */
const COUNTED_STATUSES = new Set(['ACTIVE', 'RECOVERY', 'LOCKED_OUT', 'PASSWORD_EXPIRED']);

/** Okta said the group does not exist (404 E0000007): an answer, not an outage. */
export class NoSuchOktaGroup extends Error {
  constructor(readonly groupId: string) {
    super(`Okta has no group ${groupId} (or the admin role cannot see it)`);
    this.name = 'NoSuchOktaGroup';
  }
}

export interface OktaGroupDirectoryOptions {
  /** Each lookup as a whole, every page and every wait on a 429 included. */
  timeoutMs?: number;
}

/**
 * Who is in an Okta group, as email addresses (to be matched to Slack users by email): the
 * members' `profile.email`, paged through with Okta's Link headers. No caching here: each call
 * asks Okta; the Slack directory caches and fails closed.
 */
export class OktaGroupDirectory {
  private readonly client: Client;
  private readonly secrets: string[];
  private readonly timeoutMs: number;

  constructor(settings: OktaDirectorySettings, options: OktaGroupDirectoryOptions = {}) {
    this.secrets = oktaSecrets(settings);
    this.client = oktaClient(settings.orgUrl, oktaAuth(settings));
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The group is gone (or hidden from Hallpass's admin role): it has no members. */
  missing(err: unknown): boolean {
    return err instanceof NoSuchOktaGroup;
  }

  /** A failed lookup in a sentence for the log; oktaCall already took the secrets out. */
  describe(err: unknown): string {
    return err instanceof Error ? err.message : String(err);
  }

  /** The members' email addresses, lowercased, without duplicates, sorted. */
  async memberEmails(groupId: string): Promise<string[]> {
    const emails = await oktaCall(
      AbortSignal.timeout(this.timeoutMs),
      `okta group lookup (group ${groupId})`,
      this.secrets,
      async () => {
        try {
          return await this.listMemberEmails(groupId);
        } catch (err) {
          if (isOktaStatus(err, 404)) return undefined;
          throw err;
        }
      },
    );
    if (emails === undefined) throw new NoSuchOktaGroup(groupId);
    return emails;
  }

  private async listMemberEmails(groupId: string): Promise<string[]> {
    const emails = new Set<string>();
    for await (const user of await this.client.groupApi.listGroupUsers({
      groupId,
      limit: MEMBERS_PAGE,
    })) {
      const email = user?.profile?.email;
      if (email && user.status && COUNTED_STATUSES.has(user.status)) {
        emails.add(email.toLowerCase());
      }
    }
    return [...emails].sort();
  }
}
