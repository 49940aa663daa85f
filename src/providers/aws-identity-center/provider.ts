import { IdentitystoreClient } from '@aws-sdk/client-identitystore';
import { SSOAdminClient } from '@aws-sdk/client-sso-admin';
import { z } from 'zod';
import { registerSecret } from '../../log';
import type { Provider, ProviderCallContext } from '../types';
import { AccountAssignments, type UserAssignment } from './assignments';
import { isAwsError } from './aws-call';
import { PermissionSetDirectory } from './permission-sets';
import { findUserIdByEmail } from './principal';
import {
  ACCOUNT_ID,
  PERMISSION_SET_ARN,
  type AwsIdentityCenterConfig,
  type AwsIdentityCenterTarget,
} from './schema';

type Action = 'grant' | 'revoke' | 'check';
type Context = ProviderCallContext<AwsIdentityCenterTarget>;

/**
 * What `grant` keeps with the grant: the assignment it made, so revoke and check act on that one
 * even if the person's email or the resource's target changed since. Ids only, nothing secret.
 */
const assignmentState = z.object({
  accountId: z.string().regex(ACCOUNT_ID),
  permissionSetArn: z.string().regex(PERMISSION_SET_ARN),
  userId: z.string().min(1),
});

/** The aws-identity-center provider for one configured instance, with its two SDK clients. */
export function awsIdentityCenterProvider(
  config: AwsIdentityCenterConfig,
): Provider<AwsIdentityCenterTarget> {
  // The SDK reads these itself; registered so that nothing Hallpass logs can carry them.
  registerSecret(process.env.AWS_SECRET_ACCESS_KEY);
  registerSecret(process.env.AWS_SESSION_TOKEN);
  const ssoAdmin = new SSOAdminClient(clientConfig(config, config.endpoints.ssoAdmin));
  const identityStore = new IdentitystoreClient(
    clientConfig(config, config.endpoints.identityStore),
  );
  const permissionSets = new PermissionSetDirectory(ssoAdmin, config.instanceArn);
  const assignments = new AccountAssignments(ssoAdmin, config.instanceArn, config.provisioning);

  /** The grant's assignment; undefined when the Identity Store does not know the person. */
  async function assignmentOf(ctx: Context): Promise<UserAssignment | undefined> {
    const held = assignmentState.safeParse(ctx.state);
    if (held.success) return held.data;
    const { email, slackId } = ctx.user;
    if (!email) {
      throw new Error(
        `Slack gave no email for ${slackId}, and IAM Identity Center users are found by email (the app needs users:read.email)`,
      );
    }
    const userId = await findUserIdByEmail(
      identityStore,
      config.identityStoreId,
      email,
      ctx.signal,
    );
    if (!userId) return undefined;
    const { accountId, permissionSet } = ctx.resource.target;
    return {
      accountId,
      permissionSetArn: await permissionSets.arnOf(permissionSet, ctx.signal),
      userId,
    };
  }

  /** A permission set AWS no longer knows may have been replaced under the same name. */
  async function onAssignment<T>(assignment: UserAssignment, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (isAwsError(err, 'ResourceNotFoundException')) {
        permissionSets.forget(assignment.permissionSetArn);
      }
      throw err;
    }
  }

  return {
    guarantees: { enforcesExpiry: false, endsOpenSessions: false, isolation: 'shared' },
    sharedBy: 'target',
    grant: (ctx) =>
      run('grant', ctx, async () => {
        const assignment = await assignmentOf(ctx);
        if (!assignment) {
          throw new Error(
            `no user with the email ${ctx.user.email} in identity store ${config.identityStoreId} (add them to IAM Identity Center, or make their Slack email match)`,
          );
        }
        await onAssignment(assignment, () => assignments.ensurePresent(assignment, ctx.signal));
        if (ctx.state !== undefined) return { state: assignment };
        return { state: assignment, credentials: { text: accessText(ctx) } };
      }),
    revoke: (ctx) =>
      run('revoke', ctx, async () => {
        const assignment = await assignmentOf(ctx);
        // A person the Identity Store does not know holds no assignment.
        if (!assignment) return;
        await onAssignment(assignment, () => assignments.ensureAbsent(assignment, ctx.signal));
      }),
    check: (ctx) =>
      run('check', ctx, async () => {
        const assignment = await assignmentOf(ctx);
        if (!assignment) return false;
        return onAssignment(assignment, () => assignments.heldOrUnderway(assignment, ctx.signal));
      }),
    close: async () => {
      ssoAdmin.destroy();
      identityStore.destroy();
    },
  };
}

function clientConfig(config: AwsIdentityCenterConfig, endpoint: string | undefined) {
  return {
    region: config.region,
    customUserAgent: 'hallpass',
    ...(endpoint ? { endpoint } : {}),
  };
}

/** Every failure names the action; one cut short by its signal says so ("… timed out"). */
async function run<T>(action: Action, ctx: Context, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const message = (err as Error)?.message ?? String(err);
    if (ctx.signal.aborted) throw new Error(`aws-identity-center ${action}: ${message}`);
    throw new Error(`aws-identity-center ${action} failed: ${message}`);
  }
}

/** Slack mrkdwn for the DM: where the access shows up, and what removing it does not end. */
function accessText(ctx: Context): string {
  const { accountId, permissionSet } = ctx.resource.target;
  return [
    '*AWS access (IAM Identity Center)*',
    `• account: \`${accountId}\``,
    `• permission set: \`${permissionSet}\``,
    `• until: ${ctx.expiresAt.toISOString()}`,
    'Open your AWS access portal (or run `aws sso login`) and pick this account and role.',
    'Hallpass removes the assignment at that time; a role session you started before then lasts until its own session duration ends.',
  ].join('\n');
}
