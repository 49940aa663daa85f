import type { Middleware, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { ListenerDeps } from '../deps';

/** Any action id but Hallpass's own, which all start with `hallpass.` (src/slack/ids.ts). */
export const FOREIGN_ACTION = /^(?!hallpass\.)/;

/**
 * A click on something Hallpass did not make (a crafted payload, another app's element on a
 * shared surface) is acked so Slack does not wait, logged, and otherwise ignored.
 */
export function foreignAction(deps: ListenerDeps): Middleware<SlackActionMiddlewareArgs> {
  return async ({ ack, body, payload }) => {
    await ack();
    deps.logger.warn('slack action Hallpass does not know', {
      type: body.type,
      actionId: 'action_id' in payload ? payload.action_id : undefined,
      userId: body.user.id,
    });
  };
}
