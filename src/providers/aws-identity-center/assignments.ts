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
import { forEachLimited } from '../../limit';
import { awsCall } from './aws-call';
import { ProvisioningFailedError, untilProvisioned, type PollSchedule } from './provisioning';

const PAGE_SIZE = 100;

/**
 * Creations whose assignment is not yet known are described this many at a time: a rollout puts
 * hundreds in progress, too many round trips to make one after another within a call's timeout,
 * while the rollout itself and the SDK's throttling retries share the instance's API rate.
 */
const DESCRIBE_CONCURRENCY = 8;

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
  /**
   * The assignment (its key) of each creation request seen in progress, by RequestId, kept for the
   * ids on the latest listing of creations in progress: a request's assignment never changes, so
   * each is described once however many checks and revokes meet it while it runs.
   */
  private readonly creationAssignments = new Map<string, string>();

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
   * A creation found SUCCEEDED counts too: it landed after the listing was read.
   */
  async heldOrUnderway(assignment: UserAssignment, signal: AbortSignal): Promise<boolean> {
    const seen = await this.sight(assignment, signal);
    return seen.listed || seen.creations.some((status) => status.Status !== 'FAILED');
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
   * it lands would find nothing to delete, and AWS would then finish the creation. A listed
   * assignment is deleted at once: AWS refuses the delete with a ConflictException while a creation
   * of it is underway, which `settle` does not take as absence, so the revoke fails and is retried.
   */
  async ensureAbsent(assignment: UserAssignment, signal: AbortSignal): Promise<void> {
    const seen = await this.sight(assignment, signal);
    if (!seen.listed) {
      const pending = seen.creations.filter((status) => status.Status !== 'FAILED');
      if (pending.length === 0) return;
      await this.untilSettled(pending, signal);
      if (!(await this.has(assignment, signal))) return;
    }
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
   * Whether AWS lists the assignment, and when it does not, the creations of it that were in
   * progress. A listed assignment is held whatever else is underway, so creations are looked at
   * only when it is not. Their ids are read before listing again: a creation that finishes between
   * the two reads is listed by the second, and one still running is among the ids.
   */
  private async sight(assignment: UserAssignment, signal: AbortSignal): Promise<Sighting> {
    if (await this.has(assignment, signal)) return { listed: true };
    const inProgress = await this.creationRequestsInProgress(signal);
    if (await this.has(assignment, signal)) return { listed: true };
    return { listed: false, creations: await this.creationsOf(assignment, inProgress, signal) };
  }

  /**
   * The current status of each of `requestIds` that creates `assignment`. Which request is whose
   * is read from memory before any await, so a concurrent call forgetting ids cannot hide one.
   * Those known to be of this assignment are described again: their status, unlike their
   * assignment, moves on.
   */
  private async creationsOf(
    assignment: UserAssignment,
    requestIds: string[],
    signal: AbortSignal,
  ): Promise<AccountAssignmentOperationStatus[]> {
    this.forgetAllBut(requestIds);
    const key = assignmentKey(assignment);
    const unknown = requestIds.filter((id) => !this.creationAssignments.has(id));
    const ours = requestIds.filter((id) => this.creationAssignments.get(id) === key);
    const [learned, again] = await Promise.all([
      this.describeUnknown(unknown, signal),
      Promise.all(ours.map((id) => this.describeCreation(id, signal))),
    ]);
    return [...learned, ...again].filter(
      (status): status is AccountAssignmentOperationStatus =>
        status !== undefined && statusKey(status) === key,
    );
  }

  /**
   * Forgets the requests missing from `requestIds`, the latest listing of those in progress: they
   * have settled, and will not be met again. This bounds the memory by what AWS has underway.
   */
  private forgetAllBut(requestIds: string[]): void {
    const listed = new Set(requestIds);
    for (const id of this.creationAssignments.keys()) {
      if (!listed.has(id)) this.creationAssignments.delete(id);
    }
  }

  /** Describes `requestIds` a few at a time, and remembers the assignment of each. */
  private async describeUnknown(
    requestIds: string[],
    signal: AbortSignal,
  ): Promise<AccountAssignmentOperationStatus[]> {
    const statuses: AccountAssignmentOperationStatus[] = [];
    await forEachLimited(requestIds, DESCRIBE_CONCURRENCY, async (id) => {
      const status = await this.describeCreation(id, signal);
      if (!status) return;
      this.creationAssignments.set(id, statusKey(status));
      statuses.push(status);
    });
    return statuses;
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
   * Waits until each of `creations` has SUCCEEDED or FAILED. One that FAILED created nothing, so
   * it is no reason to fail a revoke.
   */
  private async untilSettled(
    creations: AccountAssignmentOperationStatus[],
    signal: AbortSignal,
  ): Promise<void> {
    for (const status of creations) {
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

/** What AWS shows of an assignment: listed, or not, with the creations of it then in progress. */
type Sighting = { listed: true } | { listed: false; creations: AccountAssignmentOperationStatus[] };

/** An assignment as one string, to match it with the assignment a creation request is of. */
function assignmentKey(assignment: UserAssignment): string {
  return JSON.stringify([
    assignment.accountId,
    assignment.permissionSetArn,
    'USER',
    assignment.userId,
  ]);
}

/** The assignment a creation request is of, keyed as `assignmentKey` keys an assignment. */
function statusKey(status: AccountAssignmentOperationStatus): string {
  return JSON.stringify([
    status.TargetId,
    status.PermissionSetArn,
    status.PrincipalType,
    status.PrincipalId,
  ]);
}
