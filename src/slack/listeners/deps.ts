import type { Core } from '../../core';
import type { Logger } from '../../log';
import { zoneOf, type ReaderZones } from '../reader-zones';
import type { ListContext } from '../ui/replies';
import type { Subcommand } from './commands/subcommand';

/** What every listener gets: the core that decides, a logger, and the `/jit` subcommands. */
export interface ListenerDeps {
  core: Core;
  logger: Logger;
  /** Added to the built-in subcommands (e.g. `/jit digest`); a name clash with one is an error. */
  extraSubcommands: readonly Subcommand[];
  /** Slack said a person changed: what the directory cached of them is stale. */
  forgetUser?: (userId: string, email?: string) => void;
  /** The zone each person reads times in; without it, everyone reads the configured zone. */
  zones?: ReaderZones;
}

/** The time, zone and resource names that replies and Home are rendered with. */
export function listContext(core: Core): ListContext {
  return {
    now: core.now(),
    timezone: core.config.timezone,
    nameOf: (resourceId) => core.policy.findResource(resourceId)?.name ?? resourceId,
  };
}

/** The same, with times in the zone of `userId`, who reads the answer. */
export async function readerContext(
  deps: Pick<ListenerDeps, 'core' | 'zones'>,
  userId: string,
): Promise<ListContext> {
  const base = listContext(deps.core);
  return { ...base, timezone: await zoneOf(deps.zones, userId, base.timezone) };
}
