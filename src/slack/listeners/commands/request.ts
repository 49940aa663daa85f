import { DomainError, ticketExample } from '../../../core';

import { parseRequestArgs, type RequestArgs } from '../../command-parser';
import { truncate } from '../../ui/format';
import { errorReply, requestFiledText, textReply, usageReply } from '../../ui/replies';
import type { Subcommand } from './subcommand';

const usage = '/jit request <resource-id> <duration> [from HH:MM] <why…> [ticket:REF]';

/**
 * A ticket problem says how a ticket is written in the command, with the person's own command
 * completed by an example reference, ready to copy.
 */
function ticketHelp(message: string, args: RequestArgs, example: string): string {
  const why = truncate(args.justification.replace(/`/g, "'").replace(/\s+/g, ' '), 80);
  return (
    `${message}\nAdd it anywhere after the duration as \`ticket:${example}\`, e.g. ` +
    `\`/jit request ${args.resourceId} ${args.duration} ${why} ticket:${example}\``
  );
}

export const requestSubcommand: Subcommand = {
  name: 'request',
  usage,
  summary: 'asks for access, e.g. `/jit request prod-db 1h investigating INC-42`.',
  async run(ctx) {
    const parsed = parseRequestArgs(ctx.rest);
    if (!parsed.ok) return ctx.reply(usageReply(parsed.problem, usage));
    const { resourceId, duration, justification, ticket, startAt } = parsed.value;
    let row;
    try {
      row = await ctx.core.createRequest({
        requester: ctx.userId,
        resourceId,
        duration,
        justification,
        ticket,
        startAt,
        // One command invocation files at most one request, even if it were delivered twice.
        clientKey: `command:${ctx.command.trigger_id}`,
      });
    } catch (err) {
      const resource = ctx.core.policy.findResource(resourceId);
      const example = resource && ticketExample(resource);
      if (err instanceof DomainError && err.field === 'ticket' && example)
        return ctx.reply(errorReply(ticketHelp(err.message, parsed.value, example)));
      throw err;
    }
    const resource = ctx.core.policy.resource(row.resourceId);
    await ctx.reply(
      textReply(
        requestFiledText(row, resource, ctx.core.policy.approverChannel(resource), {
          timezone: ctx.core.config.timezone,
          now: ctx.core.now(),
        }),
      ),
    );
  },
};
