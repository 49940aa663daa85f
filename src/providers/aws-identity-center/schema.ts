import { z } from 'zod';
import { parseDuration } from '../../config/duration';

/** The patterns of the SSO Admin and Identity Store API references. */
const PARTITION = '(aws|aws-us-gov|aws-cn|aws-iso|aws-iso-b)';
const INSTANCE_ARN = new RegExp(`^arn:${PARTITION}:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$`);
export const PERMISSION_SET_ARN = new RegExp(
  `^arn:${PARTITION}:sso:::permissionSet/(sso)?ins-[a-zA-Z0-9-.]{16}/ps-[a-zA-Z0-9-./]{16}$`,
);
const PERMISSION_SET_NAME = /^[\w+=,.@-]{1,32}$/;
const IDENTITY_STORE_ID =
  /^(d-[0-9a-f]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;
export const ACCOUNT_ID = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

const MAX_POLL_MS = 60_000;

/** `250ms` as well as the usual `1s`, `2m`: a status poll is often due in well under a second. */
function parseInterval(text: string): number | null {
  const ms = /^(\d+)ms$/.exec(text.trim());
  return ms ? Number(ms[1]) || null : parseDuration(text);
}

const interval = z.string().transform((text, ctx) => {
  const ms = parseInterval(text);
  if (ms === null || ms > MAX_POLL_MS) {
    ctx.addIssue({
      code: 'custom',
      message: `"${text}" is not a duration between 1ms and 60s (use 500ms, 1s, 5s)`,
    });
    return z.NEVER;
  }
  return ms;
});

const endpoint = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });

/** Keys people reach for out of habit; the SDK's default chain is the only source of keys. */
const notInConfig = z
  .never({
    error:
      'credentials never go in hallpass.yml: Hallpass takes them from the AWS default chain (environment, shared profile via AWS_PROFILE, web identity token, container or instance role)',
  })
  .optional();

export const awsIdentityCenterConfig = z.strictObject({
  instanceArn: z
    .string()
    .regex(
      INSTANCE_ARN,
      'must be an IAM Identity Center instance ARN like arn:aws:sso:::instance/ssoins-1234567890abcdef',
    ),
  identityStoreId: z
    .string()
    .regex(IDENTITY_STORE_ID, 'must be an identity store id like d-1234567890'),
  region: z
    .string()
    .regex(REGION, 'must be the AWS region of the Identity Center instance, like eu-west-1'),
  endpoints: z
    .strictObject({ ssoAdmin: endpoint.optional(), identityStore: endpoint.optional() })
    .default({}),
  provisioning: z
    .strictObject({
      pollInterval: interval.default(1_000),
      maxPollInterval: interval.default(5_000),
    })
    .refine((p) => p.maxPollInterval >= p.pollInterval, {
      message: 'maxPollInterval must not be shorter than pollInterval',
      path: ['maxPollInterval'],
    })
    .default({ pollInterval: 1_000, maxPollInterval: 5_000 }),
  accessKeyId: notInConfig,
  secretAccessKey: notInConfig,
  sessionToken: notInConfig,
});

/** YAML reads bare digits as a number, which loses an account id's leading zeros. */
const accountId = z
  .string({
    error: (issue) =>
      typeof issue.input === 'number'
        ? "must be quoted ('012345678901'): YAML reads bare digits as a number"
        : undefined,
  })
  .regex(ACCOUNT_ID, 'must be a 12-digit AWS account id');

export const awsIdentityCenterTarget = z.strictObject({
  accountId,
  permissionSet: z
    .string()
    .refine(
      (ref) => PERMISSION_SET_ARN.test(ref) || PERMISSION_SET_NAME.test(ref),
      'must be a permission set name like ReadOnly or its ARN (arn:aws:sso:::permissionSet/ssoins-…/ps-…)',
    ),
});

export type AwsIdentityCenterConfig = z.infer<typeof awsIdentityCenterConfig>;
export type AwsIdentityCenterTarget = z.infer<typeof awsIdentityCenterTarget>;
