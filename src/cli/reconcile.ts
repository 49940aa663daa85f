import { userInfo } from 'node:os';
import { dirname } from 'node:path';
import { webApi } from '@slack/bolt';
import { Core } from '../core';
import { StaticDirectory } from '../core/directory';
import { AccessTurns } from '../jobs/access-turns';
import { ProviderCalls } from '../jobs/provider-calls';
import { Reconciler, type Finding } from '../jobs/reconciler';
import { logger } from '../log';
import { loadProviders } from '../providers/registry';
import { Sealer } from '../secrets/seal';
import { parseCommand } from './args';
import { CliError, cliConfig, EXIT, withStore, write, type CliIo } from './context';

function line(f: Finding): string {
  const who = `${f.grantId} (${f.userId} on ${f.resourceId})`;
  if (f.found === 'unreadable') return `  ${who}: its provider cannot be read back\n`;
  if (f.found === 'error') return `  ${who}: read-back failed: ${f.error}\n`;
  if (f.found === 'covered')
    return `  ${who}: ended; not read back, as ${f.coveredBy} holds the same access\n`;
  if (f.found === f.expected) return `  ${who}: ${f.found}, as recorded\n`;
  const drift = `DRIFT: expected ${f.expected}, found ${f.found}`;
  if (f.repaired === undefined) return `  ${who}: ${drift}\n`;
  return `  ${who}: ${drift}; ${f.repaired ? 'repaired' : `NOT repaired: ${f.error ?? ''}`}\n`;
}

/**
 * `hallpass grants reconcile [--dry-run]`: reads back active grants and recently ended ones with
 * their providers, as the bot's reconciler does on its schedule, and prints what it found.
 * Without --dry-run it repairs drift (audited and alerted like the bot's). Exit 1 on drift.
 */
export async function grantsReconcile(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(
    'grants reconcile',
    args,
    { 'dry-run': { type: 'boolean' } },
    { min: 0, max: 0, names: '' },
  );
  const dryRun = values['dry-run'] === true;
  const { config, file } = cliConfig(io, { providerSecrets: true });
  const token = io.env.SLACK_BOT_TOKEN;
  const slack = token
    ? new webApi.WebClient(token, {
        ...(io.env.SLACK_API_URL ? { slackApiUrl: io.env.SLACK_API_URL } : {}),
        retryConfig: { retries: 0 },
      })
    : undefined;
  const key = io.env.HALLPASS_SECRET_KEY ?? io.env.SLACK_SIGNING_SECRET ?? io.env.SLACK_APP_TOKEN;
  if (!dryRun && !key) {
    throw new CliError(
      'grants reconcile: set HALLPASS_SECRET_KEY (or SLACK_SIGNING_SECRET) as the bot has it: a re-grant may issue credentials that wait sealed for their DM',
    );
  }
  let providers;
  try {
    providers = await loadProviders(config, { slack, configDir: dirname(file) });
  } catch (err) {
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
  try {
    return await withStore(
      io,
      async (store) => {
        const core = new Core({ store, clock: io.clock, config, directory: new StaticDirectory() });
        const reconciler = new Reconciler({
          core,
          providers,
          directory: new StaticDirectory(),
          sealer: new Sealer(key ?? 'dry-run: nothing is sealed'),
          logger,
          busy: new Set(),
          calls: new ProviderCalls(),
          turns: new AccessTurns(providers),
          operator: `cli:${userInfo().username}`,
        });
        const findings = await reconciler.run({ dryRun });
        const drift = findings.filter(
          (f) => f.found !== f.expected && f.found !== 'unreadable' && f.found !== 'covered',
        );
        await write(
          io.stdout,
          `${dryRun ? 'read back (dry run, nothing changed)' : 'reconciled'}: ${findings.length} grant(s), ${drift.length} with drift\n${findings.map(line).join('')}`,
        );
        return drift.length > 0 ? EXIT.failed : EXIT.ok;
      },
      !dryRun,
    );
  } finally {
    await providers.closeAll();
  }
}
