import type { BlockAction, ButtonAction, Middleware, SlackActionMiddlewareArgs } from '@slack/bolt';
import { answerClick } from '../answer';
import type { ListenerDeps } from '../deps';
import { explainFailure } from '../errors';
import { openRequestModal } from '../request-modal';

/** "Request access" on Home. */
export function openRequestModalAction(
  deps: ListenerDeps,
): Middleware<SlackActionMiddlewareArgs<BlockAction<ButtonAction>>> {
  return async (args) => {
    const { ack, body, client } = args;
    await ack();
    try {
      await openRequestModal(client, deps, {
        triggerId: body.trigger_id,
        userId: body.user.id,
        fromHome: body.view?.type === 'home',
      });
    } catch (err) {
      await answerClick(args, deps, explainFailure(err, deps.logger, 'open the request form'));
    }
  };
}
