import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Config } from '../config/schema';
import { Core, type LiveGrantProblems, type ProviderPlaces } from '../core';
import { StaticDirectory } from '../core/directory';
import { ConfigError, loadConfigText, withoutUnset } from '../config/load';
import { checkProviders } from '../providers/registry';
import { parseCommand } from './args';
import { cliPlaces } from './places';
import { EXIT, paths, withStore, write, type CliIo } from './context';

/** `hallpass policy check [file]`: the start-up checks, without starting anything. */
export async function policyCheck(args: string[], io: CliIo): Promise<number> {
  const { positionals } = parseCommand(
    'policy check',
    args,
    {},
    {
      min: 0,
      max: 1,
      names: 'file',
    },
  );
  const file = resolve(positionals[0] ?? paths(io).config);
  let config;
  let unset: string[];
  let unsetAt: string[];
  try {
    ({ config, unset, unsetAt } = loadConfigText(file, io.env, { allowUnset: true }));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    await write(io.stderr, err.unset.map(unsetWarning).join(''));
    await write(io.stdout, err.problems.map((p) => `${p}\n`).join(''));
    return EXIT.failed;
  }
  // Secrets usually live only where the bot runs; their absence here is worth saying, not failing.
  await write(io.stderr, unset.map(unsetWarning).join(''));
  // A provider setting taken from an unset variable is checked as `${NAME}`: only warned about.
  const problems = withoutUnset(await checkProviders(config, dirname(file)), unsetAt);
  const live = await liveGrantProblems(
    io,
    config,
    await cliPlaces(file, io.env, { config, unset }),
  );
  problems.push(...live.unrevocable);
  await write(io.stderr, live.orphaned.map((line) => `warning: ${line}\n`).join(''));
  if (problems.length > 0) {
    await write(io.stdout, problems.map((p) => `${p}\n`).join(''));
    return EXIT.failed;
  }
  // A fixed shape (always plural) so scripts can match it.
  const resources = config.resources.length;
  const providers = Object.keys(config.providers).length;
  await write(io.stdout, `ok: ${resources} resources, ${providers} providers\n`);
  return EXIT.ok;
}

/**
 * With a database at hand (HALLPASS_DB or HALLPASS_DATABASE_URL), what the configuration would
 * leave behind for live grants, its providers pointing at `places`; nothing to say without one.
 */
async function liveGrantProblems(
  io: CliIo,
  config: Config,
  places: ProviderPlaces,
): Promise<LiveGrantProblems> {
  const where = paths(io);
  if (!where.databaseUrl && !existsSync(where.db)) return { unrevocable: [], orphaned: [] };
  return withStore(io, (store) =>
    new Core({ store, clock: io.clock, config, directory: new StaticDirectory() }).checkLiveGrants(
      places,
    ),
  );
}

function unsetWarning(name: string): string {
  return `warning: environment variable ${name} is not set here; the bot will not start without it\n`;
}
