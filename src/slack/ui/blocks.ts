import type { types } from '@slack/bolt';
import { truncate } from './format';
import { LIMITS } from './limits';

export type Block = types.KnownBlock;
export type ButtonElement = types.Button;

/** What a message renderer returns: the notification text and the blocks shown in Slack. */
export interface SlackMessage {
  text: string;
  blocks: Block[];
}

/**
 * Builders that always produce blocks Slack accepts: each cuts its text to the block's limit as
 * a last resort. Renderers fit people's text themselves first (escaped, with room for labels),
 * so these cuts only matter if a renderer got its budget wrong.
 */

export function header(text: string): types.HeaderBlock {
  return { type: 'header', text: { type: 'plain_text', text: truncate(text, LIMITS.headerText) } };
}

export function section(mrkdwn: string): types.SectionBlock {
  return { type: 'section', text: { type: 'mrkdwn', text: truncate(mrkdwn, LIMITS.sectionText) } };
}

export function fields(items: string[]): types.SectionBlock {
  return {
    type: 'section',
    fields: items
      .slice(0, LIMITS.fields)
      .map((text) => ({ type: 'mrkdwn', text: truncate(text, LIMITS.fieldText) })),
  };
}

export function context(items: string[]): types.ContextBlock {
  return {
    type: 'context',
    elements: items
      .slice(0, LIMITS.contextElements)
      .map((text) => ({ type: 'mrkdwn', text: truncate(text, LIMITS.contextText) })),
  };
}

export function divider(): types.DividerBlock {
  return { type: 'divider' };
}

export function button(input: {
  text: string;
  actionId: string;
  value: string;
  style?: 'primary' | 'danger';
}): ButtonElement {
  return {
    type: 'button',
    text: { type: 'plain_text', text: truncate(input.text, LIMITS.buttonText) },
    action_id: input.actionId,
    value: input.value,
    ...(input.style ? { style: input.style } : {}),
  };
}

export function actions(buttons: ButtonElement[]): types.ActionsBlock {
  return { type: 'actions', elements: buttons.slice(0, LIMITS.actionsElements) };
}

/** The fallback `text` of a message, kept to one short line for notifications. */
export function fallback(text: string): string {
  return truncate(text.replace(/\s+/g, ' ').trim(), LIMITS.messageText);
}
