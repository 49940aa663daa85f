import { buildDigest } from '../audit/digest';
import { digestText } from '../audit/digest-render';
import { weekEndingAt } from '../audit/period';
import { parseCommand } from './args';
import { CliError, cliConfig, EXIT, withDb, write, type CliIo } from './context';

/** `hallpass digest --print`: the digest of the 7 days ending now, for a terminal. */
export async function digestPrint(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(
    'digest',
    args,
    { print: { type: 'boolean' } },
    { min: 0, max: 0, names: '' },
  );
  if (!values.print) {
    throw new CliError('digest: say --print (the bot posts the weekly digest itself)', EXIT.usage);
  }
  const { config } = cliConfig(io);
  const now = io.clock.now();
  return withDb(io, async (db) => {
    const digest = buildDigest(db, config, weekEndingAt(now, config.timezone), now, (checked) =>
      io.stderr.write(`verified ${checked.toLocaleString('en-US')} audit rows…\n`),
    );
    await write(io.stdout, digestText(digest));
    return EXIT.ok;
  });
}
