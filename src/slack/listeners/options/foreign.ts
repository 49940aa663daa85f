import type { Middleware, SlackOptionsMiddlewareArgs } from '@slack/bolt';
import type { ListenerDeps } from '../deps';

/** An options search for a select Hallpass did not make: no options, and a warning. */
export function foreignOptions(
  deps: ListenerDeps,
): Middleware<SlackOptionsMiddlewareArgs<'block_suggestion'>> {
  return async ({ ack, body }) => {
    await ack({ options: [] });
    deps.logger.warn('slack options search Hallpass does not know', {
      actionId: body.action_id.slice(0, 100),
      userId: body.user.id,
    });
  };
}
