import { z } from 'zod';
import { sealedName } from '../../secrets/seal';
import { parseJson } from '../payload-values';
import { credentialsMessage, requesterDm, withCredentials } from '../ui/messages';
import { Undeliverable } from './failures';
import type { TopicHandler } from './topic-handler';
import { activeDmRef } from './requester-dm';
import { accessChannelOf, resourceView } from './views';

/** What the sweeper seals: the provider's Credentials, as JSON. */
const sealedCredentials = z.object({ text: z.string() });

/** Marks an "access is active" DM that already shows the credentials of its activation. */
const WITH_CREDENTIALS = 'holder-credentials';

/**
 * Opens the sealed credentials and shows them once, while the grant is active: added to the
 * grant's "access is active" DM (queued just before them, so one event is one message), or, for
 * credentials issued later (a re-grant with a new password), as a DM of their own. The plaintext
 * lives only in this call: it is never logged, and the dispatcher drops the sealed copy from the
 * outbox once the row is done.
 */
export const deliverCredentials: TopicHandler<'credentials'> = async (n, ctx) => {
  const grant = await ctx.core.grant(n.grantId);
  if (!grant) throw new Undeliverable(`grant ${n.grantId} does not exist`);
  const ref = activeDmRef(grant.id);
  // This issuance already joined the DM: a retry after a crash between Slack's answer and the
  // row being marked sent must not show it again.
  const issued = `${WITH_CREDENTIALS}:${sealedName(n.sealed)}`;
  if (await ctx.slack.knows(ref.subject, issued)) {
    // The crash may have come between the join's two marks: finish them, so credentials issued
    // later (a re-grant) get a DM of their own rather than an edit of this one.
    if (!(await ctx.slack.knows(ref.subject, WITH_CREDENTIALS)))
      await ctx.slack.mark(ref.subject, ref.purpose, WITH_CREDENTIALS);
    return;
  }
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
  // Access that ended before Slack could be reached (or that is ending, or whose end has passed
  // before the sweeper recorded it) is not shown: the row is done, and its sealed copy dropped
  // with it. (Checked after opening: a seal that cannot be opened is given up and alerted
  // whatever the grant's state.)
  if (grant.status !== 'active' || (grant.expiresAt ?? Infinity) <= ctx.now) return;
  const resource = resourceView(ctx.core, grant.resourceId);
  const joined = n.later === true || (await ctx.slack.knows(ref.subject, WITH_CREDENTIALS));
  if (!joined && (await ctx.slack.knows(ref.subject, ref.purpose))) {
    const request = await ctx.core.request(grant.requestId);
    if (!request) throw new Undeliverable(`request ${grant.requestId} does not exist`);
    const active = requesterDm({
      event: 'grant.active',
      request,
      resource,
      grant,
      guarantees: ctx.guarantees?.guaranteesFor(grant.resourceId),
      channel: accessChannelOf(ctx.core, grant.resourceId, grant),
      now: ctx.now,
      timezone: await ctx.zoneOf(n.userId),
    });
    await ctx.slack.updateKnown(
      ref.subject,
      ref.purpose,
      withCredentials(active, credentials.text),
    );
    await ctx.slack.mark(ref.subject, ref.purpose, issued);
    await ctx.slack.mark(ref.subject, ref.purpose, WITH_CREDENTIALS);
    return;
  }
  await ctx.post(
    n.userId,
    credentialsMessage({ grantId: grant.id, resource, credentials: credentials.text }),
  );
};
