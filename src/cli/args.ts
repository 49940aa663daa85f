import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError, EXIT } from './context';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * node:util parseArgs, strict, with its complaints (unknown option, missing value) and a wrong
 * number of positionals turned into usage errors that name the command.
 */
export function parseCommand<O extends Options>(
  command: string,
  args: string[],
  options: O,
  positionals: { min: number; max: number; names: string },
) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    // Node adds advice about `--` that only confuses here.
    const message = (err as Error).message.replace(/\. To specify a positional.*$/s, '');
    throw new CliError(`${command}: ${message}`, EXIT.usage);
  }
  const count = parsed.positionals.length;
  if (count < positionals.min) {
    throw new CliError(`${command}: missing ${positionals.names}`, EXIT.usage);
  }
  if (count > positionals.max) {
    const extra = parsed.positionals.slice(positionals.max).join(' ');
    throw new CliError(`${command}: unexpected argument(s): ${extra}`, EXIT.usage);
  }
  return parsed;
}
