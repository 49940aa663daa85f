import {
  CreateAccountAssignmentCommand,
  DeleteAccountAssignmentCommand,
  DescribeAccountAssignmentCreationStatusCommand,
  DescribeAccountAssignmentDeletionStatusCommand,
  ListAccountAssignmentsCommand,
  type SSOAdminClient,
} from '@aws-sdk/client-sso-admin';
import { awsCall } from './aws-call';
import { untilProvisioned, type PollSchedule } from './provisioning';

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
        async (requestId) => {
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
        },
        this.schedule,
        signal,
      );
    });
  }

  async ensureAbsent(assignment: UserAssignment, signal: AbortSignal): Promise<void> {
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
   * Runs `change`; when it fails, reads the assignment back first, since the wanted state may
   * hold anyway: a ConflictException while an earlier attempt's request is still provisioning,
   * or a request that failed because another one got there first.
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
      const holds = await this.has(assignment, signal).then(
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
