import type { BlockAction, RespondFn, webApi } from '@slack/bolt';
import { readerContext, type ListenerDeps } from './deps';
import { publishHome } from './home';
import { listReply, textReply } from '../ui/replies';

export interface ClickArgs {
  body: BlockAction;
  respond: RespondFn;
  client: webApi.WebClient;
}

/**
 * Tells the person who clicked a button what happened, where they clicked it: Home is redrawn
 * with the line on top, a `/jit list` answer (the only ephemeral message with buttons) is
 * replaced by a fresh list, and a click on a message gets an ephemeral reply.
 */
export async function answerClick(
  args: ClickArgs,
  deps: ListenerDeps,
  line: string,
): Promise<void> {
  const { body, respond, client } = args;
  const userId = body.user.id;
  try {
    if (body.view?.type === 'home') return await publishHome(client, deps, userId, line);
    if (body.container.is_ephemeral === true) {
      const list = listReply(
        await deps.core.overviewOf(userId),
        await readerContext(deps, userId),
        line,
      );
      await respond({ replace_original: true, ...list });
      return;
    }
    if (body.response_url) {
      await respond({ response_type: 'ephemeral', replace_original: false, ...textReply(line) });
      return;
    }
    deps.logger.warn('slack click came from nowhere Hallpass can answer', {
      container: body.container.type,
    });
  } catch (err) {
    deps.logger.warn('could not answer a slack click', { error: err });
  }
}
