import { dirname, resolve } from 'node:path';
import { ConfigError, loadConfigText } from '../config/load';
import { checkProviders } from '../providers/registry';
import { parseCommand } from './args';
import { EXIT, paths, write, type CliIo } from './context';

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
  try {
    ({ config, unset } = loadConfigText(file, io.env, { allowUnset: true }));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    await write(io.stderr, err.unset.map(unsetWarning).join(''));
    await write(io.stdout, err.problems.map((p) => `${p}\n`).join(''));
    return EXIT.failed;
  }
  // Secrets usually live only where the bot runs; their absence here is worth saying, not failing.
  await write(io.stderr, unset.map(unsetWarning).join(''));
  const problems = await checkProviders(config, dirname(file));
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

function unsetWarning(name: string): string {
  return `warning: environment variable ${name} is not set here; the bot will not start without it\n`;
}
