import { z } from 'zod';

const PLACEHOLDERS = ['email', 'localPart', 'slackId'] as const;
type Placeholder = (typeof PLACEHOLDERS)[number];
const PLACEHOLDER = /\{([^{}]*)\}/g;
const KNOWN = PLACEHOLDERS.map((name) => `{${name}}`).join(', ');

const userTemplate = z
  .string()
  .min(1, 'must not be empty')
  .superRefine((template, ctx) => {
    const used = [...template.matchAll(PLACEHOLDER)].map((match) => match[1] ?? '');
    const unknown = used.filter((name) => !(PLACEHOLDERS as readonly string[]).includes(name));
    for (const name of new Set(unknown)) {
      ctx.addIssue({ code: 'custom', message: `unknown placeholder {${name}} (use ${KNOWN})` });
    }
    if (unknown.length === 0 && used.length === 0) {
      ctx.addIssue({
        code: 'custom',
        message: `must contain ${KNOWN}: without one every grant would bind the same user`,
      });
    }
  });

export const kubernetesConfig = z
  .strictObject({
    kubeconfig: z.string().min(1, 'must be a path').optional(),
    context: z.string().min(1, 'must name a context of the kubeconfig').optional(),
    inCluster: z.boolean().optional(),
    userTemplate: userTemplate.default('{email}'),
  })
  .superRefine((config, ctx) => {
    const inCluster = config.inCluster === true;
    if (config.kubeconfig !== undefined && inCluster) {
      ctx.addIssue({
        code: 'custom',
        path: ['inCluster'],
        message: 'cannot be combined with kubeconfig: use one or the other',
      });
    } else if (config.kubeconfig === undefined && !inCluster) {
      ctx.addIssue({
        code: 'custom',
        message:
          'set kubeconfig (a kubeconfig file, relative to hallpass.yml) or inCluster: true (the pod’s service account)',
      });
    }
    if (config.context !== undefined && config.kubeconfig === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['context'],
        message: 'only applies with kubeconfig (in the cluster the pod’s service account is used)',
      });
    }
  });

/** A namespace name: a DNS-1123 label. */
const namespace = z
  .string()
  .max(63, 'must be at most 63 characters')
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a namespace name like team-a');

/** Role names only need to be valid path segments: `system:aggregate-to-view` is one. */
const roleName = z
  .string()
  .min(1, 'must not be empty')
  .max(253, 'must be at most 253 characters')
  .refine(
    (name) => name !== '.' && name !== '..' && !/[/%]/.test(name),
    'must be a role name like view (no "/" or "%")',
  );

export const kubernetesTarget = z
  .strictObject({
    namespace: namespace.optional(),
    role: roleName.optional(),
    clusterRole: roleName.optional(),
  })
  .superRefine((target, ctx) => {
    if (target.role !== undefined && target.clusterRole !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['clusterRole'],
        message: 'cannot be combined with role: a binding refers to one role',
      });
    } else if (target.role === undefined && target.clusterRole === undefined) {
      ctx.addIssue({
        code: 'custom',
        message:
          'set role (a Role of the namespace) or clusterRole (a ClusterRole, bound in namespace if set, else cluster-wide)',
      });
    } else if (target.role !== undefined && target.namespace === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['namespace'],
        message:
          'is required with role: a Role lives in a namespace (use clusterRole for a cluster-wide grant)',
      });
    }
  });

export type KubernetesConfig = z.infer<typeof kubernetesConfig>;
export type KubernetesTarget = z.infer<typeof kubernetesTarget>;

/**
 * The Kubernetes user name for a Slack user: the template with its placeholders filled in.
 * Throws when the template needs an email that Slack did not give.
 */
export function renderUserName(
  template: string,
  user: { slackId: string; email?: string },
): string {
  return template.replace(PLACEHOLDER, (_, name: Placeholder) => {
    if (name === 'slackId') return user.slackId;
    if (!user.email) {
      throw new Error(
        `userTemplate "${template}" needs the user’s email, and Slack gave none for ${user.slackId} (the app needs the users:read.email scope)`,
      );
    }
    if (name === 'email') return user.email;
    const at = user.email.lastIndexOf('@');
    return at < 0 ? user.email : user.email.slice(0, at);
  });
}
