import type { types } from '@slack/bolt';
import type { BreakGlass, Resource } from '../../config/schema';
import { extensionCeiling, ticketExample, type GrantRow, type RequestRow } from '../../core';

import { ACTIONS, BLOCKS, VIEWS } from '../ids';
import type {
  DenyModalMetadata,
  ExtendModalMetadata,
  RequestModalMetadata,
  ViewStateValues,
} from '../payload-values';
import { context, section, type Block } from './blocks';
import { code, escapeAndFit, formatDuration, humanDuration, truncate } from './format';
import { LIMITS } from './limits';
import { approvalSummary, requestTitle } from './replies';

type Modal = types.ModalView;
type Option = types.PlainTextOption;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Durations people pick from; each resource's own min, max and default are always added. */
const DURATION_STEPS = [
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  45 * MINUTE,
  HOUR,
  90 * MINUTE,
  2 * HOUR,
  3 * HOUR,
  4 * HOUR,
  6 * HOUR,
  8 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  3 * DAY,
  5 * DAY,
  7 * DAY,
  14 * DAY,
  30 * DAY,
];

function plain(text: string, max: number = LIMITS.inputLabel): types.PlainTextElement {
  return { type: 'plain_text', text: truncate(text, max) };
}

function modal(input: {
  callbackId: string;
  title: string;
  blocks: Block[];
  submit?: string;
  close?: string;
  metadata?: unknown;
}): Modal {
  return {
    type: 'modal',
    callback_id: input.callbackId,
    title: plain(input.title, LIMITS.viewTitle),
    ...(input.submit ? { submit: plain(input.submit, LIMITS.viewSubmit) } : {}),
    close: plain(input.close ?? 'Close', LIMITS.viewClose),
    ...(input.metadata === undefined ? {} : { private_metadata: JSON.stringify(input.metadata) }),
    blocks: input.blocks,
  };
}

function option(text: string, value: string): Option {
  return { text: plain(text, LIMITS.optionText), value };
}

export function resourceOption(resource: Resource): Option {
  return option(`${resource.name} (${resource.id})`, resource.id);
}

/** Options of a resource select, grouped by provider when there is more than one. */
export function resourceChoices(
  resources: readonly Resource[],
):
  | { options: Option[] }
  | { option_groups: { label: types.PlainTextElement; options: Option[] }[] } {
  const byProvider = new Map<string, Resource[]>();
  for (const resource of resources) {
    byProvider.set(resource.provider, [...(byProvider.get(resource.provider) ?? []), resource]);
  }
  if (byProvider.size <= 1) return { options: resources.map(resourceOption) };
  return {
    option_groups: [...byProvider].map(([provider, list]) => ({
      label: plain(provider, LIMITS.optionText),
      options: list.map(resourceOption),
    })),
  };
}

/**
 * The durations offered for a resource: common steps within its bounds, plus its own bounds,
 * none above `most` (what an extension still has room for), so every choice would be accepted.
 */
export function durationChoices(resource: Resource, most = resource.maxDuration): number[] {
  const max = Math.min(resource.maxDuration, most);
  const picks = new Set(
    [resource.minDuration, resource.defaultDuration, max].filter(
      (ms) => ms >= resource.minDuration && ms <= max,
    ),
  );
  for (const step of DURATION_STEPS) {
    if (step > resource.minDuration && step < max) picks.add(step);
  }
  return [...picks].sort((a, b) => a - b).slice(0, LIMITS.options);
}

/** People read `1 h 30 min`; the value is what the core parses (`1h30m`). */
function durationOption(ms: number): Option {
  return option(humanDuration(ms), formatDuration(ms));
}

/**
 * The duration input's block id names the resource: Slack keeps what was chosen in an input
 * whose block id stays the same across `views.update`, so a new id is what makes the new
 * resource's default show up.
 */
export function durationBlockId(resourceId: string): string {
  return `${BLOCKS.duration}:${resourceId}`;
}

/** The duration block present in a submitted view, if any. */
export function durationBlockOf(values: ViewStateValues): string | undefined {
  return Object.keys(values).find((id) => id.startsWith(`${BLOCKS.duration}:`));
}

function durationInput(
  resource: Resource,
  initial: number,
  label: string,
  most?: number,
): types.InputBlock {
  const choices = durationChoices(resource, most);
  const fallback = choices.filter((ms) => ms <= initial).at(-1) ?? choices[0]!;
  return {
    type: 'input',
    block_id: durationBlockId(resource.id),
    label: plain(label),
    element: {
      type: 'static_select',
      action_id: ACTIONS.durationSelect,
      options: choices.map(durationOption),
      initial_option: durationOption(choices.includes(initial) ? initial : fallback),
    },
  };
}

export interface RequestModalInput {
  /** What the person may request (all resources until their permissions are known). */
  resources: readonly Resource[];
  /** `breakGlass`: set when this person may break the glass on the resource. */
  selected?: { resource: Resource; approverChannel: string; breakGlass?: BreakGlass };
  minJustification: number;
  /** The configured zone a later start is read in. */
  timezone: string;
  metadata: RequestModalMetadata;
  /** Shown above the form, e.g. why a chosen resource was taken away. */
  notice?: string;
}

/** The "Request access" form. */
export function requestModal(input: RequestModalInput): Modal {
  const base = { callbackId: VIEWS.request, title: 'Request access', metadata: input.metadata };
  if (input.resources.length === 0) {
    return modal({
      ...base,
      blocks: [
        section(
          'There is nothing you can request with Hallpass. If you think there should be, ask your Hallpass admins.',
        ),
      ],
    });
  }
  const selected = input.selected?.resource;
  const selectElement: types.StaticSelect | types.ExternalSelect =
    input.resources.length > LIMITS.options
      ? { type: 'external_select', action_id: ACTIONS.resourceSelect, min_query_length: 0 }
      : {
          type: 'static_select',
          action_id: ACTIONS.resourceSelect,
          ...resourceChoices(input.resources),
        };
  const blocks: Block[] = [];
  if (input.notice) blocks.push(section(`:warning: ${input.notice}`));
  blocks.push({
    type: 'input',
    block_id: BLOCKS.resource,
    dispatch_action: true,
    label: plain('Resource'),
    element: {
      ...selectElement,
      placeholder: plain('Choose what you need access to', LIMITS.placeholder),
      ...(selected ? { initial_option: resourceOption(selected) } : {}),
    },
  });
  if (input.selected && selected) {
    const about = selected.description ? `${escapeAndFit(selected.description, 1500)}\n` : '';
    blocks.push(context([`${about}${approvalSummary(selected, input.selected.approverChannel)}`]));
    blocks.push(durationInput(selected, selected.defaultDuration, 'Duration'));
    if (input.selected.breakGlass) blocks.push(breakGlassChoice(input.selected.breakGlass));
  } else {
    blocks.push(context(['Choose a resource to see how long you can have it.']));
  }
  blocks.push({
    type: 'input',
    block_id: BLOCKS.justification,
    label: plain('Why do you need it?'),
    hint: plain(
      `At least ${input.minJustification} characters. Approvers see this, and it is kept in the audit log.`,
    ),
    element: {
      type: 'plain_text_input',
      action_id: ACTIONS.justificationInput,
      multiline: true,
      max_length: 2000,
    },
  });
  if (selected && (selected.requireTicket || selected.ticketPattern)) {
    blocks.push({
      type: 'input',
      block_id: BLOCKS.ticket,
      optional: !selected.requireTicket,
      label: plain('Ticket'),
      ...(ticketExample(selected)
        ? { hint: plain(`A reference like ${ticketExample(selected)}`) }
        : {}),
      element: { type: 'plain_text_input', action_id: ACTIONS.ticketInput, max_length: 200 },
    });
  }
  if (selected) {
    blocks.push({
      type: 'input',
      block_id: BLOCKS.start,
      optional: true,
      label: plain('Start later'),
      hint: plain(
        `Empty: as soon as it is approved. A time: the next such time (${input.timezone}); the request expires if nobody decides before it.`,
      ),
      element: { type: 'timepicker', action_id: ACTIONS.startInput },
    });
  }
  return modal({ ...base, submit: 'Request', close: 'Cancel', blocks });
}

/** The value of the ticked break-glass box. */
export const BREAK_GLASS_VALUE = 'break_glass';

/** The clearly marked choice to skip approval, shown only to those who may break the glass. */
function breakGlassChoice(glass: BreakGlass): types.InputBlock {
  return {
    type: 'input',
    block_id: BLOCKS.breakGlass,
    optional: true,
    label: plain('🚨 Break glass (emergencies only)'),
    hint: plain(
      `Every use is audited, and an approver of this resource must review it within ${formatDuration(glass.reviewWithin)}.`,
    ),
    element: {
      type: 'checkboxes',
      action_id: ACTIONS.breakGlassChoice,
      options: [
        {
          text: {
            type: 'mrkdwn',
            text: truncate(
              `*Grant now, without approval* (at most ${formatDuration(glass.maxDuration)})`,
              LIMITS.optionText,
            ),
          },
          description: plain('Approvers and admins are alerted at once.', LIMITS.optionText),
          value: BREAK_GLASS_VALUE,
        },
      ],
    },
  };
}

function reasonInput(label: string, optional: boolean, hint?: string): types.InputBlock {
  return {
    type: 'input',
    block_id: BLOCKS.reason,
    optional,
    label: plain(label),
    ...(hint ? { hint: plain(hint) } : {}),
    element: {
      type: 'plain_text_input',
      action_id: ACTIONS.reasonInput,
      multiline: true,
      max_length: 2000,
    },
  };
}

/** The request a deny form is about, as the approver reads it. */
export interface DenyModalSubject {
  request: Pick<RequestRow, 'kind' | 'requester' | 'resourceId' | 'durationMs'>;
  resourceName: string;
  /** The approver who clicked Deny. */
  reader: string;
}

/** Asks an approver for an optional reason before denying; it says whose request for what. */
export function denyModal(metadata: DenyModalMetadata, subject?: DenyModalSubject): Modal {
  const what = subject
    ? `Deny ${requestTitle(subject.request, subject.resourceName, subject.reader)}?`
    : `Deny request ${code(metadata.requestId)}?`;
  return modal({
    callbackId: VIEWS.deny,
    title: 'Deny request',
    submit: 'Deny',
    close: 'Cancel',
    metadata,
    blocks: [
      section(what),
      reasonInput('Reason (optional)', true, 'The requester sees it in their DM.'),
    ],
  });
}

/** Shown while the extend form's data is looked up, so the trigger id is used at once. */
export function loadingModal(callbackId: string, title: string): Modal {
  return modal({ callbackId, title, blocks: [section(':hourglass_flowing_sand: One moment…')] });
}

/**
 * How much more time a grant may still be given (`room`: zero for a grant that is not active) and
 * how long it may last in all (`whole`), by the ceiling the core applies (`extensionCeiling`).
 */
export function extensionRoom(
  grant: GrantRow,
  resource: Resource,
): { room: number; whole: number } {
  if (grant.status !== 'active' || grant.startsAt === null || grant.expiresAt === null)
    return { room: 0, whole: resource.maxTotalDuration };
  const ceiling = extensionCeiling(grant, grant.startsAt, resource);
  return { room: Math.max(0, ceiling - grant.expiresAt), whole: ceiling - grant.startsAt };
}

/** Asks the holder of a grant how much more time they need and why. */
export function extendModal(input: {
  grant: GrantRow;
  resource: Resource;
  metadata: ExtendModalMetadata;
}): Modal {
  const { grant, resource } = input;
  const { room, whole } = extensionRoom(grant, resource);
  const most = Math.min(room, resource.maxDuration);
  return modal({
    callbackId: VIEWS.extend,
    title: 'Extend access',
    submit: 'Ask for more time',
    close: 'Cancel',
    metadata: input.metadata,
    blocks: [
      section(
        `More time on *${escapeAndFit(resource.name, LIMITS.optionText)}* (${code(grant.id)}). ` +
          `You can add up to ${humanDuration(most)} (${humanDuration(whole)} in all from the start of the grant); the same approvers decide.`,
      ),
      durationInput(resource, resource.defaultDuration, 'Extra time', most),
      reasonInput('Why do you need more time?', false),
    ],
  });
}

/** A modal that only tells something, e.g. replacing a form whose action can no longer happen. */
export function noticeModal(callbackId: string, title: string, mrkdwn: string): Modal {
  return modal({ callbackId, title, blocks: [section(mrkdwn)] });
}
