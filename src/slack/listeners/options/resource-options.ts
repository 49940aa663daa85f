import type { Middleware, SlackOptionsMiddlewareArgs } from '@slack/bolt';
import { LIMITS } from '../../ui/limits';
import { resourceChoices } from '../../ui/modals';
import type { ListenerDeps } from '../deps';
import { logFailure } from '../errors';

/**
 * Options for the resource search in the request form, used when there are too many resources
 * for a static list: what the person may request whose id or name contains what they typed.
 */
export function resourceOptions(
  deps: ListenerDeps,
): Middleware<SlackOptionsMiddlewareArgs<'block_suggestion'>> {
  return async ({ ack, body }) => {
    try {
      const query = body.value.trim().toLowerCase();
      const allowed = await deps.core.policy.requestable(body.user.id);
      const matches = allowed.filter(
        (r) => r.id.includes(query) || r.name.toLowerCase().includes(query),
      );
      await ack(resourceChoices(matches.slice(0, LIMITS.options)));
    } catch (err) {
      logFailure(err, deps.logger, 'search resources');
      await ack({ options: [] });
    }
  };
}
