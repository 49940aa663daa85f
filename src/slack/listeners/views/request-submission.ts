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
  if (field === 'start' && values[BLOCKS.start]) return BLOCKS.start;
  return BLOCKS.resource;
}

/** The problems of a form, each next to its field (several on one field are joined). */
function fieldErrors(problems: readonly DomainError[], values: ViewStateValues) {
  const errors: Record<string, string> = {};
  for (const problem of problems) {
    const block = blockFor(problem.field, values);
    errors[block] = errors[block] ? `${errors[block]} ${problem.message}` : problem.message;
  }
  return errors;
}

/**
 * Files the request. The core validates everything: every field's problems are shown at once,
 * each next to its field, and the form stays open; a refusal of the request itself (who may
 * ask, how many) next to the resource. The view id is the idempotency key, so submitting twice
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
    const fields = {
      resourceId,
      duration,
      justification: inputValue(values, BLOCKS.justification, ACTIONS.justificationInput) ?? '',
      ticket: inputValue(values, BLOCKS.ticket, ACTIONS.ticketInput),
      startAt: inputValue(values, BLOCKS.start, ACTIONS.startInput),
    };
    // Break-glass has bounds of its own (its maxDuration, no ticket needed): core.breakGlass says.
    const problems = breakGlass ? [] : core.requestProblems(fields);
    if (problems.length > 0)
      return ack({ response_action: 'errors', errors: fieldErrors(problems, values) });
    const { startAt, ...asked } = fields;
    let filed: string;
    try {
      if (breakGlass) {
        const { request, use } = await core.breakGlass({
          ...asked,
          startAt,
          requester: body.user.id,
          clientKey: `view:${view.id}`,
        });
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
        const row = await core.createRequest({
          ...asked,
          startAt,
          requester: body.user.id,
          clientKey: `view:${view.id}`,
        });
        const resource = core.policy.resource(row.resourceId);
        filed = requestFiledText(row, resource, core.policy.approverChannel(resource), {
          timezone: core.config.timezone,
          now: core.now(),
        });
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
