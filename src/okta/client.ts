/** The Okta SDK client as Hallpass uses it: shared by the okta-group provider and the directory. */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as OktaSdk from '@okta/okta-sdk-nodejs';
import type { Client, DefaultRequestExecutor } from '@okta/okta-sdk-nodejs';
import { abortReason, raceAbort } from '../providers/abort';
import { excerptHead } from '../secrets/scrub';

const SUMMARY_EXCERPT = 300;
const TOKEN_PATH = '/oauth2/v1/token';

type RequestOptions = Parameters<DefaultRequestExecutor['fetch']>[0];
type Response = Awaited<ReturnType<DefaultRequestExecutor['fetch']>>;

/** The signal of the provider call a request belongs to; the SDK's calls take none of their own. */
const callSignal = new AsyncLocalStorage<AbortSignal>();

/** Okta's token endpoint refused the service app (its OAuth error code and description). */
class TokenRefused extends Error {}

/**
 * The Okta SDK, loaded when the first Okta client is made rather than with the modules that use
 * it: it is most of a second of start-up and tens of megabytes, which every process without an
 * Okta provider or directory would otherwise pay for.
 */
function oktaSdk(): typeof OktaSdk {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
  return require('@okta/okta-sdk-nodejs') as typeof OktaSdk;
}

let executorClass: (new () => DefaultRequestExecutor) | undefined;

/** The executor below, its class made once the SDK it extends is loaded. */
function callBoundExecutor(): DefaultRequestExecutor {
  executorClass ??= callBoundExecutorClass(oktaSdk().DefaultRequestExecutor);
  return new executorClass();
}

/**
 * The SDK's executor, which on 429 waits until X-Rate-Limit-Reset and tries again (twice at
 * most), with every request and every such wait bound to the signal of the call it serves, so a
 * call that times out leaves no request or timer behind.
 */
const callBoundExecutorClass = (Base: typeof DefaultRequestExecutor) =>
  class CallBoundExecutor extends Base {
    override async fetch(request: RequestOptions): Promise<Response> {
      const signal = callSignal.getStore();
      if (signal) request.signal = signal as RequestOptions['signal'];
      const response = await super.fetch(request);
      if (request.url?.endsWith(TOKEN_PATH) && response.status >= 400) await refused(response);
      return response;
    }

    override async retryRequest(
      request: RequestOptions,
      response: Response,
      delayMs: number,
    ): Promise<Response> {
      await sleep(delayMs, undefined, { signal: callSignal.getStore() });
      const requestId = this.getOktaRequestId(response);
      return this.fetch(this.buildRetryRequest(request, requestId, delayMs));
    }
  };

/**
 * The SDK takes a refused token request's body for a token (it never checks the status) and
 * then calls the API with "undefined"; the refusal is raised here instead, with Okta's reason.
 * `use_dpop_nonce` is no refusal: the SDK asks again with the nonce.
 */
async function refused(response: Response): Promise<void> {
  const body = (await response
    .clone()
    .json()
    .catch(() => ({}))) as { error?: unknown; error_description?: unknown };
  if (body.error === 'use_dpop_nonce') return;
  const reason = [body.error, body.error_description].filter((part) => typeof part === 'string');
  throw new TokenRefused(
    `Okta refused the service app's token request: ${response.status}${reason.length ? ` ${reason.join(': ')}` : ''} (check oauth.clientId, the public key registered for it, and that the app was granted the scopes asked for)`,
  );
}

export type OktaAuth =
  { token: string } | { clientId: string; privateKey: string; keyId?: string; scopes: string[] };

export function oktaClient(orgUrl: string, auth: OktaAuth): Client {
  const mode =
    'token' in auth
      ? { authorizationMode: 'SSWS', token: auth.token }
      : {
          authorizationMode: 'PrivateKey',
          clientId: auth.clientId,
          privateKey: auth.privateKey,
          scopes: auth.scopes,
          ...(auth.keyId ? { keyId: auth.keyId } : {}),
        };
  return new (oktaSdk().Client)({
    orgUrl,
    ...mode,
    requestExecutor: callBoundExecutor(),
    // By default the SDK keeps every user it fetched (keyed by id) for as long as it runs, memory
    // that grows with the people served and could answer for Okta; every read goes to Okta.
    cacheMiddleware: null,
  });
}

/** What an operator should do about an Okta error code, where the summary alone does not say. */
const HINTS: Record<string, string> = {
  E0000011:
    "Okta refused the API token (or the service app's access token): wrong, expired or revoked",
  E0000006:
    "the API token's admin (or the service app's scopes and admin role) may not do this for this user or group",
  E0000007: 'no such user or group, or the admin role cannot see it',
  E0000047: 'rate limited even after waiting for X-Rate-Limit-Reset; retried later',
};

/**
 * Runs `work` (SDK calls) bound to `signal`, turning whatever fails into an Error that says what
 * happened without the API token or private key, nor a raw answer body, which may echo them.
 */
export async function oktaCall<T>(
  signal: AbortSignal,
  what: string,
  secrets: string[],
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await raceAbort(signal, what, () => callSignal.run(signal, work));
  } catch (err) {
    throw new Error(scrub(describe(err, what, signal), secrets));
  }
}

/** An Okta answer of this status. */
export function isOktaStatus(err: unknown, status: number): boolean {
  return (err as { status?: unknown } | undefined)?.status === status;
}

/**
 * Okta's own "not found" (404 E0000007), not any 404: a proxy or custom domain in front of Okta
 * answering 404 for a broken route says nothing about the user or group.
 */
export function isOktaNotFound(err: unknown): boolean {
  return isOktaStatus(err, 404) && (err as { errorCode?: unknown }).errorCode === 'E0000007';
}

function describe(err: unknown, what: string, signal: AbortSignal): string {
  if (signal.aborted) return `${what} ${abortReason(signal)}`;
  if (err instanceof TokenRefused) return `${what} failed: ${err.message}`;
  const { status, errorCode, errorSummary, code, message } = err as {
    status?: unknown;
    errorCode?: unknown;
    errorSummary?: unknown;
    code?: unknown;
    message?: unknown;
  };
  if (typeof status === 'number') {
    if (typeof errorCode !== 'string') return `${what} failed: Okta answered ${status}`;
    const summary =
      typeof errorSummary === 'string' ? excerptHead(errorSummary, SUMMARY_EXCERPT) : '';
    const hint = HINTS[errorCode];
    const detail = [summary, hint].filter(Boolean).join('; ');
    return `${what} failed: ${status} ${errorCode}${detail ? ` (${detail})` : ''}`;
  }
  const text = typeof message === 'string' ? message : String(err);
  // node-fetch's FetchError carries the system error's code (ECONNREFUSED, ENOTFOUND…).
  if (typeof code === 'string') return `${what} request failed: ${code} (${text})`;
  return `${what}: ${text}`;
}

function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('[redacted]');
  return out;
}
