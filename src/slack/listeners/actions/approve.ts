import type { BlockAction, ButtonAction, Middleware, SlackActionMiddlewareArgs } from '@slack/bolt';
import { requestIdSchema } from '../../payload-values';
import { decisionReply, requestTitle } from '../../ui/replies';
import type { DecisionOutcome } from '../../../core';
import { answerClick } from '../answer';
import { readerContext, type ListenerDeps } from '../deps';
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
      const reader = await readerContext(deps, body.user.id);
      const retried = (context.retryNum ?? 0) > 0 && approvalStands(outcome, body.user.id);
      line = retried ? undefined : decisionReply(outcome, body.user.id, reader);
      if (!line && body.view?.type === 'home') {
        const name = reader.nameOf(outcome.request.resourceId);
        line = `You approved ${requestTitle(outcome.request, name, body.user.id)}.`;
      }
    } catch (err) {
      line = explainFailure(err, deps.logger, 'record your approval', body.user.id);
    }
    if (line) await answerClick(args, deps, line);
  };
}

/**
 * Whether a retried delivery of `actor`'s click changed nothing they were not told: their
 * approval is on record and the request is still pending or was approved. A request since
 * denied, expired or cancelled is answered, as its first delivery may never have arrived.
 */
function approvalStands(outcome: DecisionOutcome, actor: string): boolean {
  const mine = outcome.approvals.some((a) => a.approver === actor && a.decision === 'approve');
  return mine && (outcome.request.status === 'pending' || outcome.request.status === 'approved');
}
