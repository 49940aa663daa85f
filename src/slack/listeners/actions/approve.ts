import type { BlockAction, ButtonAction, Middleware, SlackActionMiddlewareArgs } from '@slack/bolt';
import { requestIdSchema } from '../../payload-values';
import { code } from '../../ui/format';
import { decisionReply } from '../../ui/replies';
import { answerClick } from '../answer';
import { listContext, type ListenerDeps } from '../deps';
import { explainFailure } from '../errors';
import { buttonValue, STALE_BUTTON } from './button-value';

/**
 * Approve on an approver message or on Home. The approver is the signed payload's user; the
 * core checks they may approve, and counts each approver once, so a double click or a retried
 * delivery changes nothing.
 */
export function approveAction(
  deps: ListenerDeps,
): Middleware<SlackActionMiddlewareArgs<BlockAction<ButtonAction>>> {
  return async (args) => {
    const { ack, body, action, context } = args;
    await ack();
    const requestId = buttonValue(requestIdSchema, action, body, deps.logger);
    if (!requestId) return answerClick(args, deps, STALE_BUTTON);
    let line: string | undefined;
    try {
      const outcome = await deps.core.decide({
        requestId,
        actor: body.user.id,
        decision: 'approve',
      });
      const { now, timezone } = listContext(deps.core);
      const retried = outcome.kind === 'duplicate' && (context.retryNum ?? 0) > 0;
      line = retried ? undefined : decisionReply(outcome, body.user.id, timezone, now);
      if (!line && body.view?.type === 'home') line = `You approved ${code(requestId)}.`;
    } catch (err) {
      line = explainFailure(err, deps.logger, 'record your approval', body.user.id);
    }
    if (line) await answerClick(args, deps, line);
  };
}
