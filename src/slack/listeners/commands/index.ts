import type { App } from '@slack/bolt';
import type { ListenerDeps } from '../deps';
import { breakGlassSubcommand } from './breakglass';
import { cancelSubcommand } from './cancel';
import { explainSubcommand } from './explain';
import { extendSubcommand } from './extend';
import { helpSubcommand } from './help';
import { jitCommand } from './jit';
import { listSubcommand } from './list';
import { requestSubcommand } from './request';
import { resourcesSubcommand } from './resources';
import { revokeSubcommand } from './revoke';
import type { Subcommand } from './subcommand';

/** The slash command in manifest.yml. */
export const COMMAND = '/jit';

export function registerCommands(app: App, deps: ListenerDeps): void {
  const subcommands: Subcommand[] = [
    requestSubcommand,
    listSubcommand,
    cancelSubcommand,
    revokeSubcommand,
    extendSubcommand,
    resourcesSubcommand,
    explainSubcommand,
    breakGlassSubcommand,
    ...deps.extraSubcommands,
  ];
  subcommands.push(helpSubcommand(() => subcommands));
  app.command(COMMAND, jitCommand(deps, subcommands));
}
