import type { BlockAction, ButtonAction } from '@slack/bolt';
import type { z } from 'zod';
import type { Logger } from '../../../log';

export const STALE_BUTTON =
  'That button is out of date or was not made by Hallpass, so nothing changed. `/jit list` shows what you can act on.';

/**
 * The id a button carries, or undefined (with a warning) when the value is not one: a button
 * from an old version, or a crafted payload. The value never names who is acting.
 */
export function buttonValue(
  schema: z.ZodType<string>,
  action: ButtonAction,
  body: BlockAction,
  logger: Logger,
): string | undefined {
  const parsed = schema.safeParse(action.value);
  if (parsed.success) return parsed.data;
  logger.warn('slack button value rejected', {
    actionId: action.action_id,
    userId: body.user.id,
    value: String(action.value).slice(0, 100),
  });
  return undefined;
}
