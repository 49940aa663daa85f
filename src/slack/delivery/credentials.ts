import { z } from 'zod';
import { parseJson } from '../payload-values';
import { credentialsMessage } from '../ui/messages';
import { Undeliverable } from './failures';
import type { TopicHandler } from './topic-handler';
import { resourceView } from './views';

/** What the sweeper seals: the provider's Credentials, as JSON. */
const sealedCredentials = z.object({ text: z.string() });

/**
 * Opens the sealed credentials and DMs them once. The plaintext lives only in this call: it is
 * never logged, and the dispatcher drops the sealed copy from the outbox once the row is done.
 */
export const deliverCredentials: TopicHandler<'credentials'> = async (n, ctx) => {
  const grant = await ctx.core.grant(n.grantId);
  if (!grant) throw new Undeliverable(`grant ${n.grantId} does not exist`);
  let opened: string;
  try {
    opened = ctx.sealer.open(n.sealed);
  } catch {
    throw new Undeliverable(
      'the sealed credentials cannot be opened (was the sealing secret changed?)',
    );
  }
  const credentials = parseJson(sealedCredentials, opened);
  if (!credentials) throw new Undeliverable('the sealed credentials are not { text }');
  await ctx.post(
    n.userId,
    credentialsMessage({
      grantId: grant.id,
      resource: resourceView(ctx.core, grant.resourceId),
      credentials: credentials.text,
    }),
  );
};
