import type { webApi } from '@slack/bolt';
import { homeView } from '../ui/home';
import { readerContext, type ListenerDeps } from './deps';
import { logFailure } from './errors';

/**
 * Publishes a person's Home tab from the current state, times in their own zone. A failure is
 * logged, never thrown: Home is redrawn the next time it is opened. Listeners call it after an
 * action; the outbox delivery calls it when something Home shows changed.
 */
export async function publishHome(
  client: webApi.WebClient,
  deps: Pick<ListenerDeps, 'core' | 'logger' | 'zones'>,
  userId: string,
  notice?: string,
): Promise<void> {
  const { core } = deps;
  try {
    const [awaiting, overview, reader] = await Promise.all([
      core.awaitingDecisionBy(userId),
      core.overviewOf(userId),
      readerContext(deps, userId),
    ]);
    const view = homeView({
      ...reader,
      overview,
      awaiting,
      notice,
    });
    await client.views.publish({ user_id: userId, view });
  } catch (err) {
    logFailure(err, deps.logger, 'publish the Home tab');
  }
}

/** Remembers that someone opened Home, so that later changes redraw it (HomeAsks). */
export async function rememberHomeOpened(
  deps: Pick<ListenerDeps, 'core' | 'logger'>,
  userId: string,
): Promise<void> {
  const { messages } = deps.core;
  try {
    if (!(await messages.openedHome(userId))) await messages.homeOpened(userId, deps.core.now());
  } catch (err) {
    logFailure(err, deps.logger, 'remember that the Home tab was opened');
  }
}
