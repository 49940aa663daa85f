import type { types } from '@slack/bolt';
import type { RequestRow } from '../../core';
import type { UserOverview } from '../../core';
import { ACTIONS } from '../ids';
import { actions, button, context, divider, header, section, type Block } from './blocks';
import { escapeAndFit, formatTime, mention } from './format';
import { overviewBlocks, requestLine, type ListContext } from './replies';

/** Requests shown in "Waiting for your decision"; the approver channel has the rest. */
const AWAITING_CAP = 10;

export interface AwaitingDecision {
  request: RequestRow;
  /** Approvals recorded so far. */
  approvals: number;
}

export interface HomeInput extends ListContext {
  overview: UserOverview;
  /** Requests this person may decide now; empty for people who approve nothing. */
  awaiting: readonly AwaitingDecision[];
  /** One line on what the person just did from Home, or what went wrong. */
  notice?: string;
}

function awaitingBlocks(items: readonly AwaitingDecision[], ctx: ListContext): Block[] {
  const blocks: Block[] = [divider(), section('*Waiting for your decision*')];
  for (const { request, approvals } of items.slice(0, AWAITING_CAP)) {
    const ticket = request.ticket ? `\nTicket: ${escapeAndFit(request.ticket, 200)}` : '';
    const progress =
      request.approvalsRequired > 1
        ? `\n${approvals} of ${request.approvalsRequired} approvals so far`
        : '';
    blocks.push(
      section(
        `${mention(request.requester)} asks for ${requestLine(request, ctx)}\n>${escapeAndFit(request.justification, 1000)}${ticket}${progress}`,
      ),
      {
        ...actions([
          {
            ...button({ text: 'Approve', actionId: ACTIONS.approve, value: request.id }),
            style: 'primary',
          },
          {
            ...button({ text: 'Deny', actionId: ACTIONS.deny, value: request.id }),
            style: 'danger',
          },
        ]),
        block_id: `decide:${request.id}`,
      },
    );
  }
  if (items.length > AWAITING_CAP) {
    blocks.push(context([`…and ${items.length - AWAITING_CAP} more in the approver channels.`]));
  }
  return blocks;
}

/** The App Home tab: a way in, the person's access and requests, and what waits for them. */
export function homeView(input: HomeInput): types.HomeView {
  const blocks: Block[] = [
    header('Hallpass'),
    {
      ...section(
        'Temporary access, approved in Slack and taken away when the time is up. `/jit help` lists the commands.',
      ),
      accessory: {
        ...button({ text: 'Request access', actionId: ACTIONS.openRequestModal, value: 'home' }),
        style: 'primary',
      },
    },
  ];
  if (input.notice) blocks.push(section(input.notice));
  blocks.push(divider(), ...overviewBlocks(input.overview, input));
  if (input.awaiting.length > 0) blocks.push(...awaitingBlocks(input.awaiting, input));
  blocks.push(context([`Updated ${formatTime(input.now, input.timezone, input.now)}`]));
  return { type: 'home', blocks };
}
