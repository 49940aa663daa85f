import type { Middleware, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { ListenerDeps } from '../deps';
import { publishHome, rememberHomeOpened } from '../home';

/**
 * Draws the Home tab each time someone opens it (a retried event just draws it again), and
 * remembers the person, whose Home later changes then redraw.
 */
export function appHomeOpened(
  deps: ListenerDeps,
): Middleware<SlackEventMiddlewareArgs<'app_home_opened'>> {
  return async ({ event, client }) => {
    if (event.tab !== 'home') return;
    await rememberHomeOpened(deps, event.user);
    await publishHome(client, deps, event.user);
  };
}
