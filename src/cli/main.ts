import { systemClock } from '../core/clock';
import { DomainError } from '../core/errors';
import { auditExport, auditShow, auditVerify } from './audit';
import { CliError, EXIT, write, type CliIo } from './context';
import { dbCopy } from './db';
import { digestPrint } from './digest';
import { grantsClose, grantsList, grantsRevoke } from './grants';
import { grantsReconcile } from './reconcile';
import { policyCheck } from './policy';
import { policyExplain } from './policy-explain';
import { USAGE } from './usage';

type Command = (args: string[], io: CliIo) => Promise<number>;

/** Commands by their words; the longest match of the command line wins. */
const COMMANDS: Record<string, Command> = {
  'policy check': policyCheck,
  'policy explain': policyExplain,
  'audit verify': auditVerify,
  'audit export': auditExport,
  'audit show': auditShow,
  'grants list': grantsList,
  'grants revoke': grantsRevoke,
  'grants reconcile': grantsReconcile,
  'grants close': grantsClose,
  digest: digestPrint,
  'db copy': dbCopy,
};

function findCommand(argv: string[]): { command: Command; args: string[] } | undefined {
  const two = argv.slice(0, 2).join(' ');
  if (COMMANDS[two]) return { command: COMMANDS[two], args: argv.slice(2) };
  const one = argv[0] ?? '';
  if (COMMANDS[one]) return { command: COMMANDS[one], args: argv.slice(1) };
  return undefined;
}

const processIo: CliIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  clock: systemClock,
};

/**
 * The `hallpass` command (bin/hallpass.js calls this). Works on the SQLite file and the config
 * alone, without Slack. Resolves with the exit code: 0 ok, 1 problem found or failure, 2 usage.
 */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const found = findCommand(argv);
  if (!found) {
    const [first] = argv;
    const asked = first === undefined || ['help', '--help', '-h'].includes(first);
    if (!asked) await write(io.stderr, `hallpass: unknown command "${argv.join(' ')}"\n`);
    await write(asked ? io.stdout : io.stderr, USAGE);
    return EXIT.usage;
  }
  try {
    return await found.command(found.args, io);
  } catch (err) {
    if (err instanceof CliError || err instanceof DomainError) {
      const lines = err.message.split('\n').map((line) => `hallpass: ${line}\n`);
      await write(io.stderr, lines.join(''));
      if (err instanceof CliError && err.code === EXIT.usage) {
        await write(io.stderr, 'Run `hallpass help` for usage.\n');
      }
      return err instanceof CliError ? err.code : EXIT.failed;
    }
    throw err;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
