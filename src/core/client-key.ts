import type { Queries } from '../store';
import type { RequestRow } from './context';
import { DomainError } from './errors';

/**
 * The request filed before with `clientKey`, for a retry of the same filing (a Slack retry, an
 * API call sent again). A key another requester used is refused rather than answered: whoever
 * sends it must never be handed someone else's request, nor its grant and credentials. So is a
 * key used for another resource: a retry asks for the same thing, and the rules that let this
 * filing through were checked for `resourceId`, not for the resource of the request it names.
 */
export async function filedBefore(
  tx: Queries,
  clientKey: string | undefined,
  requester: string,
  resourceId: string,
): Promise<RequestRow | undefined> {
  if (!clientKey) return undefined;
  const existing = await tx.requests.byClientKey(clientKey);
  if (existing && existing.requester !== requester)
    throw new DomainError(
      'not_yours',
      'That idempotency key was already used by another requester; use a key of your own.',
    );
  if (existing && existing.resourceId !== resourceId)
    throw new DomainError(
      'bad_state',
      `That idempotency key was already used to ask for ${existing.resourceId}; a request for ${resourceId} needs a key of its own.`,
      'resource',
    );
  return existing;
}
