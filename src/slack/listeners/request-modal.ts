import type { webApi } from '@slack/bolt';
import { requestModal } from '../ui/modals';
import type { ListenerDeps } from './deps';
import { logFailure } from './errors';

/**
 * Opens the request form at once with every configured resource (the trigger id expires in 3 s,
 * so nothing slow runs first), then narrows it to what this person may request. Throws when
 * Slack does not open the form; a failed narrowing is only logged, since the core checks
 * permission on submit anyway.
 */
export async function openRequestModal(
  client: webApi.WebClient,
  deps: ListenerDeps,
  input: { triggerId: string; userId: string; fromHome: boolean },
): Promise<void> {
  const { core, logger } = deps;
  const all = core.policy.resources();
  const base = {
    minJustification: core.config.requests.minJustification,
    timezone: core.config.timezone,
    metadata: { fromHome: input.fromHome },
  };
  const opened = await client.views.open({
    trigger_id: input.triggerId,
    view: requestModal({ ...base, resources: all }),
  });
  try {
    const allowed = await core.policy.requestable(input.userId);
    if (allowed.length === all.length || !opened.view?.id) return;
    await client.views.update({
      view_id: opened.view.id,
      hash: opened.view.hash,
      view: requestModal({ ...base, resources: allowed }),
    });
  } catch (err) {
    // A hash conflict means the person already picked a resource, which redraws the form itself.
    logFailure(err, logger, 'narrow the request form');
  }
}
