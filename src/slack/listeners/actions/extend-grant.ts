import type { BlockAction, ButtonAction, Middleware, SlackActionMiddlewareArgs } from '@slack/bolt';
import { VIEWS } from '../../ids';
import { grantIdSchema } from '../../payload-values';
import { extendModal, loadingModal, noticeModal } from '../../ui/modals';
import { answerClick } from '../answer';
import type { ListenerDeps } from '../deps';
import { explainFailure, logFailure } from '../errors';
import { buttonValue, STALE_BUTTON } from './button-value';

const TITLE = 'Extend access';

/**
 * Extend opens a placeholder form straight away (the trigger id is short-lived), then fills it
 * with the grant's resource bounds. Whether the extension is allowed is decided on submit.
 */
export function extendGrantAction(
  deps: ListenerDeps,
): Middleware<SlackActionMiddlewareArgs<BlockAction<ButtonAction>>> {
  return async (args) => {
    const { ack, body, action, client } = args;
    await ack();
    const grantId = buttonValue(grantIdSchema, action, body, deps.logger);
    if (!grantId) return answerClick(args, deps, STALE_BUTTON);
    let opened;
    try {
      opened = await client.views.open({
        trigger_id: body.trigger_id,
        view: loadingModal(VIEWS.extend, TITLE),
      });
    } catch (err) {
      return answerClick(args, deps, explainFailure(err, deps.logger, 'open the extend form'));
    }
    let view;
    try {
      const grant = await deps.core.findGrant(grantId);
      const resource = deps.core.policy.resource(grant.resourceId);
      view = extendModal({
        grant,
        resource,
        metadata: { grantId, fromHome: body.view?.type === 'home' },
      });
    } catch (err) {
      view = noticeModal(VIEWS.extend, TITLE, explainFailure(err, deps.logger, 'extend the grant'));
    }
    if (!opened.view?.id) return;
    try {
      await client.views.update({ view_id: opened.view.id, hash: opened.view.hash, view });
    } catch (err) {
      logFailure(err, deps.logger, 'fill in the extend form');
    }
  };
}
