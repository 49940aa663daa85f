import type { Middleware, SlackActionMiddlewareArgs } from '@slack/bolt';
import { ACTIONS, VIEWS } from '../../ids';
import type { ListenerDeps } from '../deps';

/** Matches every id except `ids` (Bolt runs each listener whose constraint matches). */
function anyIdBut(ids: Record<string, string>): RegExp {
  const escaped = Object.values(ids).map((id) => id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^(?!(?:${escaped.join('|')})$)`);
}

/** Any action id but Hallpass's own (src/slack/ids.ts). */
export const FOREIGN_ACTION = anyIdBut(ACTIONS);
/** Any form callback id but Hallpass's own. */
export const FOREIGN_VIEW = anyIdBut(VIEWS);

/**
 * A click on something Hallpass did not make (a crafted payload, another app's element on a
 * shared surface) is acked so Slack does not wait, logged, and otherwise ignored.
 */
export function foreignAction(deps: ListenerDeps): Middleware<SlackActionMiddlewareArgs> {
  return async ({ ack, body, payload }) => {
    await ack();
    deps.logger.warn('slack action Hallpass does not know', {
      type: body.type,
      actionId: 'action_id' in payload ? String(payload.action_id).slice(0, 100) : undefined,
      userId: body.user.id,
    });
  };
}
