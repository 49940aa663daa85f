import type { Middleware, SlackViewMiddlewareArgs, ViewSubmitAction } from '@slack/bolt';
import { DomainError } from '../../../core';
import { ACTIONS, BLOCKS, VIEWS } from '../../ids';
import {
  inputValue,
  isChecked,
  parseJson,
  readViewState,
  requestModalMetadata,
  type ViewStateValues,
} from '../../payload-values';
import { breakGlassUsedText } from '../../ui/break-glass';
import { BREAK_GLASS_VALUE, durationBlockOf, noticeModal } from '../../ui/modals';
import { requestFiledText } from '../../ui/replies';
import type { ListenerDeps } from '../deps';
import { explainFailure } from '../errors';
import { publishHome } from '../home';

/** The input block an error about `field` belongs next to, among those the form has. */
function blockFor(field: DomainError['field'], values: ViewStateValues): string {
  if (field === 'duration') return durationBlockOf(values) ?? BLOCKS.resource;
  if (field === 'justification') return BLOCKS.justification;
  if (field === 'ticket' && values[BLOCKS.ticket]) return BLOCKS.ticket;
  return BLOCKS.resource;
}

/**
 * Files the request. The core validates everything; a refusal is shown next to the field it
 * is about and the form stays open. The view id is the idempotency key, so submitting twice
 * files one request.
 */
export function requestSubmission(
  deps: ListenerDeps,
): Middleware<SlackViewMiddlewareArgs<ViewSubmitAction>> {
  return async ({ ack, body, view, client }) => {
    // Only says where to answer; the requester is always the signed user, whatever it holds.
    const metadata = parseJson(requestModalMetadata, view.private_metadata);
    if (!metadata)
      deps.logger.warn('request form with unreadable metadata', { userId: body.user.id });
    const values = readViewState(view.state.values);
    const resourceId = inputValue(values, BLOCKS.resource, ACTIONS.resourceSelect);
    const durationBlock = durationBlockOf(values);
    const duration = durationBlock && inputValue(values, durationBlock, ACTIONS.durationSelect);
    if (!resourceId || !duration) {
      const error = resourceId
        ? 'Choose the resource again so its durations show up.'
        : 'Choose a resource.';
      return ack({ response_action: 'errors', errors: { [BLOCKS.resource]: error } });
    }
    const { core } = deps;
    const breakGlass = isChecked(
      values,
      BLOCKS.breakGlass,
      ACTIONS.breakGlassChoice,
      BREAK_GLASS_VALUE,
    );
    const asked = {
      requester: body.user.id,
      resourceId,
      duration,
      justification: inputValue(values, BLOCKS.justification, ACTIONS.justificationInput) ?? '',
      ticket: inputValue(values, BLOCKS.ticket, ACTIONS.ticketInput),
      clientKey: `view:${view.id}`,
    };
    let filed: string;
    try {
      if (breakGlass) {
        const { request, use } = await core.breakGlass(asked);
        const resource = core.policy.resource(request.resourceId);
        filed = breakGlassUsedText({
          request,
          use,
          resource,
          approverChannel: core.policy.approverChannel(resource),
          now: core.now(),
          timezone: core.config.timezone,
        });
      } else {
        const row = await core.createRequest(asked);
        const resource = core.policy.resource(row.resourceId);
        filed = requestFiledText(row, resource, core.policy.approverChannel(resource));
      }
    } catch (err) {
      const field = err instanceof DomainError ? err.field : undefined;
      const message = explainFailure(err, deps.logger, 'file the request', body.user.id);
      return ack({ response_action: 'errors', errors: { [blockFor(field, values)]: message } });
    }
    // Breaking the glass is said loudly, in the form itself, whatever surface it came from.
    await (breakGlass
      ? ack({
          response_action: 'update',
          view: noticeModal(VIEWS.request, 'Break glass', filed),
        })
      : ack());
    if (metadata?.fromHome) {
      await publishHome(client, deps, body.user.id, filed);
    }
  };
}
