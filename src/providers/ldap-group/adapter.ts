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
    /** The state's value when there is one (the person may have left the directory since). */
    const granted = (client: Client, ctx: ProviderCallContext<LdapGroupTarget>) => {
      const state = membershipSchema.safeParse(ctx.state);
      return state.success
        ? Promise.resolve(state.data)
        : findMembership(client, lookup, ctx.user, false);
    };

    return {
      guarantees: { enforcesExpiry: false, endsOpenSessions: false, isolation: 'shared' },
      grant: (ctx) =>
        session(ctx, 'grant', async (client) => {
          const membership = await findMembership(client, lookup, ctx.user, true);
          await setMembership(client, ctx.resource.target.group, membership, true);
          const state: LdapGroupState = membership;
          return { state };
        }),
      revoke: (ctx) =>
        session(ctx, 'revoke', async (client) => {
          const membership = await granted(client, ctx);
          if (membership) await setMembership(client, ctx.resource.target.group, membership, false);
        }),
      check: (ctx) =>
        session(ctx, 'check', async (client) => {
          const membership = await granted(client, ctx);
          return membership ? isMember(client, ctx.resource.target.group, membership) : false;
        }),
    };
  },
};
