import { z } from 'zod';
import { serviceOrigin } from '../service-url';
import type { ProviderAdapter, ProviderCallContext } from '../types';
import { bindingFor, grantBindings, withGrantBinding, withoutGrantBindings } from './policy';
import { ResourceManager } from './resource-manager';
import { updatePolicy } from './update-policy';

const DEFAULT_ENDPOINT = 'https://cloudresourcemanager.googleapis.com';

const gcpIamConfig = z.strictObject({
  apiEndpoint: serviceOrigin(DEFAULT_ENDPOINT).default(DEFAULT_ENDPOINT),
  maxConflictRetries: z.number().int().min(0).max(10).default(5),
});

const BASIC_ROLES = new Set(['roles/owner', 'roles/editor', 'roles/viewer']);
const ROLE_ID = '[A-Za-z0-9_.]{1,64}';

const gcpIamTarget = z.strictObject({
  resource: z
    .string()
    .regex(
      /^(projects\/([a-z][a-z0-9-]{4,28}[a-z0-9]|\d+)|folders\/\d+|organizations\/\d+)$/,
      'must be projects/<project id or number>, folders/<number> or organizations/<number>',
    ),
  role: z
    .string()
    .regex(
      new RegExp(
        `^(roles/${ROLE_ID}|(projects/[a-z][a-z0-9-]{4,28}[a-z0-9]|organizations/\\d+)/roles/${ROLE_ID})$`,
      ),
      'must be a role like roles/bigquery.dataViewer or projects/<id>/roles/<custom role>',
    )
    .refine(
      (role) => !BASIC_ROLES.has(role),
      'IAM allows no conditions on the basic roles owner, editor and viewer: use a predefined or custom role',
    ),
});

export type GcpIamConfig = z.infer<typeof gcpIamConfig>;
export type GcpIamTarget = z.infer<typeof gcpIamTarget>;

export const gcpIamAdapter: ProviderAdapter<GcpIamConfig, GcpIamTarget> = {
  type: 'gcp-iam',
  configSchema: gcpIamConfig,
  targetSchema: gcpIamTarget,
  // Which project, folder or organisation is in each resource's target, recorded on the grant.
  placeOf: (config) => ({ apiEndpoint: config.apiEndpoint }),
  create(config) {
    const crm = new ResourceManager(config.apiEndpoint);
    const update = (
      ctx: ProviderCallContext<GcpIamTarget>,
      change: Parameters<typeof updatePolicy>[4],
    ) =>
      updatePolicy(
        crm,
        ctx.resource.target.resource,
        ctx.signal,
        config.maxConflictRetries,
        change,
      );

    return {
      // IAM is checked on every request, but a connection opened with the role (an SSH session
      // through OS Login, a database session) is not closed when the binding goes.
      guarantees: { enforcesExpiry: true, endsOpenSessions: false, isolation: 'per-grant' },
      async grant(ctx) {
        const binding = bindingFor({
          grantId: ctx.grantId,
          requestId: ctx.requestId,
          slackId: ctx.user.slackId,
          role: ctx.resource.target.role,
          email: emailOf(ctx),
          expiresAt: ctx.expiresAt,
        });
        await update(ctx, (policy) => withGrantBinding(policy, binding));
        return {};
      },
      async revoke(ctx) {
        await update(ctx, (policy) => withoutGrantBindings(policy, ctx.grantId));
      },
      async check(ctx) {
        const policy = await crm.getIamPolicy(ctx.resource.target.resource, ctx.signal);
        return grantBindings(policy, ctx.grantId).length > 0;
      },
    };
  },
};

function emailOf(ctx: ProviderCallContext<GcpIamTarget>): string {
  const email = ctx.user.email;
  if (!email) {
    throw new Error(
      `gcp-iam cannot grant ${ctx.resource.target.role} to Slack user ${ctx.user.slackId}: Slack gave no email for them, and IAM binds user:<email> (the Slack app needs the users:read.email scope, and the person a Google account with their Slack email)`,
    );
  }
  return email;
}
