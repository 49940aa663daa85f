import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature, type AwsKey } from './aws-sigv4';

/**
 * IAM Identity Center's two admin APIs on loopback, as the official SDK reaches them: the awsJson1_1
 * protocol (POST /, `X-Amz-Target: SWBExternalService.<Op>` for SSO Admin and
 * `AWSIdentityStore.<Op>` for the Identity Store, `application/x-amz-json-1.1` bodies), every
 * request's Signature Version 4 checked against the keys it knows, errors as the services send
 * them (`__type` with the status of the model's httpError: 400, 403, 404, 409, 429, 500).
 *
 * It models users found by email, permission sets, account assignments whose creation and deletion
 * stay IN_PROGRESS for `provisioningPolls` status polls before they settle, the listing of creation
 * requests by status (ids and statuses only, as AWS gives them), pagination with NextToken, and
 * faults injected per operation (an error answer, or a request left hanging).
 */

type Service = 'sso' | 'identitystore';

const TARGETS: Record<string, Service> = {
  SWBExternalService: 'sso',
  AWSIdentityStore: 'identitystore',
};
const NAMESPACES: Record<Service, string> = {
  sso: 'com.amazonaws.ssoadmin',
  identitystore: 'com.amazonaws.identitystore',
};
const JSON_TYPE = 'application/x-amz-json-1.1';
const MAX_RESULTS = 100;

/** The httpError status each modeled error has in the services' Smithy models. */
const STATUS: Record<string, number> = {
  ValidationException: 400,
  ServiceQuotaExceededException: 402,
  AccessDeniedException: 403,
  ResourceNotFoundException: 404,
  ConflictException: 409,
  ThrottlingException: 429,
  InternalServerException: 500,
};

export type AwsErrorType = keyof typeof STATUS;

/**
 * `error`: answer with that error instead; with `applied`, the operation first takes effect and
 * finishes (two requests racing, the other one winning). `hang`: never answer.
 */
export type Fault =
  { kind: 'error'; type: AwsErrorType; message?: string; applied?: boolean } | { kind: 'hang' };

/** One request that reached an operation (its signature held). */
export interface RecordedCall {
  service: Service;
  operation: string;
  input: Record<string, unknown>;
  accessKeyId: string;
}

/** A request the signature check turned away. */
export interface RefusedCall {
  target: string;
  type: string;
}

interface Assignment {
  accountId: string;
  permissionSetArn: string;
  principalType: string;
  principalId: string;
}

interface ProvisioningRequest {
  id: string;
  kind: 'create' | 'delete';
  assignment: Assignment;
  pollsLeft: number;
  failure?: string;
  status: 'IN_PROGRESS' | 'FAILED' | 'SUCCEEDED';
  createdDate: number;
}

/** An error answer; `fields` go into its body beside the message (ResourceType, ResourceId). */
export class AwsError extends Error {
  constructor(
    readonly type: AwsErrorType,
    message: string,
    readonly fields: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface FakeAwsSsoOptions {
  region?: string;
  keys: AwsKey[];
}

export class FakeAwsSso {
  readonly region: string;
  readonly instanceArn = `arn:aws:sso:::instance/ssoins-${hex(8)}`;
  readonly identityStoreId = `d-${hex(5)}`;
  readonly calls: RecordedCall[] = [];
  readonly refused: RefusedCall[] = [];
  /** Status polls a creation or deletion answers IN_PROGRESS before it settles. */
  provisioningPolls = 0;
  /** Largest page the List operations answer, below MaxResults. */
  pageSize = MAX_RESULTS;
  /** Every address gets a user on first lookup, for tests whose people are made up as they go. */
  enrollOnLookup = false;

  private readonly keys: AwsKey[];
  private readonly usersByEmail = new Map<string, string>();
  private readonly permissionSets = new Map<string, string>();
  private assignments: Assignment[] = [];
  private readonly requests = new Map<string, ProvisioningRequest>();
  private readonly failures: string[] = [];
  private readonly faults = new Map<string, { fault: Fault; times: number }[]>();
  private hung: ServerResponse[] = [];
  private server?: Server;

  constructor(options: FakeAwsSsoOptions) {
    this.region = options.region ?? 'eu-west-1';
    this.keys = options.keys;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | undefined;
    if (!address) throw new Error('FakeAwsSso is not started');
    return `http://127.0.0.1:${address.port}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.clearFaults();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  addUser(email: string): string {
    const existing = this.usersByEmail.get(email);
    if (existing) return existing;
    const userId = randomUUID();
    this.usersByEmail.set(email, userId);
    return userId;
  }

  userIdOf(email: string): string | undefined {
    return this.usersByEmail.get(email);
  }

  addPermissionSet(name: string): string {
    const instanceId = this.instanceArn.split('/')[1];
    const arn = `arn:aws:sso:::permissionSet/${instanceId}/ps-${hex(8)}`;
    this.permissionSets.set(arn, name);
    return arn;
  }

  removePermissionSet(arn: string): void {
    this.permissionSets.delete(arn);
    this.assignments = this.assignments.filter((a) => a.permissionSetArn !== arn);
  }

  /** An assignment made outside Hallpass (someone else's, or the console's). */
  assign(accountId: string, permissionSetArn: string, principalId: string): void {
    this.assignments.push({ accountId, permissionSetArn, principalType: 'USER', principalId });
  }

  /** How many assignments of `permissionSetArn` on `accountId` the user with `email` holds. */
  held(email: string | undefined, accountId: string, permissionSetArn: string): number {
    const userId = email && this.usersByEmail.get(email);
    return this.assignments.filter(
      (a) =>
        a.principalId === userId &&
        a.accountId === accountId &&
        a.permissionSetArn === permissionSetArn,
    ).length;
  }

  /** The next creation or deletion to settle ends FAILED with `reason`. */
  failNextProvisioning(reason: string): void {
    this.failures.push(reason);
  }

  /** AWS finishing every request in progress by itself, whether or not anyone polls. */
  settleAll(): void {
    for (const request of this.requests.values()) {
      if (request.status === 'IN_PROGRESS') this.settle(request);
    }
  }

  /** The next `times` requests of `operation` (`*`: any operation) meet `fault`. */
  fail(operation: string, fault: Fault, times = 1): void {
    const queue = this.faults.get(operation) ?? [];
    queue.push({ fault, times });
    this.faults.set(operation, queue);
  }

  clearFaults(): void {
    this.faults.clear();
    for (const res of this.hung) res.destroy();
    this.hung = [];
  }

  callsOf(operation: string): RecordedCall[] {
    return this.calls.filter((c) => c.operation === operation);
  }

  private takeFault(operation: string): Fault | undefined {
    for (const key of [operation, '*']) {
      const queue = this.faults.get(key);
      const head = queue?.[0];
      if (!head) continue;
      head.times -= 1;
      if (head.times <= 0) queue.shift();
      return head.fault;
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const [path = '/', query = ''] = (req.url ?? '/').split('?');
    const target = String(req.headers['x-amz-target'] ?? '');
    const [prefix = '', operation = ''] = target.split('.');
    const service = TARGETS[prefix];
    if (req.method !== 'POST' || path !== '/' || !service || !operation) {
      return reply(res, 400, { __type: 'UnknownOperationException' });
    }

    const signed = verifySignature(
      { method: req.method, path, query, headers: req.headers, body },
      this.keys,
      { region: this.region, service, now: new Date() },
    );
    if (!signed.ok) {
      this.refused.push({ target, type: signed.type });
      return reply(res, 400, { __type: signed.type, message: signed.message });
    }
    if (!String(req.headers['content-type'] ?? '').startsWith(JSON_TYPE)) {
      return reply(res, 400, { __type: 'SerializationException', Message: 'expected JSON 1.1' });
    }
    let input: Record<string, unknown>;
    try {
      input = JSON.parse(body.toString('utf8') || '{}') as Record<string, unknown>;
    } catch {
      return reply(res, 400, { __type: 'SerializationException', Message: 'malformed JSON' });
    }
    this.calls.push({ service, operation, input, accessKeyId: signed.accessKeyId });

    const fault = this.takeFault(operation);
    if (fault?.kind === 'hang') {
      this.hung.push(res);
      return;
    }
    try {
      const handler = service === 'sso' ? this.ssoAdmin(operation) : this.identityStore(operation);
      if (!handler) return reply(res, 400, { __type: 'UnknownOperationException' });
      if (fault?.kind === 'error') {
        if (fault.applied) {
          handler(input);
          this.settleAll();
        }
        throw new AwsError(fault.type, fault.message ?? fault.type);
      }
      reply(res, 200, handler(input));
    } catch (err) {
      const error =
        err instanceof AwsError ? err : new AwsError('InternalServerException', String(err));
      reply(res, STATUS[error.type] ?? 500, {
        __type: `${NAMESPACES[service]}#${error.type}`,
        Message: error.message,
        ...error.fields,
      });
    }
  }

  private identityStore(operation: string): Handler | undefined {
    if (operation !== 'GetUserId') return undefined;
    return (input) => {
      if (input.IdentityStoreId !== this.identityStoreId) {
        throw new AwsError(
          'ResourceNotFoundException',
          `IdentityStore not present for IdentityStoreId: ${String(input.IdentityStoreId)}`,
          { ResourceType: 'IDENTITY_STORE', ResourceId: String(input.IdentityStoreId) },
        );
      }
      const unique = (input.AlternateIdentifier as { UniqueAttribute?: Record<string, unknown> })
        ?.UniqueAttribute;
      if (unique?.AttributePath !== 'emails.value' && unique?.AttributePath !== 'userName') {
        throw new AwsError('ValidationException', 'Invalid AlternateIdentifier.');
      }
      const email = String(unique.AttributeValue);
      if (this.enrollOnLookup) this.addUser(email);
      const userId = this.usersByEmail.get(email);
      if (!userId) {
        throw new AwsError('ResourceNotFoundException', 'USER not found.', {
          ResourceType: 'USER',
        });
      }
      return { IdentityStoreId: this.identityStoreId, UserId: userId };
    };
  }

  private ssoAdmin(operation: string): Handler | undefined {
    const handlers: Record<string, Handler> = {
      ListPermissionSets: (input) => {
        this.instance(input);
        const { items, next } = this.page([...this.permissionSets.keys()], input);
        return { PermissionSets: items, ...(next ? { NextToken: next } : {}) };
      },
      DescribePermissionSet: (input) => {
        this.instance(input);
        const arn = String(input.PermissionSetArn);
        const name = this.permissionSets.get(arn);
        if (!name) throw new AwsError('ResourceNotFoundException', 'Could not find PermissionSet.');
        return {
          PermissionSet: {
            Name: name,
            PermissionSetArn: arn,
            SessionDuration: 'PT1H',
            CreatedDate: 1_700_000_000,
          },
        };
      },
      ListAccountAssignments: (input) => {
        this.instance(input);
        this.permissionSet(input);
        const matching = this.assignments.filter(
          (a) => a.accountId === input.AccountId && a.permissionSetArn === input.PermissionSetArn,
        );
        const { items, next } = this.page(matching, input);
        return {
          AccountAssignments: items.map((a) => ({
            AccountId: a.accountId,
            PermissionSetArn: a.permissionSetArn,
            PrincipalType: a.principalType,
            PrincipalId: a.principalId,
          })),
          ...(next ? { NextToken: next } : {}),
        };
      },
      CreateAccountAssignment: (input) => ({
        AccountAssignmentCreationStatus: this.statusOf(this.begin('create', input)),
      }),
      DeleteAccountAssignment: (input) => ({
        AccountAssignmentDeletionStatus: this.statusOf(this.begin('delete', input)),
      }),
      ListAccountAssignmentCreationStatus: (input) => {
        this.instance(input);
        const status = (input.Filter as { Status?: unknown } | undefined)?.Status;
        const creations = [...this.requests.values()].filter(
          (r) => r.kind === 'create' && (status === undefined || r.status === status),
        );
        const { items, next } = this.page(creations, input);
        return {
          AccountAssignmentsCreationStatus: items.map((r) => ({
            Status: r.status,
            RequestId: r.id,
            CreatedDate: r.createdDate,
          })),
          ...(next ? { NextToken: next } : {}),
        };
      },
      DescribeAccountAssignmentCreationStatus: (input) => ({
        AccountAssignmentCreationStatus: this.poll(
          'create',
          input,
          input.AccountAssignmentCreationRequestId,
        ),
      }),
      DescribeAccountAssignmentDeletionStatus: (input) => ({
        AccountAssignmentDeletionStatus: this.poll(
          'delete',
          input,
          input.AccountAssignmentDeletionRequestId,
        ),
      }),
    };
    return handlers[operation];
  }

  private instance(input: Record<string, unknown>): void {
    if (input.InstanceArn !== this.instanceArn) {
      throw new AwsError('ResourceNotFoundException', 'Instance not found.');
    }
  }

  private permissionSet(input: Record<string, unknown>): void {
    if (!this.permissionSets.has(String(input.PermissionSetArn))) {
      throw new AwsError('ResourceNotFoundException', 'Could not find PermissionSet.');
    }
  }

  /** Starts a creation or deletion; a second change to the same assignment in flight conflicts. */
  private begin(kind: 'create' | 'delete', input: Record<string, unknown>): ProvisioningRequest {
    this.instance(input);
    this.permissionSet(input);
    if (input.TargetType !== 'AWS_ACCOUNT' || !/^\d{12}$/.test(String(input.TargetId))) {
      throw new AwsError('ValidationException', 'TargetId must be a 12-digit AWS account id.');
    }
    if (!['USER', 'GROUP'].includes(String(input.PrincipalType)) || !input.PrincipalId) {
      throw new AwsError('ValidationException', 'PrincipalType and PrincipalId are required.');
    }
    const assignment: Assignment = {
      accountId: String(input.TargetId),
      permissionSetArn: String(input.PermissionSetArn),
      principalType: String(input.PrincipalType),
      principalId: String(input.PrincipalId),
    };
    const inFlight = [...this.requests.values()].some(
      (r) => r.status === 'IN_PROGRESS' && sameAssignment(r.assignment, assignment),
    );
    if (inFlight) {
      throw new AwsError(
        'ConflictException',
        'Another request for this account assignment is in progress. Retry after it completes.',
      );
    }
    const request: ProvisioningRequest = {
      id: randomUUID(),
      kind,
      assignment,
      pollsLeft: this.provisioningPolls,
      status: 'IN_PROGRESS',
      createdDate: Math.floor(Date.now() / 1000),
    };
    this.requests.set(request.id, request);
    return request;
  }

  private poll(kind: 'create' | 'delete', input: Record<string, unknown>, id: unknown) {
    this.instance(input);
    const request = this.requests.get(String(id));
    if (!request || request.kind !== kind) {
      throw new AwsError('ResourceNotFoundException', 'Request not found.');
    }
    if (request.status === 'IN_PROGRESS') {
      if (request.pollsLeft > 0) request.pollsLeft -= 1;
      else this.settle(request);
    }
    return this.statusOf(request);
  }

  private settle(request: ProvisioningRequest): void {
    const failure = this.failures.shift();
    if (failure) {
      request.status = 'FAILED';
      request.failure = failure;
      return;
    }
    const others = this.assignments.filter((a) => !sameAssignment(a, request.assignment));
    this.assignments = request.kind === 'create' ? [...others, request.assignment] : others;
    request.status = 'SUCCEEDED';
  }

  private statusOf(request: ProvisioningRequest) {
    const { assignment } = request;
    return {
      Status: request.status,
      RequestId: request.id,
      TargetId: assignment.accountId,
      TargetType: 'AWS_ACCOUNT',
      PermissionSetArn: assignment.permissionSetArn,
      PrincipalType: assignment.principalType,
      PrincipalId: assignment.principalId,
      CreatedDate: request.createdDate,
      ...(request.failure ? { FailureReason: request.failure } : {}),
    };
  }

  /** One page of `items`: NextToken is an opaque offset, MaxResults at most 100. */
  private page<T>(items: T[], input: Record<string, unknown>): { items: T[]; next?: string } {
    const max = input.MaxResults === undefined ? MAX_RESULTS : Number(input.MaxResults);
    if (!Number.isInteger(max) || max < 1 || max > MAX_RESULTS) {
      throw new AwsError('ValidationException', 'MaxResults must be between 1 and 100.');
    }
    let offset = 0;
    if (input.NextToken !== undefined) {
      offset = Number(Buffer.from(String(input.NextToken), 'base64url').toString('utf8'));
      if (!Number.isInteger(offset) || offset < 0 || offset > items.length) {
        throw new AwsError('ValidationException', 'Invalid NextToken.');
      }
    }
    const end = offset + Math.min(max, this.pageSize);
    return {
      items: items.slice(offset, end),
      ...(end < items.length ? { next: Buffer.from(String(end)).toString('base64url') } : {}),
    };
  }
}

type Handler = (input: Record<string, unknown>) => Record<string, unknown>;

function sameAssignment(a: Assignment, b: Assignment): boolean {
  return (
    a.accountId === b.accountId &&
    a.permissionSetArn === b.permissionSetArn &&
    a.principalType === b.principalType &&
    a.principalId === b.principalId
  );
}

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

function reply(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': JSON_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    date: new Date().toUTCString(),
  });
  res.end(text);
}
