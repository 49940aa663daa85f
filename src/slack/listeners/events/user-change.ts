import type { Middleware, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { PersonStatus } from '../../../core/directory';
import type { ListenerDeps } from '../deps';
import { logFailure } from '../errors';

/**
 * Slack tells Hallpass when a person changes: one deactivated (or made a guest) is offboarded
 * at once (their grants revoked, their requests cancelled, their approvers told); one active
 * again may ask again. The person is the signed event's own, so nobody can offboard another.
 * A retried event records the same status again, which changes nothing.
 */
export function userChange(
  deps: ListenerDeps,
): Middleware<SlackEventMiddlewareArgs<'user_change'>> {
  return async ({ event }) => {
    const user = event.user;
    if (!user?.id) return;
    const status: PersonStatus = user.deleted
      ? 'deactivated'
      : user.is_restricted || user.is_ultra_restricted
        ? 'guest'
        : 'active';
    deps.forgetUser?.(user.id, user.profile?.email);
    try {
      const offboarded = await deps.core.recordPersonStatus(user.id, status, 'slack_event');
      if (offboarded) {
        deps.logger.warn('person offboarded', { userId: user.id, status, ...offboarded });
      }
    } catch (err) {
      logFailure(err, deps.logger, 'record a change of a Slack user');
    }
  };
}
