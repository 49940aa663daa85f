import { parseIdArgs } from '../../command-parser';
import { revokedText, textReply, usageReply } from '../../ui/replies';
import { listContext } from '../deps';
import type { Subcommand } from './subcommand';

const usage = '/jit revoke <grant-id> [note…]';

export const revokeSubcommand: Subcommand = {
  name: 'revoke',
  usage,
  summary: 'ends a grant now (yours, or anyone’s if you are an admin).',
  async run(ctx) {
    const parsed = parseIdArgs(ctx.rest, 'grant');
    if (!parsed.ok) return ctx.reply(usageReply(parsed.problem, usage));
    const grant = await ctx.core.revokeGrant({
      grantId: parsed.value.id,
      actor: ctx.userId,
      reason: parsed.value.note || undefined,
    });
    const name = listContext(ctx.core).nameOf(grant.resourceId);
    await ctx.reply(textReply(revokedText(grant, name, ctx.userId)));
  },
};
