import { Attribute, Change, type Client } from 'ldapts';
import { z } from 'zod';
import { stringValues } from '../../ldap/entry';
import { LdapFailure, ldapFailure, ResultCode } from '../../ldap/errors';
import { fillEmailFilter } from '../../ldap/filter';
import type { GrantUser } from '../types';

export const memberAttributes = ['member', 'uniqueMember', 'memberUid'] as const;
export type MemberAttribute = (typeof memberAttributes)[number];

/** One value of a group's member attribute: a person's DN, or their uid for memberUid. */
export const membershipSchema = z.object({
  attribute: z.enum(memberAttributes),
  value: z.string().min(1),
});
export type Membership = z.infer<typeof membershipSchema>;

export interface MemberLookup {
  userBase: string;
  userFilter: string;
  memberAttribute: MemberAttribute;
  uidAttribute: string;
}

/**
 * The value that stands for `user` in the group: found by their email with `userFilter` under
 * `userBase`. Undefined when they have no email or no entry and `required` is false (a revoke or
 * check of someone who cannot have been added); every other miss is an error that says why.
 */
export async function findMembership(
  client: Client,
  lookup: MemberLookup,
  user: GrantUser,
  required: true,
): Promise<Membership>;
export async function findMembership(
  client: Client,
  lookup: MemberLookup,
  user: GrantUser,
  required: boolean,
): Promise<Membership | undefined>;
export async function findMembership(
  client: Client,
  lookup: MemberLookup,
  user: GrantUser,
  required: boolean,
): Promise<Membership | undefined> {
  if (!user.email) {
    if (!required) return undefined;
    throw new LdapFailure(
      `${user.slackId} has no email address in Slack (the app needs the users:read.email scope)`,
    );
  }
  const filter = fillEmailFilter(lookup.userFilter, user.email);
  const uid = lookup.memberAttribute === 'memberUid' ? lookup.uidAttribute : undefined;
  const found = await client
    .search(lookup.userBase, {
      scope: 'sub',
      filter,
      // '1.1' asks for no attributes: a DN is all member and uniqueMember need.
      attributes: uid ? [uid] : ['1.1'],
      sizeLimit: 2,
    })
    .catch((err: unknown) =>
      Promise.reject(
        ldapFailure(`search of ${lookup.userBase} for ${filter}`, err, {
          [ResultCode.noSuchObject]: 'userBase does not exist or the bind DN cannot read it',
        }),
      ),
    );
  const [entry, ...others] = found.searchEntries;
  if (!entry) {
    if (!required) return undefined;
    throw new LdapFailure(`no entry under ${lookup.userBase} matches ${filter}`);
  }
  if (others.length > 0) {
    throw new LdapFailure(
      `several entries under ${lookup.userBase} match ${filter} (${[entry, ...others].map((e) => e.dn).join('; ')}): make userFilter match one person`,
    );
  }
  if (!uid) return { attribute: lookup.memberAttribute, value: entry.dn };
  const values = stringValues(entry, uid);
  if (values.length !== 1 || !values[0]) {
    throw new LdapFailure(
      `${entry.dn} has ${values.length === 0 ? 'no' : values.length} values of ${uid}; memberUid needs exactly one (see uidAttribute)`,
    );
  }
  return { attribute: 'memberUid', value: values[0] };
}

/**
 * Adds or removes the value. Servers say "already so" in their own ways (OpenLDAP:
 * attributeOrValueExists, noSuchAttribute; Active Directory: entryAlreadyExists,
 * unwillingToPerform), so after any failure a compare decides: if the wanted state holds, the
 * call succeeded after all; otherwise the failure stands, with what to do about it.
 */
export async function setMembership(
  client: Client,
  group: string,
  membership: Membership,
  present: boolean,
): Promise<void> {
  const { attribute, value } = membership;
  const change = new Change({
    operation: present ? 'add' : 'delete',
    modification: new Attribute({ type: attribute, values: [value] }),
  });
  try {
    await client.modify(group, change);
  } catch (err) {
    const holds = await isMember(client, group, membership).then(
      (member) => member === present,
      () => false,
    );
    if (holds) return;
    const label = present ? `adding ${value} to ${group}` : `removing ${value} from ${group}`;
    throw ldapFailure(label, err, {
      [ResultCode.insufficientAccessRights]: `the bind DN needs write access to ${attribute} of this group (see the ACL in docs/providers.md)`,
      [ResultCode.noSuchObject]: NO_SUCH_GROUP,
      [ResultCode.objectClassViolation]: present
        ? `the group's object class does not take ${attribute}: check memberAttribute`
        : `the group's object class needs at least one ${attribute}: give the group a placeholder member that Hallpass does not manage`,
      [ResultCode.undefinedAttributeType]: 'check memberAttribute',
    });
  }
}

/** Whether an entry of this DN exists (a person's, kept from the grant). */
export async function entryExists(client: Client, dn: string): Promise<boolean> {
  try {
    const found = await client.search(dn, { scope: 'base', attributes: ['1.1'] });
    return found.searchEntries.length > 0;
  } catch (err) {
    if ((err as { code?: unknown }).code === ResultCode.noSuchObject) return false;
    throw ldapFailure(`reading ${dn}`, err, {
      [ResultCode.insufficientAccessRights]: 'the bind DN needs read access to userBase',
    });
  }
}

const NO_SUCH_GROUP = "no such group, or the bind DN cannot see it: check the target's group DN";

/** A compare on the group: the server matches DNs and uids with the attribute's own rules. */
export async function isMember(
  client: Client,
  group: string,
  { attribute, value }: Membership,
): Promise<boolean> {
  try {
    return await client.compare(group, attribute, value);
  } catch (err) {
    // A group without any value of the attribute (an empty posixGroup) has none of them.
    if ((err as { code?: unknown }).code === ResultCode.noSuchAttribute) return false;
    throw ldapFailure(`reading ${attribute} of ${group}`, err, {
      [ResultCode.noSuchObject]: NO_SUCH_GROUP,
      [ResultCode.insufficientAccessRights]: `the bind DN needs read access to ${attribute} of this group`,
    });
  }
}
