import { setTimeout as sleep } from 'node:timers/promises';
import { abortReason } from '../abort';
import type { Policy } from './policy';
import { GoogleApiError, type ResourceManager } from './resource-manager';

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;

/**
 * One read-modify-write of a resource's policy. The write carries the etag of the read, so IAM
 * refuses it (409 ABORTED) if anyone changed the policy in between; then the whole cycle starts
 * again from a fresh read, at most `maxConflictRetries` more times, with jittered backoff.
 * `change` returns null when the policy already is as wanted, and nothing is written.
 */
export async function updatePolicy(
  crm: ResourceManager,
  resource: string,
  signal: AbortSignal,
  maxConflictRetries: number,
  change: (policy: Policy) => Policy | null,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const next = change(await crm.getIamPolicy(resource, signal));
    if (next === null) return;
    try {
      await crm.setIamPolicy(resource, next, signal);
      return;
    } catch (err) {
      if (!(err instanceof GoogleApiError && err.isConflict)) throw err;
      if (attempt >= maxConflictRetries) {
        throw new Error(
          `gcp-iam: the IAM policy of ${resource} changed during each of ${attempt + 1} read-modify-write attempts (409 ABORTED); the call is retried later`,
        );
      }
    }
    await backoff(attempt, resource, signal);
  }
}

async function backoff(attempt: number, resource: string, signal: AbortSignal): Promise<void> {
  const ceiling = Math.min(FIRST_BACKOFF_MS * 2 ** attempt, MAX_BACKOFF_MS);
  try {
    await sleep(ceiling / 2 + Math.random() * (ceiling / 2), undefined, { signal });
  } catch {
    throw new Error(`gcp-iam setIamPolicy on ${resource} ${abortReason(signal)}`);
  }
}
