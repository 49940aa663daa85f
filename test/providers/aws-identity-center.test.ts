import { setTimeout as sleep } from 'node:timers/promises';
import { CreateAccountAssignmentCommand, SSOAdminClient } from '@aws-sdk/client-sso-admin';
import { ConfigError, parseConfig } from '../../src/config/load';
import { awsIdentityCenterAdapter } from '../../src/providers/aws-identity-center/adapter';
import type { AwsIdentityCenterTarget } from '../../src/providers/aws-identity-center/schema';
import { loadProviders } from '../../src/providers/registry';
import type { Provider, ProviderCallContext } from '../../src/providers/types';
import { expectedSignature, type AwsKey } from '../support/aws-sigv4';
import { FakeAwsSso } from '../support/fake-aws-sso';
import { callContext, providerContract } from './contract';

type Target = AwsIdentityCenterTarget;

/** The keys of the test process, given to the SDK the way production gets them: the environment. */
const KEY: AwsKey = {
  accessKeyId: 'AKIAHALLPASSTEST0001',
  secretAccessKey: 'hallpass/Test+Secret/0123456789abcdefghijkl',
};
const ACCOUNT = '111122223333';
const CREDENTIAL_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
];
const savedEnv = Object.fromEntries(CREDENTIAL_ENV.map((name) => [name, process.env[name]]));

function useEnvKey(key: AwsKey): void {
  for (const name of CREDENTIAL_ENV) delete process.env[name];
  process.env.AWS_ACCESS_KEY_ID = key.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = key.secretAccessKey;
  if (key.sessionToken) process.env.AWS_SESSION_TOKEN = key.sessionToken;
}

beforeAll(() => useEnvKey(KEY));
afterAll(() => {
  for (const [name, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

const opened: Provider<Target>[] = [];

/** A provider pointed at the fake, polling fast; its SDK clients find their keys in the environment. */
function identityCenter(
  fake: FakeAwsSso,
  settings: Record<string, unknown> = {},
): Provider<Target> {
  const config = awsIdentityCenterAdapter.configSchema.parse({
    instanceArn: fake.instanceArn,
    identityStoreId: fake.identityStoreId,
    region: fake.region,
    endpoints: { ssoAdmin: fake.url, identityStore: fake.url },
    provisioning: { pollInterval: '5ms', maxPollInterval: '20ms' },
    ...settings,
  });
  const provider = awsIdentityCenterAdapter.create(config, { configDir: __dirname });
  opened.push(provider);
  return provider;
}

afterAll(async () => {
  await Promise.all(opened.map((p) => p.close?.()));
});

async function failure(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(error instanceof Error)) throw new Error(`expected an Error, got ${String(error)}`);
  return error;
}

async function until(predicate: () => boolean): Promise<void> {
  while (!predicate()) await new Promise((resolve) => setTimeout(resolve, 5));
}

providerContract<Target>('aws-identity-center', async () => {
  const fake = await new FakeAwsSso({ keys: [KEY] }).start();
  fake.enrollOnLookup = true;
  fake.provisioningPolls = 1;
  const readOnly = fake.addPermissionSet('ReadOnly');
  const target: Target = { accountId: ACCOUNT, permissionSet: 'ReadOnly' };
  const provider = identityCenter(fake);
  return {
    provider,
    target,
    held: async (ctx) => fake.held(ctx.user.email, ACCOUNT, readOnly),
    // AWS keeps no expiry on an account assignment: only Hallpass ends it.
    expiryHeld: async () => null,
    stalled: async () => {
      fake.fail('*', { kind: 'hang' }, 100);
      return { provider, release: async () => fake.clearFaults() };
    },
    stop: () => fake.stop(),
  };
});

describe('aws-identity-center provider', () => {
  let fake: FakeAwsSso;
  let readOnly: string;
  const target: Target = { accountId: ACCOUNT, permissionSet: 'ReadOnly' };
  const ALICE = 'alice@example.com';

  beforeEach(async () => {
    fake = await new FakeAwsSso({ keys: [KEY] }).start();
    readOnly = fake.addPermissionSet('ReadOnly');
    fake.addPermissionSet('Admin');
    fake.addUser(ALICE);
  });
  afterEach(() => fake.stop());

  const alice = (overrides: Parameters<typeof callContext<Target>>[1] = {}) =>
    callContext(target, { user: { slackId: 'UALICE', email: ALICE }, ...overrides });

  it('assigns the permission set to the person found by email, waits out provisioning, and revoke removes it', async () => {
    fake.provisioningPolls = 2;
    const provider = identityCenter(fake);
    const ctx = alice();
    const result = await provider.grant(ctx);

    const userId = fake.userIdOf(ALICE);
    expect(result.state).toEqual({ accountId: ACCOUNT, permissionSetArn: readOnly, userId });
    expect(result.credentials?.text).toContain(`• account: \`${ACCOUNT}\``);
    expect(result.credentials?.text).toContain('• permission set: `ReadOnly`');
    expect(result.credentials?.text).toContain(`• until: ${ctx.expiresAt.toISOString()}`);
    expect(fake.held(ALICE, ACCOUNT, readOnly)).toBe(1);

    expect(fake.callsOf('GetUserId')[0]?.input).toEqual({
      IdentityStoreId: fake.identityStoreId,
      AlternateIdentifier: {
        UniqueAttribute: { AttributePath: 'emails.value', AttributeValue: ALICE },
      },
    });
    expect(fake.callsOf('CreateAccountAssignment')[0]?.input).toEqual({
      InstanceArn: fake.instanceArn,
      TargetId: ACCOUNT,
      TargetType: 'AWS_ACCOUNT',
      PermissionSetArn: readOnly,
      PrincipalType: 'USER',
      PrincipalId: userId,
    });
    // Two answers IN_PROGRESS, then SUCCEEDED.
    expect(fake.callsOf('DescribeAccountAssignmentCreationStatus')).toHaveLength(3);
    expect(fake.calls.every((c) => c.accessKeyId === KEY.accessKeyId)).toBe(true);
    expect(fake.refused).toEqual([]);

    // Revoke and check act on the assignment the grant made, without looking the person up again.
    const lookups = fake.callsOf('GetUserId').length;
    const revoke = { ...ctx, state: result.state, user: { slackId: 'UALICE' } };
    await provider.revoke(revoke);
    expect(fake.held(ALICE, ACCOUNT, readOnly)).toBe(0);
    expect(fake.callsOf('DescribeAccountAssignmentDeletionStatus')).toHaveLength(3);
    expect(await provider.check!(revoke)).toBe(false);
    expect(fake.callsOf('GetUserId')).toHaveLength(lookups);
  });

  it('finds a permission set by name once, takes an ARN as it is, and says when a name is unknown', async () => {
    const provider = identityCenter(fake);
    await provider.grant(alice());
    await provider.grant(
      callContext(
        { accountId: '444455556666', permissionSet: 'ReadOnly' },
        {
          user: { slackId: 'UALICE', email: ALICE },
        },
      ),
    );
    expect(fake.callsOf('ListPermissionSets')).toHaveLength(1);
    expect(fake.callsOf('DescribePermissionSet')).toHaveLength(2);

    const admin = fake
      .callsOf('DescribePermissionSet')
      .map((c) => String(c.input.PermissionSetArn))
      .find((arn) => arn !== readOnly)!;
    const byArn = callContext<Target>(
      { accountId: ACCOUNT, permissionSet: admin },
      {
        user: { slackId: 'UALICE', email: ALICE },
      },
    );
    await identityCenter(fake).grant(byArn);
    expect(fake.held(ALICE, ACCOUNT, admin)).toBe(1);
    expect(fake.callsOf('ListPermissionSets')).toHaveLength(1);

    const unknown = callContext<Target>(
      { accountId: ACCOUNT, permissionSet: 'Nope' },
      {
        user: { slackId: 'UALICE', email: ALICE },
      },
    );
    expect((await failure(provider.grant(unknown))).message).toBe(
      `aws-identity-center grant failed: no permission set named "Nope" in ${fake.instanceArn} (names are case-sensitive)`,
    );
  });

  it('looks a name up again when AWS no longer knows the permission set it stood for', async () => {
    const provider = identityCenter(fake);
    await provider.grant(alice());
    fake.removePermissionSet(readOnly);
    const replacement = fake.addPermissionSet('ReadOnly');

    const error = await failure(provider.grant(alice()));
    expect(error.message).toMatch(
      /^aws-identity-center grant failed: ListAccountAssignments: ResourceNotFoundException: Could not find PermissionSet/,
    );
    await provider.grant(alice());
    expect(fake.held(ALICE, ACCOUNT, replacement)).toBe(1);
  });

  it('fails the grant of a person the Identity Store does not know, or who has no email, saying why', async () => {
    const provider = identityCenter(fake);
    const stranger = callContext(target, { user: { slackId: 'UBOB', email: 'bob@example.com' } });
    expect((await failure(provider.grant(stranger))).message).toBe(
      `aws-identity-center grant failed: no user with the email bob@example.com in identity store ${fake.identityStoreId} (add them to IAM Identity Center, or make their Slack email match)`,
    );
    expect(fake.callsOf('CreateAccountAssignment')).toHaveLength(0);
    // Nobody the store does not know can hold an assignment: nothing to revoke, nothing to find.
    await expect(provider.revoke(stranger)).resolves.toBeUndefined();
    expect(await provider.check!(stranger)).toBe(false);

    const noEmail = callContext(target, { user: { slackId: 'UCAROL' } });
    expect((await failure(provider.grant(noEmail))).message).toBe(
      'aws-identity-center grant failed: Slack gave no email for UCAROL, and IAM Identity Center users are found by email (the app needs users:read.email)',
    );
    // Grant, revoke and check looked Bob up; nobody looked for Carol.
    expect(fake.callsOf('GetUserId')).toHaveLength(3);
  });

  it('fails with the FailureReason when AWS reports the provisioning FAILED', async () => {
    fake.provisioningPolls = 1;
    const provider = identityCenter(fake);
    const reason =
      'Received a 403 status error: Not authorized to create the role in the member account';
    fake.failNextProvisioning(reason);
    const error = await failure(provider.grant(alice()));
    expect(error.message).toBe(
      `aws-identity-center grant failed: CreateAccountAssignment failed in AWS: ${reason}`,
    );
    expect(fake.held(ALICE, ACCOUNT, readOnly)).toBe(0);

    const { state } = await provider.grant(alice());
    fake.failNextProvisioning('The role could not be deleted');
    expect((await failure(provider.revoke(alice({ state })))).message).toBe(
      'aws-identity-center revoke failed: DeleteAccountAssignment failed in AWS: The role could not be deleted',
    );
    expect(await provider.check!(alice({ state }))).toBe(true);
  });

  it('rides out throttling through the SDK’s retries, and says so when it does not end', async () => {
    const provider = identityCenter(fake);
    fake.fail(
      'CreateAccountAssignment',
      { kind: 'error', type: 'ThrottlingException', message: 'Rate exceeded' },
      2,
    );
    fake.fail('GetUserId', {
      kind: 'error',
      type: 'InternalServerException',
      message: 'Internal failure',
    });
    await provider.grant(alice());
    expect(fake.callsOf('CreateAccountAssignment')).toHaveLength(3);
    expect(fake.callsOf('GetUserId')).toHaveLength(2);
    expect(fake.held(ALICE, ACCOUNT, readOnly)).toBe(1);

    fake.fail(
      'ListAccountAssignments',
      { kind: 'error', type: 'ThrottlingException', message: 'Rate exceeded' },
      10,
    );
    const before = fake.callsOf('ListAccountAssignments').length;
    const error = await failure(provider.check!(alice()));
    expect(error.message).toBe(
      'aws-identity-center check failed: ListAccountAssignments: ThrottlingException: Rate exceeded (AWS kept throttling after the SDK retried; Hallpass retries later)',
    );
    expect(fake.callsOf('ListAccountAssignments').length - before).toBe(3);
  });

  it('pages through ListAccountAssignments with NextToken to find the person', async () => {
    fake.pageSize = 2;
    for (let i = 0; i < 5; i++) fake.assign(ACCOUNT, readOnly, `someone-else-${i}`);
    const provider = identityCenter(fake);
    const { state } = await provider.grant(alice());
    fake.calls.length = 0;

    expect(await provider.check!(alice({ state }))).toBe(true);
    const tokens = fake.callsOf('ListAccountAssignments').map((c) => c.input.NextToken);
    expect(tokens).toHaveLength(3);
    expect(tokens[0]).toBeUndefined();
    expect(new Set(tokens).size).toBe(3);

    await provider.revoke(alice({ state }));
    fake.calls.length = 0;
    expect(await provider.check!(alice({ state }))).toBe(false);
    // Absence is read twice, around reading the creations in progress: one finishing in between
    // is listed by the second read.
    const operations = fake.calls.map((c) => c.operation);
    expect(operations).toEqual([
      ...Array<string>(3).fill('ListAccountAssignments'),
      'ListAccountAssignmentCreationStatus',
      ...Array<string>(3).fill('ListAccountAssignments'),
    ]);
    expect(fake.held(ALICE, ACCOUNT, readOnly)).toBe(0);
  });

  it('gives two grants of one person one shared assignment (isolation: shared)', async () => {
    const provider = identityCenter(fake);
    expect(provider.guarantees).toEqual({
      enforcesExpiry: false,
      endsOpenSessions: false,
      isolation: 'shared',
    });
    const first = alice();
    const second = alice();
    const a = await provider.grant(first);
    const b = await provider.grant(second);
    expect(b.state).toEqual(a.state);
    expect(fake.held(ALICE, ACCOUNT, readOnly)).toBe(1);
    expect(fake.callsOf('CreateAccountAssignment')).toHaveLength(1);
    expect(await provider.check!({ ...first, state: a.state })).toBe(true);
    expect(await provider.check!({ ...second, state: b.state })).toBe(true);
  });

  it('a grant cut off while AWS provisions is finished by a later attempt, through a 409 conflict', async () => {
    fake.provisioningPolls = 1_000;
    const provider = identityCenter(fake);
    const timer = new AbortController();
    const cutOff = failure(provider.grant(alice({ signal: timer.signal })));
    await until(() => fake.callsOf('DescribeAccountAssignmentCreationStatus').length > 0);
    timer.abort(new DOMException('the provider timeout passed', 'TimeoutError'));
    // Cut off while sleeping between polls, or during a poll: either way AWS carries on.
    expect((await cutOff).message).toMatch(
      /^aws-identity-center grant: (waiting for CreateAccountAssignment timed out \(AWS still provisioning\)|DescribeAccountAssignmentCreationStatus timed out)$/,
    );

    const conflict = await failure(provider.grant(alice()));
    expect(conflict.message).toMatch(
      /^aws-identity-center grant failed: CreateAccountAssignment: ConflictException: .*\(another change to this assignment is in progress; Hallpass retries later\)$/,
    );

    fake.settleAll();
    await provider.grant(alice());
    expect(fake.held(ALICE, ACCOUNT, readOnly)).toBe(1);
    expect(fake.callsOf('CreateAccountAssignment')).toHaveLength(2);
  });

  /** A grant whose call is cut off by its timeout while AWS is still creating the assignment. */
  async function cutOffGrant(provider: Provider<Target>, ctx: ProviderCallContext<Target>) {
    const described = fake.callsOf('DescribeAccountAssignmentCreationStatus').length;
    const timer = new AbortController();
    const cutOff = failure(provider.grant({ ...ctx, signal: timer.signal }));
    await until(() => fake.callsOf('DescribeAccountAssignmentCreationStatus').length > described);
    timer.abort(new DOMException('the provider timeout passed', 'TimeoutError'));
    await cutOff;
  }

  // A cut-off activation records no state, so its clean-up finds the assignment from the email
  // and target; ListAccountAssignments does not show it until its creation SUCCEEDS.
  it('a revoke after a grant cut off mid-provisioning waits for the creation, then deletes it', async () => {
    fake.provisioningPolls = 4;
    const provider = identityCenter(fake);
    await cutOffGrant(provider, alice());
    expect(fake.held(ALICE, ACCOUNT, readOnly)).toBe(0);

    await provider.revoke(alice());
    expect(fake.callsOf('ListAccountAssignmentCreationStatus')[0]?.input).toEqual({
      InstanceArn: fake.instanceArn,
      Filter: { Status: 'IN_PROGRESS' },
      MaxResults: 100,
    });
    expect(fake.callsOf('DeleteAccountAssignment')).toHaveLength(1);
    fake.settleAll();
    expect(fake.held(ALICE, ACCOUNT, readOnly)).toBe(0);
    expect(await provider.check!(alice())).toBe(false);
  });

  it('reads a creation still provisioning as present, and a revoke that cannot outwait it fails', async () => {
    fake.provisioningPolls = 1_000;
    const provider = identityCenter(fake);
    await cutOffGrant(provider, alice());

    expect(await provider.check!(alice())).toBe(true);
    const revoke = failure(provider.revoke(alice({ signal: AbortSignal.timeout(100) })));
    expect((await revoke).message).toMatch(
      /^aws-identity-center revoke: (waiting for CreateAccountAssignment timed out \(AWS still provisioning\)|DescribeAccountAssignmentCreationStatus timed out)$/,
    );
    // AWS finishes what it accepted; nothing was recorded gone, so the next revoke removes it.
    fake.settleAll();
    expect(fake.held(ALICE, ACCOUNT, readOnly)).toBe(1);
    fake.provisioningPolls = 0;
    await provider.revoke(alice());
    expect(fake.held(ALICE, ACCOUNT, readOnly)).toBe(0);
  });

  it('pages through the creations in progress to find the person’s among others', async () => {
    fake.provisioningPolls = 1_000;
    fake.pageSize = 1;
    const provider = identityCenter(fake);
    for (const email of [ALICE, 'bob@example.com', 'carol@example.com']) {
      fake.addUser(email);
      await cutOffGrant(provider, alice({ user: { slackId: 'U', email } }));
    }
    expect(await provider.check!(alice())).toBe(true);
    const pages = fake.callsOf('ListAccountAssignmentCreationStatus');
    expect(pages.map((c) => c.input.NextToken === undefined)).toEqual([true, false, false]);
    fake.addUser('dave@example.com');
    const dave = alice({ user: { slackId: 'U', email: 'dave@example.com' } });
    expect(await provider.check!(dave)).toBe(false);
  });

  it('a revoke waiting for a creation that FAILED has nothing to delete', async () => {
    fake.provisioningPolls = 3;
    const provider = identityCenter(fake);
    await cutOffGrant(provider, alice());
    fake.failNextProvisioning('Received a 404 status error: Not supported account.');

    await provider.revoke(alice());
    expect(fake.callsOf('DeleteAccountAssignment')).toHaveLength(0);
    expect(await provider.check!(alice())).toBe(false);
  });

  /**
   * A group given a permission set on `accounts` accounts (Terraform, Control Tower, the console's
   * "assign to all accounts"): that many creations in progress, none of them a Hallpass grant's.
   */
  async function rollout(accounts: number): Promise<void> {
    const audit = fake.addPermissionSet('SecurityAudit');
    const sso = new SSOAdminClient({ region: fake.region, endpoint: fake.url });
    try {
      for (let i = 0; i < accounts; i++) {
        await sso.send(
          new CreateAccountAssignmentCommand({
            InstanceArn: fake.instanceArn,
            TargetId: String(200000000000 + i),
            TargetType: 'AWS_ACCOUNT',
            PermissionSetArn: audit,
            PrincipalType: 'GROUP',
            PrincipalId: 'group-security-auditors',
          }),
        );
      }
    } finally {
      sso.destroy();
    }
  }

  const CREATION_CALLS = [
    'ListAccountAssignmentCreationStatus',
    'DescribeAccountAssignmentCreationStatus',
  ];

  it('a check or revoke of a listed assignment makes no creation calls', async () => {
    fake.provisioningPolls = 1_000;
    await rollout(3);
    fake.assign(ACCOUNT, readOnly, fake.userIdOf(ALICE)!);
    const provider = identityCenter(fake);

    expect(await provider.check!(alice())).toBe(true);
    fake.provisioningPolls = 0;
    await provider.revoke(alice());
    expect(fake.held(ALICE, ACCOUNT, readOnly)).toBe(0);
    expect(fake.calls.filter((c) => CREATION_CALLS.includes(c.operation))).toEqual([]);
  });

  // Each revoke and check of an unlisted assignment must look through every creation in progress
  // on the instance; a request's assignment never changes, so one described is not asked again.
  it('describes each creation in progress once across the checks and revokes of a rollout', async () => {
    fake.provisioningPolls = 1_000_000;
    await rollout(200);
    const holders = ['a', 'b', 'c', 'd', 'e'].map((n) => `${n}@example.com`);
    for (const email of holders) fake.assign(ACCOUNT, readOnly, fake.addUser(email));
    const others = ['f', 'g', 'h', 'i', 'j'].map((n) => `${n}@example.com`);
    for (const email of others) fake.addUser(email);
    const provider = identityCenter(fake);
    const as = (email: string) => alice({ user: { slackId: 'U', email } });

    for (const email of holders) expect(await provider.check!(as(email))).toBe(true);
    for (const email of others) expect(await provider.check!(as(email))).toBe(false);
    for (const email of others) await provider.revoke(as(email));
    expect(fake.callsOf('DescribeAccountAssignmentCreationStatus')).toHaveLength(200);
  });

  it('describes the creations it does not know several at a time', async () => {
    fake.provisioningPolls = 1_000;
    await rollout(20);
    const provider = identityCenter(fake);
    fake.fail('DescribeAccountAssignmentCreationStatus', { kind: 'hang' }, 20);
    const timer = new AbortController();
    const check = failure(provider.check!(alice({ signal: timer.signal })));

    await until(() => fake.callsOf('DescribeAccountAssignmentCreationStatus').length > 0);
    await sleep(100);
    expect(fake.callsOf('DescribeAccountAssignmentCreationStatus')).toHaveLength(8);
    timer.abort(new DOMException('the provider timeout passed', 'TimeoutError'));
    await check;
    fake.clearFaults();
  });

  it('takes only a missing user as a person unknown, not a wrong identity store', async () => {
    const provider = identityCenter(fake, { identityStoreId: 'd-0000000000' });
    const expected =
      'GetUserId: ResourceNotFoundException: IdentityStore not present for IdentityStoreId: d-0000000000';
    expect((await failure(provider.revoke(alice()))).message).toBe(
      `aws-identity-center revoke failed: ${expected}`,
    );
    expect((await failure(provider.check!(alice()))).message).toBe(
      `aws-identity-center check failed: ${expected}`,
    );
  });

  it('takes an error answer as done when reading back shows the change landed', async () => {
    const provider = identityCenter(fake);
    fake.fail('CreateAccountAssignment', {
      kind: 'error',
      type: 'ConflictException',
      applied: true,
    });
    const { state } = await provider.grant(alice());
    expect(fake.held(ALICE, ACCOUNT, readOnly)).toBe(1);

    fake.fail('DeleteAccountAssignment', {
      kind: 'error',
      type: 'ResourceNotFoundException',
      applied: true,
    });
    await provider.revoke(alice({ state }));
    expect(fake.held(ALICE, ACCOUNT, readOnly)).toBe(0);
  });

  it('names the missing permission with a pointer to the policy', async () => {
    const message =
      'User: arn:aws:sts::999988887777:assumed-role/hallpass/i-0abc is not authorized to perform: sso:CreateAccountAssignment';
    fake.fail('CreateAccountAssignment', { kind: 'error', type: 'AccessDeniedException', message });
    const error = await failure(identityCenter(fake).grant(alice()));
    expect(error.message).toBe(
      `aws-identity-center grant failed: CreateAccountAssignment: AccessDeniedException: ${message} (the credentials lack a permission: see the IAM policy in docs/providers.md)`,
    );
  });

  it('says when AWS cannot be reached', async () => {
    const closed = await new FakeAwsSso({ keys: [KEY] }).start();
    const url = closed.url;
    await closed.stop();
    const provider = identityCenter(fake, { endpoints: { ssoAdmin: url, identityStore: url } });
    // `GetUserId: ECONNREFUSED: connect ECONNREFUSED …` in node; under jest the SDK sees an error
    // of another realm and wraps it without its code.
    expect((await failure(provider.grant(alice()))).message).toMatch(
      /^aws-identity-center grant failed: GetUserId: .*connect ECONNREFUSED 127\.0\.0\.1:\d+$/,
    );
  });

  describe('Signature Version 4', () => {
    afterEach(() => useEnvKey(KEY));

    it('the fake computes the AWS test suite’s get-vanilla and post-vanilla signatures', () => {
      const request = (method: string) => ({
        method,
        path: '/',
        query: '',
        headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' },
        body: Buffer.alloc(0),
      });
      const sign = (method: string) =>
        expectedSignature({
          request: request(method),
          signedHeaders: ['host', 'x-amz-date'],
          amzDate: '20150830T123600Z',
          scope: { date: '20150830', region: 'us-east-1', service: 'service' },
          secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
        });
      expect(sign('GET')).toBe('5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
      expect(sign('POST')).toBe('5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b');
    });

    it('refuses a request signed with the wrong secret, and the error carries no key', async () => {
      const wrong = 'not/the+right/secret0123456789abcdefghijkl';
      useEnvKey({ accessKeyId: KEY.accessKeyId, secretAccessKey: wrong });
      const error = await failure(identityCenter(fake).grant(alice()));
      expect(error.message).toBe(
        "aws-identity-center grant failed: GetUserId: InvalidSignatureException: The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details. (the secret key does not match the access key, or this machine's clock is off)",
      );
      expect(error.message).not.toContain(wrong);
      expect(error.message).not.toContain(KEY.secretAccessKey);
      expect(fake.refused).toEqual([
        { target: 'AWSIdentityStore.GetUserId', type: 'InvalidSignatureException' },
      ]);
      expect(fake.calls).toEqual([]);
    });

    it('refuses an access key AWS does not know', async () => {
      useEnvKey({ accessKeyId: 'AKIANOBODYKNOWSTHIS1', secretAccessKey: KEY.secretAccessKey });
      const error = await failure(identityCenter(fake).check!(alice()));
      // AWS's message is scrubbed before it is cut, and scrub's `token <value>` shape takes the
      // word after "token" for one.
      expect(error.message).toMatch(
        /^aws-identity-center check failed: GetUserId: UnrecognizedClientException: The security token \[redacted\] in the request is invalid\. \(AWS does not know this access key\)$/,
      );
    });

    it('signs with temporary credentials and their session token', async () => {
      const session: AwsKey = {
        accessKeyId: 'ASIAHALLPASSSESSION1',
        secretAccessKey: 'session/Secret+0123456789abcdefghijklmnop',
        sessionToken: 'IQoJb3JpZ2luX2VjEHallpassTestSessionToken',
      };
      const withSessions = await new FakeAwsSso({ keys: [session], region: 'us-east-2' }).start();
      try {
        withSessions.addPermissionSet('ReadOnly');
        withSessions.addUser(ALICE);
        useEnvKey(session);
        await identityCenter(withSessions).grant(alice());
        expect(withSessions.refused).toEqual([]);
        expect(withSessions.calls.every((c) => c.accessKeyId === session.accessKeyId)).toBe(true);

        useEnvKey({ ...session, sessionToken: undefined });
        const error = await failure(identityCenter(withSessions).check!(alice()));
        expect(error.message).toMatch(/UnrecognizedClientException/);
      } finally {
        await withSessions.stop();
      }
    });
  });
});

describe('aws-identity-center in hallpass.yml', () => {
  const yaml = (provider: string, target: string) =>
    parseConfig(
      `requests: { approverChannel: CAPPROVALS }
providers:
  aws:
${provider}
resources:
  - { id: prod-readonly, name: Prod read-only, provider: aws, target: ${target}, maxDuration: 1h, approvalsRequired: 0 }`,
      {},
    );

  it('prints one line per problem, and refuses credentials in the file', async () => {
    const cfg = yaml(
      `    type: aws-identity-center
    instanceArn: ssoins-1234567890abcdef
    identityStoreId: D-1234567890
    region: Ireland
    secretAccessKey: wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY
    endpoints: { ssoAdmin: 'not a url', sts: https://sts.amazonaws.com }
    provisioning: { pollInterval: 10s, maxPollInterval: 2s }`,
      '{ accountId: 012345678901, permissionSet: "Read Only" }',
    );
    const error = await failure(loadProviders(cfg, { configDir: __dirname }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message.split('\n')).toEqual([
      'providers.aws.instanceArn: must be an IAM Identity Center instance ARN like arn:aws:sso:::instance/ssoins-1234567890abcdef',
      'providers.aws.identityStoreId: must be an identity store id like d-1234567890',
      'providers.aws.region: must be the AWS region of the Identity Center instance, like eu-west-1',
      'providers.aws.endpoints.ssoAdmin: must be an http(s) URL',
      'providers.aws.endpoints.sts: unknown key',
      'providers.aws.provisioning.maxPollInterval: maxPollInterval must not be shorter than pollInterval',
      'providers.aws.secretAccessKey: credentials never go in hallpass.yml: Hallpass takes them from the AWS default chain (environment, shared profile via AWS_PROFILE, web identity token, container or instance role)',
      "resources[0].target.accountId: must be quoted ('012345678901'): YAML reads bare digits as a number",
      'resources[0].target.permissionSet: must be a permission set name like ReadOnly or its ARN (arn:aws:sso:::permissionSet/ssoins-…/ps-…)',
    ]);
    expect(error.message).not.toContain('wJalrXUtnFEMI');
  });

  it('loads with its timeout and guarantees, and grants through the loaded provider', async () => {
    const fake = await new FakeAwsSso({ keys: [KEY] }).start();
    try {
      const readOnly = fake.addPermissionSet('ReadOnly');
      fake.addUser('dana@example.com');
      const cfg = yaml(
        `    type: aws-identity-center
    timeout: 60s
    instanceArn: ${fake.instanceArn}
    identityStoreId: ${fake.identityStoreId}
    region: ${fake.region}
    endpoints: { ssoAdmin: '${fake.url}', identityStore: '${fake.url}' }
    provisioning: { pollInterval: 250ms }`,
        `{ accountId: '${ACCOUNT}', permissionSet: ReadOnly }`,
      );
      const providers = await loadProviders(cfg, { configDir: __dirname });
      try {
        const loaded = providers.forResource('prod-readonly')!;
        expect(loaded).toMatchObject({
          type: 'aws-identity-center',
          timeoutMs: 60_000,
          guarantees: { enforcesExpiry: false, endsOpenSessions: false, isolation: 'shared' },
          target: { accountId: ACCOUNT, permissionSet: 'ReadOnly' },
        });
        const ctx = callContext(loaded.target as Target, {
          user: { slackId: 'UDANA', email: 'dana@example.com' },
        });
        await loaded.provider.grant(ctx);
        expect(fake.held('dana@example.com', ACCOUNT, readOnly)).toBe(1);
      } finally {
        await providers.closeAll();
      }
    } finally {
      await fake.stop();
    }
  });
});
