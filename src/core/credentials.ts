import type { Change, GrantRow } from './context';
import { isPipelineId } from './pipelines';

/**
 * Hands credentials a provider issued to the grant's holder: a person gets them in a DM (through
 * the outbox, keyed by `key`), a pipeline reads them through the API while the grant lasts.
 */
export async function issueCredentials(
  c: Change,
  grant: Pick<GrantRow, 'id' | 'userId'>,
  sealed: string,
  key: string,
): Promise<void> {
  if (isPipelineId(grant.userId)) {
    await c.tx.pipelineCredentials.put(grant.id, sealed, c.now);
    return;
  }
  c.notify(key, { topic: 'credentials', userId: grant.userId, grantId: grant.id, sealed });
}
