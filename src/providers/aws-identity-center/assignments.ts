import {
  CreateAccountAssignmentCommand,
  DeleteAccountAssignmentCommand,
  DescribeAccountAssignmentCreationStatusCommand,
  DescribeAccountAssignmentDeletionStatusCommand,
  ListAccountAssignmentCreationStatusCommand,
  ListAccountAssignmentsCommand,
  type AccountAssignmentOperationStatus,
  type SSOAdminClient,
} from '@aws-sdk/client-sso-admin';
import { awsCall } from './aws-call';
import { ProvisioningFailedError, untilProvisioned, type PollSchedule } from './provisioning';

const PAGE_SIZE = 100;

/** One user's assignment of a permission set on an account: what a grant gives. */
export interface UserAssignment {
  accountId: string;
  permissionSetArn: string;
  userId: string;
}

/**
 * Account assignments of one Identity Center instance, created and deleted to a settled state:
 * each change waits for AWS's asynchronous provisioning, and is skipped when the listing already
 * shows the wanted state.
 */
export class AccountAssignments {
  constructor(
    private readonly client: SSOAdminClient,
    private readonly instanceArn: string,
    private readonly schedule: PollSchedule,
  ) {}

  /** Whether AWS lists the assignment, following NextToken through every page. */
  async has(assignment: UserAssignment, signal: AbortSignal): Promise<boolean> {
    let nextToken: string | undefined;
    do {
      const page = await awsCall(signal, 'ListAccountAssignments', (abortSignal) =>
        this.client.send(
          new ListAccountAssignmentsCommand({
            InstanceArn: this.instanceArn,
            AccountId: assignment.accountId,
            PermissionSetArn: assignment.permissionSetArn,
            MaxResults: PAGE_SIZE,
            NextToken: nextToken,
          }),
          { abortSignal },
        ),
      );
      const listed = page.AccountAssignments ?? [];
      if (listed.some((a) => a.PrincipalType === 'USER' && a.PrincipalId === assignment.userId)) {
        return true;
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return false;
  }

  /**
   * Whether the person holds the assignment or AWS is creating it: ListAccountAssignments shows an
   * assignment only once its creation SUCCEEDED, so a creation still in progress (an attempt cut
   * off by its timeout) would otherwise read as absent and be recorded revoked before it lands.
   * The creations are read first: one that succeeds between the two reads is listed by then.
   */
  async heldOrUnderway(assignment: UserAssignment, signal: AbortSignal): Promise<boolean> {
    if ((await this.creationsUnderway(assignment, signal)).length > 0) return true;
    return this.has(assignment, signal);
  }

  async ensurePresent(assignment: UserAssignment, signal: AbortSignal): Promise<void> {
    if (await this.has(assignment, signal)) return;
    await this.settle(assignment, true, signal, async () => {
      const created = await awsCall(signal, 'CreateAccountAssignment', (abortSignal) =>
        this.client.send(new CreateAccountAssignmentCommand(this.request(assignment)), {
          abortSignal,
        }),
      );
      await untilProvisioned(
        'CreateAccountAssignment',
        created.AccountAssignmentCreationStatus,
        (requestId) => this.describeCreation(requestId, signal),
        this.schedule,
        signal,
      );
    });
  }

  /**
   * Deletes the assignment, once any creation of it still in progress has settled: deleting before
   * it lands would find nothing to delete, and AWS would then finish the creation.
   */
  async ensureAbsent(assignment: UserAssignment, signal: AbortSignal): Promise<void> {
    await this.untilCreationsSettle(assignment, signal);
    if (!(await this.has(assignment, signal))) return;
    await this.settle(assignment, false, signal, async () => {
      const deleted = await awsCall(signal, 'DeleteAccountAssignment', (abortSignal) =>
        this.client.send(new DeleteAccountAssignmentCommand(this.request(assignment)), {
          abortSignal,
        }),
      );
      await untilProvisioned(
        'DeleteAccountAssignment',
        deleted.AccountAssignmentDeletionStatus,
        async (requestId) => {
          const described = await awsCall(
            signal,
            'DescribeAccountAssignmentDeletionStatus',
            (abortSignal) =>
              this.client.send(
                new DescribeAccountAssignmentDeletionStatusCommand({
                  InstanceArn: this.instanceArn,
                  AccountAssignmentDeletionRequestId: requestId,
                }),
                { abortSignal },
              ),
          );
          return described.AccountAssignmentDeletionStatus;
        },
        this.schedule,
        signal,
      );
    });
  }

  /**
   * The creations of this assignment AWS reports IN_PROGRESS. ListAccountAssignmentCreationStatus
   * gives only each request's id and status, so each one is described to learn its assignment.
   */
  private async creationsUnderway(
    assignment: UserAssignment,
    signal: AbortSignal,
  ): Promise<AccountAssignmentOperationStatus[]> {
    const underway: AccountAssignmentOperationStatus[] = [];
    for (const requestId of await this.creationRequestsInProgress(signal)) {
      const status = await this.describeCreation(requestId, signal);
      if (status?.Status === 'IN_PROGRESS' && isOf(status, assignment)) underway.push(status);
    }
    return underway;
  }

  /** The ids of every creation in progress on the instance, following NextToken. */
  private async creationRequestsInProgress(signal: AbortSignal): Promise<string[]> {
    const ids: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await awsCall(signal, 'ListAccountAssignmentCreationStatus', (abortSignal) =>
        this.client.send(
          new ListAccountAssignmentCreationStatusCommand({
            InstanceArn: this.instanceArn,
            Filter: { Status: 'IN_PROGRESS' },
            MaxResults: PAGE_SIZE,
            NextToken: nextToken,
          }),
          { abortSignal },
        ),
      );
      for (const status of page.AccountAssignmentsCreationStatus ?? []) {
        if (status.RequestId) ids.push(status.RequestId);
      }
      nextToken = page.NextToken;
    } while (nextToken);
    return ids;
  }

  /**
   * Waits until every creation of this assignment in progress has SUCCEEDED or FAILED. One that
   * FAILED created nothing, so it is no reason to fail a revoke.
   */
  private async untilCreationsSettle(
    assignment: UserAssignment,
    signal: AbortSignal,
  ): Promise<void> {
    for (const status of await this.creationsUnderway(assignment, signal)) {
      await untilProvisioned(
        'CreateAccountAssignment',
        status,
        (requestId) => this.describeCreation(requestId, signal),
        this.schedule,
        signal,
      ).catch((err: unknown) => {
        if (!(err instanceof ProvisioningFailedError)) throw err;
      });
    }
  }

  private async describeCreation(
    requestId: string,
    signal: AbortSignal,
  ): Promise<AccountAssignmentOperationStatus | undefined> {
    const described = await awsCall(
      signal,
      'DescribeAccountAssignmentCreationStatus',
      (abortSignal) =>
        this.client.send(
          new DescribeAccountAssignmentCreationStatusCommand({
            InstanceArn: this.instanceArn,
            AccountAssignmentCreationRequestId: requestId,
          }),
          { abortSignal },
        ),
    );
    return described.AccountAssignmentCreationStatus;
  }

  /**
   * Runs `change`; when it fails, reads the assignment back first, since the wanted state may
   * hold anyway: a ConflictException while an earlier attempt's request is still provisioning,
   * or a request that failed because another one got there first. Absence counts only with no
   * creation underway: a DeleteAccountAssignment refused with a ConflictException because a
   * creation is in progress has not made the assignment absent.
   */
  private async settle(
    assignment: UserAssignment,
    wanted: boolean,
    signal: AbortSignal,
    change: () => Promise<void>,
  ): Promise<void> {
    try {
      await change();
    } catch (err) {
      if (signal.aborted) throw err;
      const read = wanted ? this.has(assignment, signal) : this.heldOrUnderway(assignment, signal);
      const holds = await read.then(
        (present) => present === wanted,
        () => false,
      );
      if (!holds) throw err;
    }
  }

  private request(assignment: UserAssignment) {
    return {
      InstanceArn: this.instanceArn,
      TargetId: assignment.accountId,
      TargetType: 'AWS_ACCOUNT',
      PermissionSetArn: assignment.permissionSetArn,
      PrincipalType: 'USER',
      PrincipalId: assignment.userId,
    } as const;
  }
}

/** Whether a creation or deletion request is about `assignment`. */
function isOf(status: AccountAssignmentOperationStatus, assignment: UserAssignment): boolean {
  return (
    status.TargetId === assignment.accountId &&
    status.PermissionSetArn === assignment.permissionSetArn &&
    status.PrincipalType === 'USER' &&
    status.PrincipalId === assignment.userId
  );
}
