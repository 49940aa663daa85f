import type { ProviderLookup, ResolvedProvider } from '../jobs/provider-call';
import type { Provider, ProviderCallContext } from '../providers/types';
import type { Instruments } from './instruments';

type Call = 'grant' | 'revoke' | 'check';

/** `provider` with each call timed and its failures counted under the instance's name. */
function measured(name: string, provider: Provider, m: Instruments): Provider {
  const time = async <T>(call: Call, run: () => Promise<T>): Promise<T> => {
    const stop = m.providerCallSeconds.startTimer({ provider: name, call });
    try {
      const result = await run();
      stop({ outcome: 'ok' });
      return result;
    } catch (err) {
      stop({ outcome: 'error' });
      m.providerFailures.inc({ provider: name, call });
      throw err;
    }
  };
  const check = provider.check?.bind(provider);
  return {
    get guarantees() {
      return provider.guarantees;
    },
    get sharedPer() {
      return provider.sharedPer;
    },
    get sharedBy() {
      return provider.sharedBy;
    },
    grant: (ctx: ProviderCallContext<unknown>) => time('grant', () => provider.grant(ctx)),
    revoke: (ctx: ProviderCallContext<unknown>) => time('revoke', () => provider.revoke(ctx)),
    ...(check
      ? { check: (ctx: ProviderCallContext<unknown>) => time('check', () => check(ctx)) }
      : {}),
    ...(provider.close ? { close: () => provider.close!() } : {}),
  };
}

/**
 * The providers as the sweeper and the reconciler see them, every call measured. The wrapped
 * providers are made once per instance, so a lookup per grant costs nothing.
 */
export function measuredProviders<L extends ProviderLookup>(lookup: L, m: Instruments): L {
  const wrapped = new WeakMap<Provider, Provider>();
  const wrap = (name: string, provider: Provider) => {
    let found = wrapped.get(provider);
    if (!found) wrapped.set(provider, (found = measured(name, provider, m)));
    return found;
  };
  return new Proxy(lookup, {
    get(target, property, receiver) {
      if (property !== 'get') return Reflect.get(target, property, receiver) as unknown;
      return (name: string): ResolvedProvider | undefined => {
        const found = target.get(name);
        return found && { ...found, provider: wrap(name, found.provider) };
      };
    },
  });
}
