import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import type { KubernetesConfig } from './config';

interface Named<T> {
  name?: unknown;
  context?: T;
  cluster?: T;
}

/**
 * Which cluster the instance binds roles in: the API server its kubeconfig context names, read
 * from the file (a file at the same path may name another cluster tomorrow), not the path or
 * the credentials. The pod's own cluster in-cluster. Undefined when the file cannot be read
 * here (the CLI on another machine): creating the provider says what is wrong with it.
 */
export function kubernetesPlace(
  config: KubernetesConfig,
  configDir: string,
): Record<string, unknown> | undefined {
  if (config.kubeconfig === undefined) return { cluster: 'in-cluster' };
  try {
    const file = parse(readFileSync(resolve(configDir, config.kubeconfig), 'utf8')) as {
      'current-context'?: unknown;
      contexts?: Named<{ cluster?: unknown }>[];
      clusters?: Named<{ server?: unknown }>[];
    };
    const contextName = config.context ?? file['current-context'];
    const context = file.contexts?.find((c) => c.name === contextName)?.context;
    const server = file.clusters?.find((c) => c.name === context?.cluster)?.cluster?.server;
    return typeof server === 'string' ? { cluster: server } : undefined;
  } catch {
    return undefined;
  }
}
