import { isAbsolute, resolve } from 'node:path';
import type { ProviderAdapter } from './types';

/**
 * Loads a third-party adapter: a path (relative to the config file's folder) or a package name
 * (resolved from that folder too). Its default export (`module.exports` of a CommonJS module)
 * or its `adapter` export must be a ProviderAdapter. Throws an Error whose message is the config problem to show.
 */
export async function loadAdapterModule(spec: string, configDir: string): Promise<ProviderAdapter> {
  const isPath = spec.startsWith('.') || isAbsolute(spec);
  let path: string;
  try {
    path = require.resolve(isPath ? resolve(configDir, spec) : spec, { paths: [configDir] });
  } catch {
    const where = isPath ? resolve(configDir, spec) : `node_modules from ${configDir}`;
    throw new Error(`cannot find module "${spec}" (looked in ${where})`);
  }
  let loaded: unknown;
  try {
    loaded = await import(path);
  } catch (err) {
    const first = String((err as Error).message ?? err).split('\n')[0];
    throw new Error(`cannot load module "${spec}": ${first}`);
  }
  const exports = (loaded ?? {}) as Record<string, unknown>;
  const adapter = [exports.default, exports.adapter].find(isAdapter);
  if (!adapter) {
    throw new Error(
      `module "${spec}" does not export a provider adapter (a default or \`adapter\` export with type, configSchema, targetSchema and create)`,
    );
  }
  return adapter;
}

function hasSafeParse(value: unknown): boolean {
  return typeof (value as { safeParse?: unknown } | undefined)?.safeParse === 'function';
}

function isAdapter(value: unknown): value is ProviderAdapter {
  if (!value || typeof value !== 'object') return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.type === 'string' &&
    hasSafeParse(candidate.configSchema) &&
    hasSafeParse(candidate.targetSchema) &&
    typeof candidate.create === 'function'
  );
}
