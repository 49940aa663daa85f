import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { registerSecret } from '../../log';
import type { KubernetesConfig } from './config';
import type { Sdk } from './sdk';

/** Where a pod's service account is mounted (the SDK reads it from there). */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * The API server and credentials Hallpass uses, checked now so a bad setting stops the bot at
 * start with what to fix rather than failing every grant later.
 */
export function loadKubeConfig(sdk: Sdk, config: KubernetesConfig, configDir: string): KubeConfig {
  const kubeConfig = new sdk.KubeConfig();
  if (config.kubeconfig === undefined) loadInCluster(kubeConfig);
  else loadFile(kubeConfig, config.kubeconfig, configDir, config.context);

  const contextName = kubeConfig.getCurrentContext();
  const context = kubeConfig.getContextObject(contextName);
  const cluster = context && kubeConfig.getCluster(context.cluster);
  if (!cluster) {
    throw new Error(
      `kubeconfig context "${contextName}" names cluster "${context?.cluster}", which the kubeconfig does not define`,
    );
  }
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    throw new Error(
      `cluster "${cluster.name}" is plain http (${cluster.server}); the Kubernetes SDK talks to an API server over https only`,
    );
  }
  const user = kubeConfig.getCurrentUser();
  for (const secret of [user?.token, user?.password, user?.keyData]) registerSecret(secret);
  return kubeConfig;
}

function loadInCluster(kubeConfig: KubeConfig): void {
  const { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: port } = process.env;
  if (!host || !port) {
    throw new Error(
      'inCluster: true, but KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: Hallpass is not running in a pod (use kubeconfig instead)',
    );
  }
  try {
    accessSync(SERVICE_ACCOUNT_TOKEN, constants.R_OK);
  } catch {
    throw new Error(
      `inCluster: true, but there is no service account token at ${SERVICE_ACCOUNT_TOKEN} (is automountServiceAccountToken false for the pod?)`,
    );
  }
  kubeConfig.loadFromCluster();
}

function loadFile(
  kubeConfig: KubeConfig,
  file: string,
  configDir: string,
  context: string | undefined,
): void {
  const path = resolve(configDir, file);
  try {
    kubeConfig.loadFromFile(path);
  } catch (err) {
    throw new Error(`kubeconfig ${file}: ${loadProblem(err)} (looked at ${path})`);
  }
  const names = kubeConfig.getContexts().map((c) => c.name);
  const known =
    names.length > 0 ? `it has ${names.map((n) => `"${n}"`).join(', ')}` : 'it has none';
  if (context !== undefined) {
    if (!kubeConfig.getContextObject(context)) {
      throw new Error(`kubeconfig ${file} has no context "${context}" (${known})`);
    }
    kubeConfig.setCurrentContext(context);
  } else if (!kubeConfig.getContextObject(kubeConfig.getCurrentContext())) {
    throw new Error(`kubeconfig ${file} has no current-context to use: set context (${known})`);
  }
}

/**
 * Why a kubeconfig could not be read, without quoting it: a YAML error shows the lines around
 * the problem, and a kubeconfig's lines can hold a token.
 */
function loadProblem(err: unknown): string {
  const { code, name, mark } = err as { code?: unknown; name?: unknown; mark?: { line?: number } };
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'not readable by Hallpass';
  if (code === 'EISDIR') return 'is a folder, not a file';
  if (name === 'YAMLException') {
    return `not valid YAML${typeof mark?.line === 'number' ? ` (line ${mark.line + 1})` : ''}`;
  }
  if (typeof code === 'string') return code;
  // The SDK's own checks name an entry (`clusters[0].cluster.server is missing`), not its value.
  const { message } = err as { message?: unknown };
  if (
    typeof message === 'string' &&
    /^(clusters|users|contexts)\[\d+\]\S* is missing$/.test(message)
  ) {
    return message;
  }
  return 'not a kubeconfig (clusters, users and contexts)';
}
