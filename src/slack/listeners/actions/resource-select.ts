import type {
  BlockAction,
  ExternalSelectAction,
  Middleware,
  SlackActionMiddlewareArgs,
  StaticSelectAction,
} from '@slack/bolt';
import { parseJson, requestModalMetadata } from '../../payload-values';
import { requestModal } from '../../ui/modals';
import type { ListenerDeps } from '../deps';
import { logFailure } from '../errors';

/**
 * Choosing a resource in the request form redraws it for that resource: its duration choices
 * with its default selected, its approval rules, and the ticket field when it needs one.
 */
export function resourceSelectAction(
  deps: ListenerDeps,
): Middleware<SlackActionMiddlewareArgs<BlockAction<StaticSelectAction | ExternalSelectAction>>> {
  return async ({ ack, body, action, client }) => {
    await ack();
    const view = body.view;
    if (!view || view.type !== 'modal') {
      deps.logger.warn('resource select outside the request form', { userId: body.user.id });
      return;
    }
    const { policy, config } = deps.core;
    const chosen = action.selected_option?.value;
    try {
      const allowed = await policy.requestable(body.user.id);
      const resource = allowed.find((r) => r.id === chosen);
      const notice =
        chosen && !resource ? `You cannot request ${chosen}; choose another resource.` : undefined;
      await client.views.update({
        view_id: view.id,
        hash: view.hash,
        view: requestModal({
          resources: allowed,
          selected: resource && {
            resource,
            approverChannel: policy.approverChannel(resource),
            ...((await policy.mayBreakGlass(body.user.id, resource))
              ? { breakGlass: resource.breakGlass }
              : {}),
          },
          minJustification: config.requests.minJustification,
          timezone: config.timezone,
          metadata: parseJson(requestModalMetadata, view.private_metadata) ?? { fromHome: false },
          notice,
        }),
      });
    } catch (err) {
      logFailure(err, deps.logger, 'update the request form');
    }
  };
}
