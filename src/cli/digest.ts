import { digestText } from '../audit/digest-render';
import { parseCommand } from './args';
import { CliError, cliConfig, EXIT, withAudit, write, type CliIo } from './context';

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
  return withAudit(io, async (audit) => {
    const digest = await audit.digest(config, undefined, (checked) =>
      io.stderr.write(`verified ${checked.toLocaleString('en-US')} audit rows…\n`),
    );
    await write(io.stdout, digestText(digest));
    return EXIT.ok;
  });
}
