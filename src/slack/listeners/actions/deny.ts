import type { BlockAction, ButtonAction, Middleware, SlackActionMiddlewareArgs } from '@slack/bolt';
import { requestIdSchema } from '../../payload-values';
import { denyModal } from '../../ui/modals';
import { answerClick } from '../answer';
import { listContext, type ListenerDeps } from '../deps';
import { explainFailure } from '../errors';
import { buttonValue, STALE_BUTTON } from './button-value';

/**
 * Deny opens a form for an optional reason, saying whose request for what it denies; the
 * decision is made when it is submitted.
 */
export function denyAction(
  deps: ListenerDeps,
): Middleware<SlackActionMiddlewareArgs<BlockAction<ButtonAction>>> {
  return async (args) => {
    const { ack, body, action, client } = args;
    await ack();
    const requestId = buttonValue(requestIdSchema, action, body, deps.logger);
    if (!requestId) return answerClick(args, deps, STALE_BUTTON);
    try {
      // One read of the database, quick enough before using the short-lived trigger id.
      const request = await deps.core.request(requestId);
      const subject = request && {
        request,
        resourceName: listContext(deps.core).nameOf(request.resourceId),
        reader: body.user.id,
      };
      await client.views.open({
        trigger_id: body.trigger_id,
        view: denyModal({ requestId, fromHome: body.view?.type === 'home' }, subject),
      });
    } catch (err) {
      await answerClick(args, deps, explainFailure(err, deps.logger, 'open the deny form'));
    }
  };
}
