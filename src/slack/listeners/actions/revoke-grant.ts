import type { BlockAction, ButtonAction, Middleware, SlackActionMiddlewareArgs } from '@slack/bolt';
import { grantIdSchema } from '../../payload-values';
import { revokedText } from '../../ui/replies';
import { answerClick } from '../answer';
import { listContext, type ListenerDeps } from '../deps';
import { explainFailure } from '../errors';
import { buttonValue, STALE_BUTTON } from './button-value';

/** Revoke now on a DM, `/jit list` or Home: the grant moves to revoking and the sweeper ends it. */
export function revokeGrantAction(
  deps: ListenerDeps,
): Middleware<SlackActionMiddlewareArgs<BlockAction<ButtonAction>>> {
  return async (args) => {
    const { ack, body, action } = args;
    await ack();
    const grantId = buttonValue(grantIdSchema, action, body, deps.logger);
    if (!grantId) return answerClick(args, deps, STALE_BUTTON);
    let line: string;
    try {
      const grant = await deps.core.revokeGrant({ grantId, actor: body.user.id });
      line = revokedText(grant, listContext(deps.core).nameOf(grant.resourceId), body.user.id);
    } catch (err) {
      line = explainFailure(err, deps.logger, 'revoke the grant', body.user.id);
    }
    await answerClick(args, deps, line);
  };
}
