import type { Middleware, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import type { ListenerDeps } from '../deps';

/**
 * A submitted form Hallpass did not make (a callback id not in VIEWS, src/slack/ids.ts) is acked
 * so Slack does not wait, logged, and otherwise ignored.
 */
export function foreignView(
  deps: ListenerDeps,
): Middleware<SlackViewMiddlewareArgs<ViewSubmitAction>> {
  return async ({ ack, body, view }) => {
    await ack();
    deps.logger.warn('slack form Hallpass does not know', {
      callbackId: view.callback_id.slice(0, 100),
      userId: body.user.id,
    });
  };
}
