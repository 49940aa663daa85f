import { setTimeout as sleep } from 'node:timers/promises';
import type { AccountAssignmentOperationStatus } from '@aws-sdk/client-sso-admin';
import { abortReason } from '../abort';

/** How often to ask whether AWS has finished: `pollInterval`, doubling up to `maxPollInterval`. */
export interface PollSchedule {
  pollInterval: number;
  maxPollInterval: number;
}

/** AWS finished the request and it failed; `reason` is its FailureReason. */
export class ProvisioningFailedError extends Error {
  constructor(
    readonly what: string,
    readonly reason: string,
  ) {
    super(`${what} failed in AWS: ${reason}`);
    this.name = 'ProvisioningFailedError';
  }
}

/**
 * Waits until an account assignment request AWS answered IN_PROGRESS is SUCCEEDED, polling its
 * status with `describe`; throws ProvisioningFailedError when it FAILED. The wait ends with the
 * call's signal: AWS carries on by itself, and the next attempt finds the assignment.
 */
export async function untilProvisioned(
  what: string,
  first: AccountAssignmentOperationStatus | undefined,
  describe: (requestId: string) => Promise<AccountAssignmentOperationStatus | undefined>,
  schedule: PollSchedule,
  signal: AbortSignal,
): Promise<void> {
  let status = first;
  let delay = schedule.pollInterval;
  while (status?.Status === 'IN_PROGRESS') {
    const requestId = status.RequestId;
    if (!requestId) throw new Error(`${what} is IN_PROGRESS but AWS gave no RequestId to follow`);
    try {
      await sleep(delay, undefined, { signal });
    } catch {
      throw new Error(`waiting for ${what} ${abortReason(signal)} (AWS still provisioning)`);
    }
    delay = Math.min(delay * 2, schedule.maxPollInterval);
    status = await describe(requestId);
  }
  if (status?.Status === 'FAILED') {
    throw new ProvisioningFailedError(what, status.FailureReason || 'no reason given');
  }
  if (status?.Status !== 'SUCCEEDED') {
    throw new Error(`${what} answered an unknown status: ${String(status?.Status)}`);
  }
}
