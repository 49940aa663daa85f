import { Core, explanationLines, notAsked } from '../core';
import { DirectoryUnavailable, type Directory } from '../core/directory';
import { parseCommand } from './args';
import { cliConfig, CliError, EXIT, withStore, write, type CliIo } from './context';
import { parseDateArg } from './dates';
import { plainText } from './plain';

function notAskedOf(source: string): () => Promise<never> {
  return async () => {
    throw new DirectoryUnavailable('not asked', source, `the CLI does not ask ${source}`);
  };
}

/**
 * The CLI does not talk to Slack or the other directories: whatever needs them is unknown, and
 * the rules fail closed.
 */
const notAskedDirectory: Directory = {
  usergroupMembers: notAskedOf('Slack'),
  ldapGroupMembers: notAskedOf('the LDAP directory'),
  oktaGroupMembers: notAskedOf('Okta'),
  emailOf: async () => undefined,
  statusOf: notAskedOf('Slack'),
};

/**
 * `hallpass policy explain --user U… --resource R [--as-of TIME]`: what `/jit explain` says to
 * that person, now (today's hallpass.yml) or at a past moment (the rules recorded by the
 * requests filed by then). Exit 0 when they may request it, 1 when a rule stops them.
 */
export async function policyExplain(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(
    'policy explain',
    args,
    {
      user: { type: 'string' },
      resource: { type: 'string' },
      'as-of': { type: 'string' },
    },
    { min: 0, max: 0, names: '' },
  );
  if (!values.user || !values.resource)
    throw new CliError('policy explain: --user and --resource are required', EXIT.usage);
  const asOf = values['as-of'] === undefined ? undefined : parseDateArg('--as-of', values['as-of']);
  const { config } = cliConfig(io);
  const explanation = await withStore(io, (store) =>
    new Core({
      store,
      clock: io.clock,
      config,
      directory: notAskedDirectory,
      oncall: notAsked,
    }).explain(values.user!, values.resource!, asOf),
  );
  await write(
    io.stdout,
    explanationLines(explanation)
      .map((l) => `${plainText(l)}\n`)
      .join(''),
  );
  return explanation.refusal ? EXIT.failed : EXIT.ok;
}
