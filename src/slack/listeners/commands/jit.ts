import type { Middleware, SlackCommandMiddlewareArgs } from '@slack/bolt';
import { closestMatch } from '../../../core/suggest';
import { splitSubcommand } from '../../command-parser';
import { errorReply, unknownSubcommandReply, type Reply } from '../../ui/replies';
import type { ListenerDeps } from '../deps';
import { explainFailure } from '../errors';
import { openRequestModal } from '../request-modal';
import type { Subcommand } from './subcommand';

/**
 * `/jit`: acks first, then opens the request form (no text) or runs the named subcommand.
 * Whatever happens, the caller gets an ephemeral answer and nothing else sees it.
 */
export function jitCommand(
  deps: ListenerDeps,
  subcommands: readonly Subcommand[],
): Middleware<SlackCommandMiddlewareArgs> {
  const byName = new Map<string, Subcommand>();
  for (const sub of subcommands) {
    for (const name of [sub.name, ...(sub.aliases ?? [])]) {
      if (byName.has(name)) throw new Error(`/jit ${name} is defined twice`);
      byName.set(name, sub);
    }
  }
  return async ({ command, ack, respond, client }) => {
    await ack();
    const reply = async (answer: Reply) => {
      try {
        await respond({ response_type: 'ephemeral', ...answer });
      } catch (err) {
        deps.logger.warn('could not answer /jit', { error: err });
      }
    };
    const { name, rest } = splitSubcommand(command.text);
    if (!name) {
      try {
        await openRequestModal(client, deps, {
          triggerId: command.trigger_id,
          userId: command.user_id,
          fromHome: false,
        });
      } catch (err) {
        const why = explainFailure(err, deps.logger, 'open the request form');
        await reply(
          errorReply(`${why} Meanwhile \`/jit request <resource> <duration> <why>\` works too.`),
        );
      }
      return;
    }
    const sub = byName.get(name);
    if (!sub) {
      await reply(unknownSubcommandReply(name, closestMatch(name, [...byName.keys()])));
      return;
    }
    try {
      await sub.run({
        userId: command.user_id,
        rest,
        command,
        client,
        core: deps.core,
        logger: deps.logger,
        zones: deps.zones,
        reply,
      });
    } catch (err) {
      await reply(
        errorReply(explainFailure(err, deps.logger, `run /jit ${sub.name}`, command.user_id)),
      );
    }
  };
}
