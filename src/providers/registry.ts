import { z } from 'zod';
import { parseDuration } from '../config/duration';
import { ConfigError, formatIssues } from '../config/load';
import type { Config, ProviderInstanceConfig } from '../config/schema';
import type { ProviderPlace, ProviderPlaces } from '../core';
import { awsIdentityCenterAdapter } from './aws-identity-center/adapter';
import { commandAdapter } from './command';
import { gcpIamAdapter } from './gcp-iam/adapter';
import { guaranteesSchema } from './guarantees';
import { kubernetesAdapter } from './kubernetes/adapter';
import { ldapGroupAdapter } from './ldap-group/adapter';
import { loadAdapterModule } from './module-loader';
import { oktaGroupAdapter } from './okta-group/adapter';
import { digestPlace, placeParts, type PlaceParts } from './place';
import { postgresAdapter } from './postgres/adapter';
import {
  closeProviders,
  ProviderSet,
  type LoadedProvider,
  type ResourceTarget,
} from './provider-set';
import { slackChannelAdapter } from './slack-channel';
import type { Provider, ProviderAdapter, ProviderDeps } from './types';
import { webhookAdapter } from './webhook';

const BUILT_IN: Record<string, ProviderAdapter> = {
  webhook: webhookAdapter,
  command: commandAdapter,
  postgres: postgresAdapter,
  'slack-channel': slackChannelAdapter,
  'aws-identity-center': awsIdentityCenterAdapter,
  'gcp-iam': gcpIamAdapter,
  'okta-group': oktaGroupAdapter,
  kubernetes: kubernetesAdapter,
  'ldap-group': ldapGroupAdapter,
};

const DEFAULT_TIMEOUT_MS = 10_000;

/** Keys every provider instance takes besides its type's own: `timeout`. */
const commonKeys = z.object({
  timeout: z
    .string()
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === null) {
        ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (use 5s, 30s, 2m)` });
        return z.NEVER;
      }
      return ms;
    })
    .optional(),
});

/**
 * An instance whose type is known; `settings` only when they passed its configSchema, with what
 * its `placeOf` named of them.
 */
interface ResolvedProvider {
  name: string;
  type: string;
  adapter: ProviderAdapter;
  timeoutMs: number;
  settings?: { value: unknown; place: PlaceParts };
}

interface Resolution {
  problems: string[];
  providers: (ResolvedProvider & Required<Pick<ResolvedProvider, 'settings'>>)[];
  targets: Map<string, ResourceTarget>;
}

/**
 * Every problem of the `providers` section and of each resource's `target`, one line each, as
 * `hallpass policy check` shows them. Loads module adapters but creates no provider.
 */
export async function checkProviders(config: Config, configDir: string): Promise<string[]> {
  return (await resolveProviders(config, configDir)).problems;
}

/**
 * Where each configured provider instance acts, by name, read from its settings without creating
 * it: the CLI's view. Unknown (undefined) for an instance whose settings do not pass their checks
 * (`checkProviders` says why) or whose adapter cannot tell here.
 */
export async function providerPlaces(config: Config, configDir: string): Promise<ProviderPlaces> {
  const { providers } = await resolveProviders(config, configDir);
  const places = new Map<string, ProviderPlace | undefined>(
    Object.keys(config.providers).map((name) => [name, undefined]),
  );
  for (const { name, type, settings } of providers) {
    if (settings.place) places.set(name, digestPlace(type, settings.place));
  }
  return places;
}

/** Creates every configured provider; throws a ConfigError with every problem found. */
export async function loadProviders(config: Config, deps: ProviderDeps): Promise<ProviderSet> {
  const { problems, providers, targets } = await resolveProviders(config, deps.configDir);
  if (problems.length > 0) throw new ConfigError(problems);
  const loaded = new Map<string, LoadedProvider>();
  for (const { name, type, adapter, timeoutMs, settings } of providers) {
    try {
      const provider = adapter.create(settings.value, deps);
      const guarantees = guaranteesOf(provider);
      const place = settings.place && digestPlace(type, settings.place);
      loaded.set(name, { name, type, provider, timeoutMs, guarantees, place });
    } catch (err) {
      problems.push(`providers.${name}: ${(err as Error).message ?? String(err)}`);
    }
  }
  if (problems.length > 0) {
    await closeProviders([...loaded.values()]).catch(() => undefined);
    throw new ConfigError(problems);
  }
  return new ProviderSet(loaded, targets);
}

async function resolveProviders(config: Config, configDir: string): Promise<Resolution> {
  const problems: string[] = [];
  const byName = new Map<string, ResolvedProvider>();
  for (const [name, instance] of Object.entries(config.providers)) {
    const resolved = await resolveProvider(name, instance, configDir, problems);
    if (resolved) byName.set(name, resolved);
  }
  const providers = [...byName.values()].flatMap(({ settings, ...rest }) =>
    settings ? [{ ...rest, settings }] : [],
  );
  const targets = new Map<string, ResourceTarget>();
  config.resources.forEach((resource, i) => {
    const provider = byName.get(resource.provider);
    if (!provider) return;
    const parsed = provider.adapter.targetSchema.safeParse(resource.target);
    if (parsed.success) targets.set(resource.id, { provider: provider.name, target: parsed.data });
    else problems.push(...formatIssues(issuesOf(parsed.error), ['resources', i, 'target']));
  });
  return { problems, providers, targets };
}

async function resolveProvider(
  name: string,
  instance: ProviderInstanceConfig,
  configDir: string,
  problems: string[],
): Promise<ResolvedProvider | undefined> {
  const at: PropertyKey[] = ['providers', name];
  const { type, timeout, ...rest } = instance;
  const common = commonKeys.safeParse({ timeout });
  if (!common.success) problems.push(...formatIssues(common.error.issues, at));

  let adapter: ProviderAdapter | undefined = BUILT_IN[type];
  let own: Record<string, unknown> = rest;
  if (type === 'module') {
    const { module: spec, ...moduleSettings } = rest;
    own = moduleSettings;
    if (typeof spec !== 'string' || spec === '') {
      problems.push(
        `providers.${name}.module: required (a path like ./adapters/mine.js, or a package name)`,
      );
      return undefined;
    }
    try {
      adapter = await loadAdapterModule(spec, configDir);
    } catch (err) {
      problems.push(`providers.${name}.module: ${(err as Error).message}`);
      return undefined;
    }
  }
  if (!adapter) {
    const known = [...Object.keys(BUILT_IN), 'module'].join(', ');
    problems.push(`providers.${name}.type: unknown provider type "${type}" (known: ${known})`);
    return undefined;
  }

  const parsed = adapter.configSchema.safeParse(own);
  if (!parsed.success) problems.push(...formatIssues(issuesOf(parsed.error), at));
  const resolved = { name, type, adapter, timeoutMs: common.data?.timeout ?? DEFAULT_TIMEOUT_MS };
  if (!parsed.success) return resolved;
  try {
    return {
      ...resolved,
      settings: { value: parsed.data, place: placeParts(adapter, parsed.data, configDir) },
    };
  } catch (err) {
    problems.push(`providers.${name}: ${(err as Error).message ?? String(err)}`);
    return resolved;
  }
}

/** A module adapter may bring its own zod; its issues have the same shape. */
function issuesOf(error: unknown): z.core.$ZodIssue[] {
  return (error as { issues?: z.core.$ZodIssue[] } | undefined)?.issues ?? [];
}

/** A module's create() is outside our type checks, so what it made is checked here. */
function guaranteesOf(provider: Provider): Provider['guarantees'] {
  if (typeof provider?.grant !== 'function' || typeof provider.revoke !== 'function') {
    throw new Error('create() did not return a provider with grant and revoke functions');
  }
  const guarantees = guaranteesSchema.safeParse(provider.guarantees);
  if (!guarantees.success) {
    throw new Error(
      `the provider's guarantees are invalid: ${formatIssues(guarantees.error.issues, ['guarantees']).join('; ')}`,
    );
  }
  return guarantees.data;
}
