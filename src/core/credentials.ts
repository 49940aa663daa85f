import { sealedName } from '../secrets/seal';
import type { Change, GrantRow } from './context';
import { isPipelineId } from './pipelines';

/**
 * Hands credentials a provider issued to the grant's holder: a person gets them in a DM (through
 * the outbox), a pipeline reads them through the API while the grant lasts. `later`: issued by a
 * re-grant after the activation (an extension's, a repair's), each keyed by its own sealed value
 * so two in one millisecond are two notifications.
 */
export async function issueCredentials(
  c: Change,
  grant: Pick<GrantRow, 'id' | 'userId'>,
  sealed: string,
  later = false,
): Promise<void> {
  if (isPipelineId(grant.userId)) {
    await c.tx.pipelineCredentials.put(grant.id, sealed, c.now);
    return;
  }
  const key = later
    ? `grant.credentials:${grant.id}:${sealedName(sealed)}`
    : `grant.credentials:${grant.id}`;
  c.notify(key, {
    topic: 'credentials',
    userId: grant.userId,
    grantId: grant.id,
    sealed,
    ...(later ? { later: true as const } : {}),
  });
}
