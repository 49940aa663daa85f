import { z } from 'zod';

/** Where a grant's binding lives: what `grant` returns as state, so later calls find it there. */
export const bindingPlace = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('RoleBinding'), namespace: z.string(), name: z.string() }),
  z.strictObject({ kind: z.literal('ClusterRoleBinding'), name: z.string() }),
]);

export type BindingPlace = z.infer<typeof bindingPlace>;

/** `RoleBinding team-a/hallpass-gr-7k2m9x4q1p`, `ClusterRoleBinding hallpass-gr-7k2m9x4q1p`. */
export function describePlace(place: BindingPlace): string {
  return place.kind === 'RoleBinding'
    ? `RoleBinding ${place.namespace}/${place.name}`
    : `ClusterRoleBinding ${place.name}`;
}

/** The REST resource, as RBAC rules and the API server's messages name it. */
export function resourceOf(place: BindingPlace): string {
  return place.kind === 'RoleBinding' ? 'rolebindings' : 'clusterrolebindings';
}
