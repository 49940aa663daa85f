import { excerptHead } from '../../secrets/scrub';
import { abortReason, raceAbort } from '../abort';

const MESSAGE_EXCERPT = 300;

/** What an AWS error means for the operator, where its name and message alone do not say. */
const HINTS: Record<string, string> = {
  AccessDeniedException:
    'the credentials lack a permission: see the IAM policy in docs/providers.md',
  UnrecognizedClientException: 'AWS does not know this access key',
  InvalidClientTokenId: 'AWS does not know this access key',
  InvalidSignatureException:
    "the secret key does not match the access key, or this machine's clock is off",
  ExpiredTokenException: 'the session credentials have expired',
  ThrottlingException: 'AWS kept throttling after the SDK retried; Hallpass retries later',
  ConflictException: 'another change to this assignment is in progress; Hallpass retries later',
  CredentialsProviderError:
    'no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a web identity token, or run with a role',
};

/**
 * A failed AWS operation: `code` is AWS's error name (ConflictException,
 * ResourceNotFoundException…); `resourceType` is what a ResourceNotFoundException says is missing
 * (USER, IDENTITY_STORE…), when AWS says.
 */
export class AwsCallError extends Error {
  constructor(
    readonly operation: string,
    readonly code: string,
    detail: string,
    readonly resourceType?: string,
  ) {
    const hint = HINTS[code];
    super(`${operation}: ${code}${detail ? `: ${detail}` : ''}${hint ? ` (${hint})` : ''}`);
    this.name = 'AwsCallError';
  }
}

export function isAwsError(err: unknown, code: string): err is AwsCallError {
  return err instanceof AwsCallError && err.code === code;
}

/**
 * One SDK call bound to `signal`: the SDK cancels its HTTP request, and whatever comes before the
 * request (resolving credentials, a retry's back-off) is abandoned too. A call cut short fails with
 * `<operation> timed out`; any other failure becomes an AwsCallError.
 */
export async function awsCall<T>(
  signal: AbortSignal,
  operation: string,
  send: (abortSignal: AbortSignal) => Promise<T>,
): Promise<T> {
  try {
    return await raceAbort(signal, operation, () => send(signal));
  } catch (err) {
    if (signal.aborted) throw new Error(`${operation} ${abortReason(signal)}`);
    throw new AwsCallError(operation, codeOf(err), detailOf(err), resourceTypeOf(err));
  }
}

/** AWS's error name; for a network failure the system's code (ECONNREFUSED…), which says more. */
function codeOf(err: unknown): string {
  const { name, code } = err as { name?: unknown; code?: unknown };
  if (typeof name === 'string' && name !== 'Error') return name;
  return typeof code === 'string' ? code : 'Error';
}

function detailOf(err: unknown): string {
  const { message } = err as { message?: unknown };
  return typeof message === 'string' ? excerptHead(message, MESSAGE_EXCERPT) : String(err);
}

function resourceTypeOf(err: unknown): string | undefined {
  const { ResourceType } = err as { ResourceType?: unknown };
  return typeof ResourceType === 'string' ? ResourceType : undefined;
}
