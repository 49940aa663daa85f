import type { ProviderPlace, ProviderPlaces } from '../core';
import type { Provider, ProviderGuarantees } from './types';

/** One configured provider, ready for the sweeper. */
export interface LoadedProvider {
  readonly name: string;
  /** `webhook`, `command`, `postgres`, `slack-channel`, `ldap-group`, or `module`. */
  readonly type: string;
  readonly provider: Provider;
  /** Abort a call after this long (the instance's `timeout`, default 10s): pass it as ctx.signal. */
  readonly timeoutMs: number;
  readonly guarantees: ProviderGuarantees;
  /**
   * Where it acts (`placeOf`): a grant made elsewhere is not acted on through it. Undefined when
   * its adapter could not tell: nothing is compared.
   */
  readonly place: ProviderPlace | undefined;
}

/** A resource's provider with the resource's target, as that provider's targetSchema parsed it. */
export interface ResourceProvider extends LoadedProvider {
  readonly target: unknown;
}

export interface ResourceTarget {
  provider: string;
  target: unknown;
}

/** Every provider instance of a configuration, by name and by resource. */
export class ProviderSet {
  constructor(
    private readonly byName: ReadonlyMap<string, LoadedProvider>,
    private readonly targets: ReadonlyMap<string, ResourceTarget>,
  ) {}

  get names(): string[] {
    return [...this.byName.keys()];
  }

  get(name: string): LoadedProvider | undefined {
    return this.byName.get(name);
  }

  /** Where each instance acts, by name, for the core to record on grants and compare. */
  get places(): ProviderPlaces {
    return new Map([...this.byName].map(([name, loaded]) => [name, loaded.place]));
  }

  /** Undefined for a resource the configuration does not (or no longer) define. */
  forResource(resourceId: string): ResourceProvider | undefined {
    const bound = this.targets.get(resourceId);
    const loaded = bound && this.byName.get(bound.provider);
    return loaded && { ...loaded, target: bound.target };
  }

  /** What the resource's provider promises, for the messages people read. */
  guaranteesFor(resourceId: string): ProviderGuarantees | undefined {
    return this.forResource(resourceId)?.guarantees;
  }

  /** Closes every provider, even when some fail; then reports the failures together. */
  async closeAll(): Promise<void> {
    await closeProviders([...this.byName.values()]);
  }
}

export async function closeProviders(loaded: readonly LoadedProvider[]): Promise<void> {
  const results = await Promise.allSettled(loaded.map((l) => l.provider.close?.()));
  const failures = results.flatMap((r, i) =>
    r.status === 'rejected'
      ? [`${loaded[i]?.name}: ${(r.reason as Error)?.message ?? String(r.reason)}`]
      : [],
  );
  if (failures.length > 0) throw new Error(`closing providers failed: ${failures.join('; ')}`);
}
