import { explanationLines } from '../../../core';
import { takeWords } from '../../command-parser';
import { textReply, usageReply } from '../../ui/replies';
import type { Subcommand } from './subcommand';

const usage = '/jit explain <resource-id>';

/** What the rules of a resource say to the caller, from the same rules that decide requests. */
export const explainSubcommand: Subcommand = {
  name: 'explain',
  aliases: ['why'],
  usage,
  summary: 'says whether you may request a resource, who decides, and which rule stops you.',
  async run(ctx) {
    const [resourceId] = takeWords(ctx.rest, 1).words;
    if (!resourceId) return ctx.reply(usageReply('Say which resource to explain.', usage));
    const explanation = await ctx.core.explain(ctx.userId, resourceId);
    await ctx.reply(textReply(explanationLines(explanation).join('\n')));
  },
};
