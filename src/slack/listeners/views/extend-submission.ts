import type { Middleware, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { DomainError } from '../../../core';
import { ACTIONS, BLOCKS, VIEWS } from '../../ids';
import { extendModalMetadata, inputValue, parseJson, readViewState } from '../../payload-values';
import { durationBlockOf, noticeModal } from '../../ui/modals';
import { requestFiledText } from '../../ui/replies';
import type { ListenerDeps } from '../deps';
import { explainFailure } from '../errors';
import { publishHome } from '../home';

const TITLE = 'Extend access';

/** Asks for more time on a grant; the holder is the signed payload's user. */
export function extendSubmission(
  deps: ListenerDeps,
): Middleware<SlackViewMiddlewareArgs<ViewSubmitAction>> {
  return async ({ ack, body, view, client }) => {
    const metadata = parseJson(extendModalMetadata, view.private_metadata);
    const values = readViewState(view.state.values);
    const durationBlock = durationBlockOf(values);
    const duration = durationBlock && inputValue(values, durationBlock, ACTIONS.durationSelect);
    if (!metadata || !durationBlock || !duration) {
      deps.logger.warn('extend form without its grant or duration', { userId: body.user.id });
      const note = 'This form is out of date, so nothing changed. Click Extend again.';
      return ack({ response_action: 'update', view: noticeModal(VIEWS.extend, TITLE, note) });
    }
    const { core } = deps;
    let filed: string;
    try {
      const row = await core.requestExtension({
        grantId: metadata.grantId,
        actor: body.user.id,
        duration,
        justification: inputValue(values, BLOCKS.reason, ACTIONS.reasonInput) ?? '',
        clientKey: `view:${view.id}`,
      });
      const resource = core.policy.resource(row.resourceId);
      filed = requestFiledText(row, resource, core.policy.approverChannel(resource));
    } catch (err) {
      const message = explainFailure(err, deps.logger, 'ask for more time', body.user.id);
      const field = err instanceof DomainError ? err.field : undefined;
      if (field === 'duration') {
        return ack({ response_action: 'errors', errors: { [durationBlock]: message } });
      }
      if (field === 'justification') {
        return ack({ response_action: 'errors', errors: { [BLOCKS.reason]: message } });
      }
      return ack({ response_action: 'update', view: noticeModal(VIEWS.extend, TITLE, message) });
    }
    await ack();
    if (metadata.fromHome) await publishHome(client, deps, body.user.id, filed);
  };
}
