import type { BlockAction, ButtonAction, Middleware, SlackActionMiddlewareArgs } from '@slack/bolt';
import { requestIdSchema } from '../../payload-values';
import { cancelledText } from '../../ui/replies';
import { answerClick } from '../answer';
import { listContext, type ListenerDeps } from '../deps';
import { explainFailure } from '../errors';
import { buttonValue, STALE_BUTTON } from './button-value';

/** Cancel on a DM, `/jit list` or Home: the requester withdraws a pending request. */
export function cancelRequestAction(
  deps: ListenerDeps,
): Middleware<SlackActionMiddlewareArgs<BlockAction<ButtonAction>>> {
  return async (args) => {
    const { ack, body, action } = args;
    await ack();
    const requestId = buttonValue(requestIdSchema, action, body, deps.logger);
    if (!requestId) return answerClick(args, deps, STALE_BUTTON);
    let line: string;
    try {
      const row = await deps.core.cancelRequest(requestId, body.user.id);
      line = cancelledText(row, listContext(deps.core).nameOf(row.resourceId));
    } catch (err) {
      line = explainFailure(err, deps.logger, 'cancel the request', body.user.id);
    }
    await answerClick(args, deps, line);
  };
}
