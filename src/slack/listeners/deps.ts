import type { Core } from '../../core';
import type { Logger } from '../../log';
import type { ListContext } from '../ui/replies';
import type { Subcommand } from './commands/subcommand';

/** What every listener gets: the core that decides, a logger, and the `/jit` subcommands. */
export interface ListenerDeps {
  core: Core;
  logger: Logger;
  /** Added to the built-in subcommands (e.g. `/jit digest`); a name clash with one is an error. */
  extraSubcommands: readonly Subcommand[];
  /** Slack said a person changed: what the directory cached of them is stale. */
  forgetUser?: (userId: string) => void;
}

/** The time, zone and resource names that replies and Home are rendered with. */
export function listContext(core: Core): ListContext {
  return {
    now: core.now(),
    timezone: core.config.timezone,
    nameOf: (resourceId) => core.policy.findResource(resourceId)?.name ?? resourceId,
  };
}
