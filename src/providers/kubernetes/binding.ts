import type { V1RoleRef } from '@kubernetes/client-node';
import type { ProviderCallContext } from '../types';
import { isStatus } from './errors';
import {
  bindingName,
  EXPIRES_AT_ANNOTATION,
  GRANT_ID_LABEL,
  grantIdLabel,
  MANAGED_BY_LABEL,
  REQUEST_ID_ANNOTATION,
  RESOURCE_ANNOTATION,
  SLACK_USER_ANNOTATION,
} from './names';
import { bindingPlace, describePlace, type BindingPlace } from './place';
import type { Binding, RbacBindings } from './rbac-client';
import type { KubernetesTarget } from './config';

const RBAC_GROUP = 'rbac.authorization.k8s.io';
/** Create, or read and replace, races at most this often with another writer before giving up. */
const MAX_ATTEMPTS = 3;

/** What a grant's binding must be: where, what it binds, and Hallpass's labels on it. */
export interface BindingSpec {
  grantId: string;
  place: BindingPlace;
  body: Binding;
}

/**
 * Where the grant's binding is: where `grant` said it put it (its state) if it did, else where
 * the resource's target puts it. Following the state keeps revoke and extension on the binding
 * that exists, even after someone edited the resource's namespace in hallpass.yml.
 */
export function placeFor(ctx: ProviderCallContext<KubernetesTarget>): BindingPlace {
  const name = bindingName(ctx.grantId);
  const kept = bindingPlace.safeParse(ctx.state);
  if (kept.success && kept.data.name === name) return kept.data;
  const { namespace } = ctx.resource.target;
  return namespace === undefined
    ? { kind: 'ClusterRoleBinding', name }
    : { kind: 'RoleBinding', namespace, name };
}

export function bindingSpec(
  ctx: ProviderCallContext<KubernetesTarget>,
  userName: string,
): BindingSpec {
  const place = placeFor(ctx);
  return {
    grantId: ctx.grantId,
    place,
    body: {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: place.kind,
      metadata: {
        name: place.name,
        ...(place.kind === 'RoleBinding' ? { namespace: place.namespace } : {}),
        labels: { [GRANT_ID_LABEL]: grantIdLabel(ctx.grantId), [MANAGED_BY_LABEL]: 'hallpass' },
        annotations: {
          [REQUEST_ID_ANNOTATION]: ctx.requestId,
          [SLACK_USER_ANNOTATION]: ctx.user.slackId,
          [RESOURCE_ANNOTATION]: ctx.resource.id,
          [EXPIRES_AT_ANNOTATION]: ctx.expiresAt.toISOString(),
        },
      },
      roleRef: roleRefOf(ctx.resource.target),
      subjects: [{ kind: 'User', apiGroup: RBAC_GROUP, name: userName }],
    },
  };
}

function roleRefOf({ role, clusterRole }: KubernetesTarget): V1RoleRef {
  if (role !== undefined) return { apiGroup: RBAC_GROUP, kind: 'Role', name: role };
  if (clusterRole !== undefined) {
    return { apiGroup: RBAC_GROUP, kind: 'ClusterRole', name: clusterRole };
  }
  throw new Error('kubernetes target names neither role nor clusterRole');
}

/**
 * Creates the grant's binding, or brings the one an earlier attempt made up to date (its
 * expiry annotation after an extension). A binding of that name that binds someone or something
 * else is refused, never repointed: that would silently change who has which access.
 */
export async function ensureBinding(
  bindings: RbacBindings,
  spec: BindingSpec,
  signal: AbortSignal,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const last = attempt >= MAX_ATTEMPTS;
    try {
      await bindings.create(spec.place, spec.body, signal);
      return;
    } catch (err) {
      if (!isStatus(err, 409, 'AlreadyExists')) throw err;
    }
    const existing = await bindings.read(spec.place, signal);
    if (!existing) {
      // Deleted between our create and read (a revoke racing a slow retry): create it again.
      if (last)
        throw new Error(`kubernetes ${describePlace(spec.place)} keeps changing; try again`);
      continue;
    }
    refuseForeign(existing, spec);
    if (upToDate(existing, spec)) return;
    try {
      await bindings.replace(spec.place, withOurMetadata(existing, spec), signal);
      return;
    } catch (err) {
      // 409 Conflict: changed since we read it; read it again.
      if (!isStatus(err, 409, 'Conflict') || last) throw err;
    }
  }
}

function refuseForeign(existing: Binding, spec: BindingSpec): void {
  const where = `kubernetes ${describePlace(spec.place)}`;
  const label = existing.metadata?.labels?.[GRANT_ID_LABEL];
  const ours = spec.body.metadata?.labels?.[GRANT_ID_LABEL];
  if (label !== ours) {
    throw new Error(
      `${where} exists but is not Hallpass's binding for grant ${spec.grantId} (its ${GRANT_ID_LABEL} label is ${label === undefined ? 'missing' : `"${label}"`}); Hallpass leaves it alone: delete or rename it`,
    );
  }
  const has = describeAccess(existing);
  const wants = describeAccess(spec.body);
  if (has !== wants) {
    throw new Error(
      `${where} already binds ${has}, not ${wants}; Hallpass does not repoint a binding (the resource's target or userTemplate changed since the grant: revoke it and request again)`,
    );
  }
}

/** `User "ada@example.com" to ClusterRole "view"`: who gets which role, the access a binding gives. */
function describeAccess(binding: Binding): string {
  const subjects = (binding.subjects ?? [])
    .map((s) => `${s.kind} "${s.name}"${s.namespace ? ` (${s.namespace})` : ''}`)
    .join(', ');
  return `${subjects || 'nobody'} to ${binding.roleRef.kind} "${binding.roleRef.name}"`;
}

function upToDate(existing: Binding, spec: BindingSpec): boolean {
  const has = existing.metadata ?? {};
  const wants = spec.body.metadata ?? {};
  return (
    Object.entries(wants.labels ?? {}).every(([key, value]) => has.labels?.[key] === value) &&
    Object.entries(wants.annotations ?? {}).every(
      ([key, value]) => has.annotations?.[key] === value,
    )
  );
}

/** The binding as read (its resourceVersion included), with Hallpass's labels and annotations set. */
function withOurMetadata(existing: Binding, spec: BindingSpec): Binding {
  const metadata = existing.metadata ?? {};
  return {
    ...existing,
    metadata: {
      ...metadata,
      labels: { ...metadata.labels, ...spec.body.metadata?.labels },
      annotations: { ...metadata.annotations, ...spec.body.metadata?.annotations },
    },
  };
}
