import type { BlockAction, ButtonAction, Middleware, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { Verdict } from '../../../core';
import { requestIdSchema } from '../../payload-values';
import { reviewModal } from '../../ui/break-glass';
import { answerClick } from '../answer';
import type { ListenerDeps } from '../deps';
import { explainFailure } from '../errors';
import { resourceView } from '../../delivery/views';
import { buttonValue, STALE_BUTTON } from './button-value';

/**
 * Mark reviewed / Flag on a break-glass alert. Who may review is asked first, so a refused
 * person is told at once instead of after writing a note; the review itself is recorded when
 * the form is submitted, where the core asks again.
 */
export function reviewBreakGlassAction(
  deps: ListenerDeps,
  verdict: Verdict,
): Middleware<SlackActionMiddlewareArgs<BlockAction<ButtonAction>>> {
  return async (args) => {
    const { ack, body, action, client } = args;
    await ack();
    const requestId = buttonValue(requestIdSchema, action, body, deps.logger);
    if (!requestId) return answerClick(args, deps, STALE_BUTTON);
    try {
      await deps.core.checkReviewRight(requestId, body.user.id);
      const use = await deps.core.breakGlassOf(requestId);
      if (!use) return await answerClick(args, deps, STALE_BUTTON);
      await client.views.open({
        trigger_id: body.trigger_id,
        view: reviewModal({
          metadata: { requestId, verdict },
          resource: resourceView(deps.core, use.resourceId),
          userId: use.userId,
        }),
      });
    } catch (err) {
      const doing = verdict === 'flagged' ? 'flag the use' : 'review the use';
      await answerClick(args, deps, explainFailure(err, deps.logger, doing, body.user.id));
    }
  };
}
