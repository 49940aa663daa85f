import type { ProviderAdapter } from '../types';
import { bindingSpec, ensureBinding, placeFor } from './binding';
import {
  kubernetesConfig,
  kubernetesTarget,
  renderUserName,
  type KubernetesConfig,
  type KubernetesTarget,
} from './config';
import { loadKubeConfig } from './kubeconfig';
import { kubernetesPlace } from './cluster-place';
import { RbacBindings } from './rbac-client';
import { kubernetesSdk } from './sdk';

export type { KubernetesConfig, KubernetesTarget } from './config';

export const kubernetesAdapter: ProviderAdapter<KubernetesConfig, KubernetesTarget> = {
  type: 'kubernetes',
  configSchema: kubernetesConfig,
  targetSchema: kubernetesTarget,
  placeOf: (config, deps) => kubernetesPlace(config, deps.configDir),
  create(config, deps) {
    const sdk = kubernetesSdk();
    const kubeConfig = loadKubeConfig(sdk, config, deps.configDir);
    const bindings = new RbacBindings(sdk, kubeConfig.makeApiClient(sdk.RbacAuthorizationV1Api));
    return {
      // RBAC is checked on every API request, so new requests fail at once after a revoke; a
      // stream opened before it (exec, attach, port-forward, watch) stays open.
      guarantees: { enforcesExpiry: false, endsOpenSessions: false, isolation: 'per-grant' },
      async grant(ctx) {
        const spec = bindingSpec(ctx, renderUserName(config.userTemplate, ctx.user));
        await ensureBinding(bindings, spec, ctx.signal);
        return { state: spec.place };
      },
      async revoke(ctx) {
        await bindings.remove(placeFor(ctx), ctx.signal);
      },
      async check(ctx) {
        return (await bindings.read(placeFor(ctx), ctx.signal)) !== undefined;
      },
    };
  },
};
