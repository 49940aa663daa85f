import { dirname } from 'node:path';
import { canonicalJson } from '../chain/canonical-json';
import { ConfigError, loadConfigText } from '../config/load';
import type { Config } from '../config/schema';
import type { ProviderPlaces } from '../core';
import { providerPlaces } from '../providers/registry';

/**
 * Where each provider instance of `file` points, as the bot will read it: unknown for one whose
 * place comes from a variable unset here (loaded as its `${NAME}` text). That is told by reading
 * the file again with every unset variable set to something else: a place that does not change
 * does not depend on them (a secret unset on an admin's machine hides nothing).
 */
export async function cliPlaces(
  file: string,
  env: NodeJS.ProcessEnv,
  loaded: { config: Config; unset: readonly string[] },
): Promise<ProviderPlaces> {
  const dir = dirname(file);
  const places = await providerPlaces(loaded.config, dir);
  if (loaded.unset.length === 0) return places;
  const probe = { ...env };
  for (const name of loaded.unset) probe[name] = `hallpass-unset-${name}`;
  let probed: ProviderPlaces;
  try {
    probed = await providerPlaces(loadConfigText(file, probe, { allowUnset: true }).config, dir);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return new Map([...places.keys()].map((name) => [name, undefined]));
  }
  return new Map(
    [...places].map(([name, place]) => {
      const same = place && canonicalJson(place) === canonicalJson(probed.get(name));
      return [name, same ? place : undefined];
    }),
  );
}
