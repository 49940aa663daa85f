import type { Client, User } from '@okta/okta-sdk-nodejs';
import { z } from 'zod';
import { isOktaNotFound, oktaCall, oktaClient } from '../../okta/client';
import { oktaAuth, oktaConnectionSettings, oktaGroupId, oktaSecrets } from '../../okta/settings';
import type { ProviderAdapter, ProviderCallContext } from '../types';

/** Okta's recommended page size for group members (its default is far larger). */
const MEMBERS_PAGE = 200;

const oktaGroupConfig = oktaConnectionSettings(['okta.users.read', 'okta.groups.manage']);

const oktaGroupTarget = z.strictObject({ group: oktaGroupId });

export type OktaGroupConfig = z.infer<typeof oktaGroupConfig>;
export type OktaGroupTarget = z.infer<typeof oktaGroupTarget>;

/** What grant keeps: the Okta user's id, so revoke and check do not depend on a lookup. */
const oktaState = z.object({ userId: z.string().min(1) });

export const oktaGroupAdapter: ProviderAdapter<OktaGroupConfig, OktaGroupTarget> = {
  type: 'okta-group',
  configSchema: oktaGroupConfig,
  targetSchema: oktaGroupTarget,
  placeOf: (config) => ({ orgUrl: config.orgUrl }),
  create(config) {
    const secrets = oktaSecrets(config);
    const client = oktaClient(config.orgUrl, oktaAuth(config));
    const call = <T>(ctx: Ctx, action: string, work: () => Promise<T>) =>
      oktaCall(
        ctx.signal,
        `okta-group ${action} (group ${ctx.resource.target.group})`,
        secrets,
        work,
      );

    return {
      // Membership is per person, so a second grant of the same group shares it; removing a
      // member ends no session already open in an app the group gives access to.
      guarantees: { enforcesExpiry: false, endsOpenSessions: false, isolation: 'shared' },
      sharedBy: 'target',
      grant: (ctx) =>
        call(ctx, 'grant', async () => {
          const userId = stateOf(ctx)?.userId ?? (await userIdToGrant(client, ctx));
          await client.groupApi.assignUserToGroup({ groupId: ctx.resource.target.group, userId });
          return { state: { userId } };
        }),
      revoke: (ctx) =>
        call(ctx, 'revoke', async () => {
          const userId = await knownUserId(client, ctx);
          if (userId === undefined) return;
          const groupId = ctx.resource.target.group;
          try {
            await client.groupApi.unassignUserFromGroup({ groupId, userId });
          } catch (err) {
            // Okta says 404 E0000007 for a user or group that is gone, and also for one the admin
            // role cannot see (its resource set narrowed, another admin's token): only a read of
            // the group's members that leaves the user out says the membership is gone.
            if (!isOktaNotFound(err) || (await isMember(client, groupId, userId))) throw err;
          }
        }),
      check: (ctx) =>
        call(ctx, 'check', async () => {
          const userId = await knownUserId(client, ctx);
          return (
            userId !== undefined && (await isMember(client, ctx.resource.target.group, userId))
          );
        }),
    };
  },
};

type Ctx = ProviderCallContext<OktaGroupTarget>;

function stateOf(ctx: Ctx): z.infer<typeof oktaState> | undefined {
  const parsed = oktaState.safeParse(ctx.state);
  return parsed.success ? parsed.data : undefined;
}

/** The user to add: found by login, else by email, and not deactivated. */
async function userIdToGrant(client: Client, ctx: Ctx): Promise<string> {
  const email = ctx.user.email;
  if (!email) {
    throw new Error(
      `Slack gave no email for ${ctx.user.slackId}, so no Okta user can be found (the Slack app needs the users:read.email scope)`,
    );
  }
  const user = await findUser(client, email);
  if (!user?.id) throw new Error(`no Okta user has the login or the email ${email}`);
  if (user.status === 'DEPROVISIONED') {
    throw new Error(`the Okta user ${user.profile?.login ?? user.id} is deactivated`);
  }
  return user.id;
}

/** The id grant recorded, else the user a lookup finds now; undefined when there is none. */
async function knownUserId(client: Client, ctx: Ctx): Promise<string | undefined> {
  const recorded = stateOf(ctx)?.userId;
  if (recorded) return recorded;
  const email = ctx.user.email;
  return email ? (await findUser(client, email))?.id : undefined;
}

/**
 * `GET /api/v1/users/{login}` first (logins are usually the email, and this read is consistent);
 * else a search on profile.email, which must match exactly one user.
 */
async function findUser(client: Client, email: string): Promise<User | undefined> {
  try {
    return await client.userApi.getUser({ userId: email });
  } catch (err) {
    if (!isOktaNotFound(err)) throw err;
  }
  const quoted = email.replace(/["\\]/g, (c) => `\\${c}`);
  const found: User[] = [];
  for await (const user of await client.userApi.listUsers({
    search: `profile.email eq "${quoted}"`,
    limit: 2,
  })) {
    if (user) found.push(user);
    if (found.length > 1) {
      throw new Error(
        `more than one Okta user has the email ${email} and none has it as login; make it the login of one of them`,
      );
    }
  }
  return found[0];
}

/**
 * Pages through the group's members (Link: rel="next") until the user turns up. A group Okta
 * answers 404 for fails the call: it may exist where the admin role cannot see it.
 */
async function isMember(client: Client, groupId: string, userId: string): Promise<boolean> {
  for await (const member of await client.groupApi.listGroupUsers({
    groupId,
    limit: MEMBERS_PAGE,
  })) {
    if (member?.id === userId) return true;
  }
  return false;
}
