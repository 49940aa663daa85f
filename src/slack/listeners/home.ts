import type { webApi } from '@slack/bolt';
import { homeView } from '../ui/home';
import { listContext, type ListenerDeps } from './deps';
import { logFailure } from './errors';

/**
 * Publishes a person's Home tab from the current state. A failure is logged, never thrown: Home
 * is redrawn the next time it is opened.
 */
export async function publishHome(
  client: webApi.WebClient,
  deps: ListenerDeps,
  userId: string,
  notice?: string,
): Promise<void> {
  const { core } = deps;
  try {
    const [awaiting, overview] = await Promise.all([
      core.awaitingDecisionBy(userId),
      core.overviewOf(userId),
    ]);
    const view = homeView({
      ...listContext(core),
      overview,
      awaiting,
      notice,
    });
    await client.views.publish({ user_id: userId, view });
  } catch (err) {
    logFailure(err, deps.logger, 'publish the Home tab');
  }
}
