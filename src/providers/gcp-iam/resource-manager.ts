import type * as GoogleAuthLibrary from 'google-auth-library';
import type { GoogleAuth } from 'google-auth-library';
import { excerptHead } from '../../secrets/scrub';
import { abortReason, raceAbort } from '../abort';
import { policySchema, type Policy } from './policy';

const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';
const MESSAGE_EXCERPT = 300;

/** What each kind of resource needs from the caller's role, for error messages. */
const PERMISSION_PREFIX: Record<string, string> = {
  projects: 'resourcemanager.projects',
  folders: 'resourcemanager.folders',
  organizations: 'resourcemanager.organizations',
};

/** An answer of the API that is not a success: its HTTP status and Google's canonical code. */
export class GoogleApiError extends Error {
  constructor(
    message: string,
    readonly httpStatus: number,
    readonly code: string,
  ) {
    super(message);
    this.name = 'GoogleApiError';
  }

  /** Another writer changed the policy since it was read (a stale etag). */
  get isConflict(): boolean {
    return this.httpStatus === 409 || this.code === 'ABORTED';
  }
}

/**
 * google-auth-library, loaded when the first gcp-iam provider is created rather than with the
 * registry, so configurations without one do not pay for it.
 */
function googleAuthLibrary(): typeof GoogleAuthLibrary {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
  return require('google-auth-library') as typeof GoogleAuthLibrary;
}

/**
 * Cloud Resource Manager v3's getIamPolicy and setIamPolicy, authorised with Application Default
 * Credentials. A service account key is used as a self-signed JWT carrying the cloud-platform
 * scope, as Google's own generated clients do, so no token endpoint is called for it; other ADC
 * sources (the metadata server, workload identity federation) fetch tokens as usual.
 */
export class ResourceManager {
  private readonly auth: GoogleAuth;

  constructor(private readonly origin: string) {
    this.auth = new (googleAuthLibrary().GoogleAuth)({
      scopes: [CLOUD_PLATFORM],
      // Node's own fetch: gaxios otherwise loads node-fetch 3 with a dynamic import(), which
      // CommonJS runtimes without ESM support (Jest's among them) cannot load.
      clientOptions: { transporterOptions: { fetchImplementation: fetch } },
    });
    this.auth.useJWTAccessWithScope = true;
  }

  async getIamPolicy(resource: string, signal: AbortSignal): Promise<Policy> {
    return this.call(resource, 'getIamPolicy', { options: { requestedPolicyVersion: 3 } }, signal);
  }

  async setIamPolicy(resource: string, policy: Policy, signal: AbortSignal): Promise<Policy> {
    return this.call(resource, 'setIamPolicy', { policy }, signal);
  }

  private async call(
    resource: string,
    method: 'getIamPolicy' | 'setIamPolicy',
    body: object,
    signal: AbortSignal,
  ): Promise<Policy> {
    const what = `gcp-iam ${method} on ${resource}`;
    // raceAbort also bounds what takes no signal: loading credentials, fetching a token.
    const data = await raceAbort(signal, what, async () => {
      const client = await this.authorisedClient(what);
      try {
        const answer = await client.request({
          url: `${this.origin}/v3/${resource}:${method}`,
          method: 'POST',
          data: body,
          responseType: 'json',
          signal,
        });
        return answer.data;
      } catch (err) {
        throw describeFailure(err, what, resource, signal);
      }
    });
    const parsed = policySchema.safeParse(data);
    if (!parsed.success) throw new Error(`${what} answered something that is not an IAM policy`);
    return parsed.data;
  }

  /** The ADC client with a usable token (signed here, or fetched from its token endpoint). */
  private async authorisedClient(what: string) {
    try {
      const client = await this.auth.getClient();
      await client.getRequestHeaders();
      return client;
    } catch (err) {
      throw new Error(`${what}: ${credentialsProblem(err)}`);
    }
  }
}

function credentialsProblem(err: unknown): string {
  const { name, message: text } = err as { name?: unknown; message?: unknown };
  // JSON.parse quotes the text it choked on, which could be part of a private key.
  if (name === 'SyntaxError') return 'the credentials file is not valid JSON';
  const message = typeof text === 'string' ? text : String(err);
  if (/default credentials/i.test(message)) {
    return 'no Google credentials found (Application Default Credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service account key or workload identity file, or run on Google Cloud with a service account attached)';
  }
  return `getting a Google access token failed: ${excerptHead(message, MESSAGE_EXCERPT)}`;
}

function describeFailure(err: unknown, what: string, resource: string, signal: AbortSignal): Error {
  if (signal.aborted) return new Error(`${what} ${abortReason(signal)}`);
  const { response, message } = err as {
    response?: { status?: unknown; data?: unknown };
    message?: unknown;
  };
  if (typeof response?.status === 'number') {
    const { code, text } = googleError(response.data);
    const status = response.status;
    const hint = hintFor(status, code, resource);
    const detail = [text, hint].filter(Boolean).join('; ');
    return new GoogleApiError(
      `${what} failed: ${status} ${code}${detail ? ` (${detail})` : ''}`,
      status,
      code,
    );
  }
  const text = typeof message === 'string' ? message : String(err);
  const code = networkCode(err);
  return new Error(`${what} request failed: ${code ? `${code} (${text})` : text}`);
}

/** Google's JSON error body: `{"error": {"code": 409, "status": "ABORTED", "message": "…"}}`. */
function googleError(data: unknown): { code: string; text: string } {
  const error = (data as { error?: { status?: unknown; message?: unknown } } | undefined)?.error;
  const code = typeof error?.status === 'string' ? error.status : 'UNKNOWN';
  const text =
    typeof error?.message === 'string' ? excerptHead(error.message, MESSAGE_EXCERPT) : '';
  return { code, text };
}

function hintFor(status: number, code: string, resource: string): string | undefined {
  const prefix = PERMISSION_PREFIX[resource.split('/')[0] ?? ''];
  if (status === 403 || code === 'PERMISSION_DENIED') {
    return `the credentials need ${prefix}.getIamPolicy and ${prefix}.setIamPolicy on ${resource}, which must exist`;
  }
  if (status === 401 || code === 'UNAUTHENTICATED') return 'Google refused the credentials';
  if (status === 429 || code === 'RESOURCE_EXHAUSTED') return 'quota exceeded, retried later';
  return undefined;
}

/** ECONNREFUSED and the like, where fetch hides them in the error's causes. */
function networkCode(err: unknown): string | undefined {
  for (let at: unknown = err, depth = 0; at && depth < 4; depth++) {
    const { code, cause } = at as { code?: unknown; cause?: unknown };
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code)) return code;
    at = cause;
  }
  return undefined;
}
