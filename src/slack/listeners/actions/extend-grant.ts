import type { BlockAction, ButtonAction, Middleware, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { Resource } from '../../../config/schema';
import { DomainError, type GrantRow } from '../../../core';
import { grantIdSchema } from '../../payload-values';
import { escapeAndFit, formatTime, humanDuration } from '../../ui/format';
import { extendModal, extensionRoom } from '../../ui/modals';
import { answerClick } from '../answer';
import { readerContext, type ListenerDeps } from '../deps';
import { explainFailure } from '../errors';
import { buttonValue, STALE_BUTTON } from './button-value';

/**
 * Why a grant cannot be extended from this click, said at once instead of opening a form that
 * could only fail: it ended (an Extend button on an old DM), it is someone else's (thrown), or it
 * already has all the time its resource allows.
 */
async function refusal(
  grant: GrantRow,
  resource: Resource,
  actor: string,
  readerOf: () => Promise<{ now: number; timezone: string }>,
): Promise<string | undefined> {
  const name = `*${escapeAndFit(resource.name, 100)}*`;
  // Thrown, not said: a click on someone else's grant is a refusal the admins' log should show.
  if (grant.userId !== actor)
    throw new DomainError(
      'not_yours',
      `That access to ${name} is someone else's; only its holder can ask for more time.`,
    );
  if (grant.status !== 'active') {
    const reader = await readerOf();
    const ended =
      grant.endedAt !== null
        ? ` ended at ${formatTime(grant.endedAt, reader.timezone, reader.now)}`
        : ' is no longer active';
    return `Your access to ${name}${ended}, so there is nothing to extend. \`/jit request ${resource.id}\` asks for new access.`;
  }
  const { room, whole } = extensionRoom(grant, resource);
  if (room < resource.minDuration) {
    const reader = await readerOf();
    const until =
      grant.expiresAt !== null
        ? formatTime(grant.expiresAt, reader.timezone, reader.now)
        : 'its end';
    return `Your access to ${name} already has all the time ${resource.id} allows (${humanDuration(whole)} from its start), so it ends at ${until}. Ask again with \`/jit request ${resource.id}\` after that if you still need it.`;
  }
  return undefined;
}

/**
 * Extend opens the form for more time, with only the durations that would be accepted. A grant
 * that can no longer be extended gets an answer instead, at once. Whether the extension is
 * granted is decided on submit, by the same approvers.
 */
export function extendGrantAction(
  deps: ListenerDeps,
): Middleware<SlackActionMiddlewareArgs<BlockAction<ButtonAction>>> {
  return async (args) => {
    const { ack, body, action, client } = args;
    await ack();
    const grantId = buttonValue(grantIdSchema, action, body, deps.logger);
    if (!grantId) return answerClick(args, deps, STALE_BUTTON);
    const actor = body.user.id;
    let view;
    try {
      // One read of the database: quick enough to use the short-lived trigger id after it.
      const grant = await deps.core.findGrant(grantId);
      const resource = deps.core.policy.resource(grant.resourceId);
      const why = await refusal(grant, resource, actor, () => readerContext(deps, actor));
      if (why) return answerClick(args, deps, why);
      view = extendModal({
        grant,
        resource,
        metadata: { grantId, fromHome: body.view?.type === 'home' },
      });
    } catch (err) {
      return answerClick(args, deps, explainFailure(err, deps.logger, 'extend the grant', actor));
    }
    try {
      await client.views.open({ trigger_id: body.trigger_id, view });
    } catch (err) {
      await answerClick(args, deps, explainFailure(err, deps.logger, 'open the extend form'));
    }
  };
}
