import type { Client } from 'ldapts';
import { z } from 'zod';
import { emailFilterProblem } from '../../ldap/filter';
import { withLdapSession } from '../../ldap/session';
import {
  always,
  attributeName,
  checkConnectionSettings,
  distinguishedName,
  ldapConnection,
  ldapConnectionSettings,
} from '../../ldap/settings';
import type { ProviderAdapter, ProviderCallContext } from '../types';
import {
  entryExists,
  findMembership,
  isMember,
  memberAttributes,
  membershipSchema,
  setMembership,
  type MemberLookup,
  type Membership,
} from './membership';

const ldapGroupConfig = ldapConnectionSettings
  .extend({
    userBase: distinguishedName,
    userFilter: z
      .string()
      .default('(mail={email})')
      .superRefine((template, ctx) => {
        const problem = emailFilterProblem(template);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    memberAttribute: z.enum(memberAttributes).default('member'),
    uidAttribute: attributeName.optional(),
  })
  .superRefine((config, ctx) => {
    checkConnectionSettings(config, ctx);
    if (config.uidAttribute !== undefined && config.memberAttribute !== 'memberUid') {
      ctx.addIssue({
        code: 'custom',
        path: ['uidAttribute'],
        message: 'applies only with memberAttribute: memberUid',
      });
    }
  }, always);

const ldapGroupTarget = z.strictObject({ group: distinguishedName });

export type LdapGroupConfig = z.infer<typeof ldapGroupConfig>;
export type LdapGroupTarget = z.infer<typeof ldapGroupTarget>;

/** What `grant` keeps with the grant: the value it added, so revoke removes exactly that. */
export type LdapGroupState = Membership;

export const ldapGroupAdapter: ProviderAdapter<LdapGroupConfig, LdapGroupTarget> = {
  type: 'ldap-group',
  configSchema: ldapGroupConfig,
  targetSchema: ldapGroupTarget,
  // The server; each grant's group DN is in its target, recorded on the grant.
  placeOf: (config) => ({ url: config.url }),
  create(config, deps) {
    const connection = ldapConnection(config, deps.configDir);
    const lookup: MemberLookup = {
      userBase: config.userBase,
      userFilter: config.userFilter,
      memberAttribute: config.memberAttribute,
      uidAttribute: config.uidAttribute ?? 'uid',
    };
    const session = <T>(
      ctx: ProviderCallContext<LdapGroupTarget>,
      what: string,
      work: (client: Client) => Promise<T>,
    ) => withLdapSession(connection, ctx.signal, `ldap-group ${what}`, work);
    /**
     * The values that stand for the person in the group: the one granted (kept in state, so a
     * person who left the directory is still removed). When that entry is gone by its DN, the
     * person may have been renamed or moved during the grant, and their member values rewritten
     * to the new DN (Active Directory always, OpenLDAP with the refint overlay): then also the
     * one their email finds now. Without state, the one the email finds.
     */
    const standingFor = async (
      client: Client,
      ctx: ProviderCallContext<LdapGroupTarget>,
    ): Promise<Membership[]> => {
      const state = membershipSchema.safeParse(ctx.state);
      if (!state.success) {
        const now = await findMembership(client, lookup, ctx.user, false);
        return now ? [now] : [];
      }
      if (state.data.attribute === 'memberUid' || (await entryExists(client, state.data.value)))
        return [state.data];
      const now = await findMembership(client, lookup, ctx.user, false);
      return now && now.value !== state.data.value ? [state.data, now] : [state.data];
    };

    return {
      guarantees: { enforcesExpiry: false, endsOpenSessions: false, isolation: 'shared' },
      sharedBy: 'target',
      grant: (ctx) =>
        session(ctx, 'grant', async (client) => {
          const membership = await findMembership(client, lookup, ctx.user, true);
          await setMembership(client, ctx.resource.target.group, membership, true);
          const state: LdapGroupState = membership;
          return { state };
        }),
      revoke: (ctx) =>
        session(ctx, 'revoke', async (client) => {
          for (const membership of await standingFor(client, ctx))
            await setMembership(client, ctx.resource.target.group, membership, false);
        }),
      check: (ctx) =>
        session(ctx, 'check', async (client) => {
          for (const membership of await standingFor(client, ctx))
            if (await isMember(client, ctx.resource.target.group, membership)) return true;
          return false;
        }),
    };
  },
};
