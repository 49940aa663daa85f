import type { SlashCommand, webApi } from '@slack/bolt';
import type { Core } from '../../../core';
import type { Logger } from '../../../log';
import type { ReaderZones } from '../../reader-zones';
import type { Reply } from '../../ui/replies';

/** Everything a `/jit` subcommand needs; the caller is the signed payload's user. */
export interface SubcommandContext {
  userId: string;
  /** The text after the subcommand name. */
  rest: string;
  command: SlashCommand;
  client: webApi.WebClient;
  core: Core;
  logger: Logger;
  /** The zone each person reads times in. */
  zones?: ReaderZones;
  /** Answers the caller only (ephemeral, through the command's response_url). */
  reply(reply: Reply): Promise<void>;
}

/**
 * One `/jit <name>` subcommand. Errors it throws become an ephemeral answer: a DomainError's
 * message as it is, anything else as a generic failure (and a log line).
 */
export interface Subcommand {
  name: string;
  aliases?: readonly string[];
  /** e.g. `/jit cancel <request-id>`, shown in help and after a usage mistake. */
  usage: string;
  summary: string;
  run(ctx: SubcommandContext): Promise<void>;
}
