import { registerEnvSecrets } from '../config/secrets';
import { systemClock } from '../core/clock';
import { DomainError } from '../core/errors';
import { auditExport, auditResetCheckpoint, auditShow, auditVerify } from './audit';
import { CliError, EXIT, write, type CliIo } from './context';
import { dbBackup, dbCopy } from './db';
import { digestPrint } from './digest';
import { grantsClose, grantsList, grantsRevoke } from './grants';
import { grantsReconcile } from './reconcile';
import { init } from './init';
import { policyCheck } from './policy';
import { policyExplain } from './policy-explain';
import { request } from './request';
import { tokensCreate, tokensList, tokensRevoke } from './tokens';
import { USAGE } from './usage';

type Command = (args: string[], io: CliIo) => Promise<number>;

/** Commands by their words; the longest match of the command line wins. */
const COMMANDS: Record<string, Command> = {
  init,
  'policy check': policyCheck,
  'policy explain': policyExplain,
  'audit verify': auditVerify,
  'audit export': auditExport,
  'audit show': auditShow,
  'audit reset-checkpoint': auditResetCheckpoint,
  'grants list': grantsList,
  'grants revoke': grantsRevoke,
  'grants reconcile': grantsReconcile,
  'grants close': grantsClose,
  digest: digestPrint,
  'db copy': dbCopy,
  'db backup': dbBackup,
  'tokens create': tokensCreate,
  'tokens list': tokensList,
  'tokens revoke': tokensRevoke,
  request,
};

const HELP_WORDS = ['help', '--help', '-h'];

/** Each group's lines of the usage (`audit` → its verify, export and show lines). */
const GROUPS = new Map(
  [...new Set(Object.keys(COMMANDS).map((words) => words.split(' ')[0]!))].map((group) => [
    group,
    USAGE.split('\n')
      .filter((line, i, all) => {
        const own = (text: string) => text.startsWith(`  ${group} `);
        // A command's second line is indented past the command column.
        return own(line) || (/^ {20,}\S/.test(line) && own(all[i - 1] ?? ''));
      })
      .map((line) => `${line}\n`)
      .join(''),
  ]),
);

function findCommand(argv: string[]): { command: Command; args: string[] } | undefined {
  const two = argv.slice(0, 2).join(' ');
  if (COMMANDS[two]) return { command: COMMANDS[two], args: argv.slice(2) };
  const one = argv[0] ?? '';
  if (COMMANDS[one]) return { command: COMMANDS[one], args: argv.slice(1) };
  return undefined;
}

const processIo: CliIo = {
  stdin: process.stdin,
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
  registerEnvSecrets(io.env);
  const [first] = argv;
  const group = first === undefined ? undefined : GROUPS.get(first);
  if (argv.some((arg) => HELP_WORDS.includes(arg))) {
    // `hallpass audit --help` and `hallpass audit show -h` show that group's lines.
    const text = group && argv.length > 1 ? `Usage: hallpass ${first} …\n\n${group}` : USAGE;
    await write(io.stdout, text);
    return EXIT.ok;
  }
  const found = findCommand(argv);
  if (!found) {
    if (group && argv.length === 1) {
      await write(io.stderr, `hallpass ${first} needs a subcommand:\n\n${group}`);
      return EXIT.usage;
    }
    if (first !== undefined) {
      await write(io.stderr, `hallpass: unknown command "${argv.join(' ')}"\n`);
    }
    await write(io.stderr, USAGE);
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
