import type { Middleware, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { DomainError } from '../../../core';
import { ACTIONS, BLOCKS, VIEWS } from '../../ids';
import { inputValue, parseJson, readViewState, reviewModalMetadata } from '../../payload-values';
import { reviewLine } from '../../ui/break-glass';
import { noticeModal } from '../../ui/modals';
import { listContext, type ListenerDeps } from '../deps';
import { explainFailure } from '../errors';

const TITLE = 'Break-glass review';

/**
 * Records the review with its note. The use comes from the form's metadata, the reviewer from
 * the signed payload; the core checks they may review. A flag without a note keeps the form
 * open with the error under the note; anything else that did not count turns the form into a
 * note saying why.
 */
export function reviewSubmission(
  deps: ListenerDeps,
): Middleware<SlackViewMiddlewareArgs<ViewSubmitAction>> {
  return async ({ ack, body, view }) => {
    const metadata = parseJson(reviewModalMetadata, view.private_metadata);
    if (!metadata) {
      deps.logger.warn('review form with unreadable metadata', { userId: body.user.id });
      const note = 'This form is out of date, so nothing changed. Click the button again.';
      return ack({ response_action: 'update', view: noticeModal(VIEWS.review, TITLE, note) });
    }
    const actor = body.user.id;
    let note: string;
    try {
      const outcome = await deps.core.reviewBreakGlass({
        requestId: metadata.requestId,
        actor,
        verdict: metadata.verdict,
        note: inputValue(readViewState(view.state.values), BLOCKS.reason, ACTIONS.reasonInput),
      });
      const line = reviewLine(outcome.use, listContext(deps.core));
      note = outcome.kind === 'recorded' ? line : `Someone reviewed it first. ${line}`;
    } catch (err) {
      const message = explainFailure(err, deps.logger, 'record your review', actor);
      if (err instanceof DomainError && err.code === 'bad_note') {
        return ack({ response_action: 'errors', errors: { [BLOCKS.reason]: message } });
      }
      note = message;
    }
    await ack({ response_action: 'update', view: noticeModal(VIEWS.review, TITLE, note) });
  };
}
