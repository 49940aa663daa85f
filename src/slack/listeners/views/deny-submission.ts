import type { Middleware, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { ACTIONS, BLOCKS, VIEWS } from '../../ids';
import { denyModalMetadata, inputValue, parseJson, readViewState } from '../../payload-values';
import { noticeModal } from '../../ui/modals';
import { decisionReply, requestTitle } from '../../ui/replies';
import { readerContext, type ListenerDeps } from '../deps';
import { explainFailure } from '../errors';
import { publishHome } from '../home';

const TITLE = 'Deny request';

/**
 * Denies with the optional reason. The request id comes from the form's metadata, the denier
 * from the signed payload; the core checks they may decide. When the denial did not count
 * (already decided, not an approver) the form turns into a note saying why.
 */
export function denySubmission(
  deps: ListenerDeps,
): Middleware<SlackViewMiddlewareArgs<ViewSubmitAction>> {
  return async ({ ack, body, view, client }) => {
    const metadata = parseJson(denyModalMetadata, view.private_metadata);
    if (!metadata) {
      deps.logger.warn('deny form with unreadable metadata', { userId: body.user.id });
      const note = 'This form is out of date, so nothing changed. Click Deny on the request again.';
      return ack({ response_action: 'update', view: noticeModal(VIEWS.deny, TITLE, note) });
    }
    const actor = body.user.id;
    let note: string | undefined;
    let denied: string | undefined;
    try {
      const outcome = await deps.core.decide({
        requestId: metadata.requestId,
        actor,
        decision: 'deny',
        reason: inputValue(readViewState(view.state.values), BLOCKS.reason, ACTIONS.reasonInput),
      });
      const reader = await readerContext(deps, actor);
      note = decisionReply(outcome, actor, reader);
      const name = reader.nameOf(outcome.request.resourceId);
      denied = `You denied ${requestTitle(outcome.request, name, actor)}.`;
    } catch (err) {
      note = explainFailure(err, deps.logger, 'record your denial', actor);
    }
    await (note
      ? ack({ response_action: 'update', view: noticeModal(VIEWS.deny, TITLE, note) })
      : ack());
    if (metadata.fromHome) {
      await publishHome(client, deps, actor, note ?? denied);
    }
  };
}
