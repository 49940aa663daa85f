import { webApi } from '@slack/bolt';

/** Start-up stopped at Slack: the message names the call, where it went, and what to do. */
export class SlackStartError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SlackStartError';
  }
}

/** The token a start-up call uses, by its environment variable. */
export type TokenVariable = 'SLACK_BOT_TOKEN' | 'SLACK_APP_TOKEN';

/** Slack's answers that mean the token itself is refused (not a passing outage). */
const REJECTED_TOKEN = new Set([
  'not_authed',
  'invalid_auth',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'not_allowed_token_type',
  'team_disabled',
  'user_removed_from_team',
  'ekm_access_denied',
]);

const WHAT_TO_DO: Record<TokenVariable, string> = {
  SLACK_BOT_TOKEN:
    'copy the Bot User OAuth Token (xoxb-…) again from OAuth & Permissions; if the app was uninstalled or the token revoked, reinstall it to the workspace first',
  SLACK_APP_TOKEN:
    'create an app-level token with the connections:write scope under Basic Information → App-Level Tokens, and turn Socket Mode on, or unset SLACK_APP_TOKEN to receive requests over HTTP',
};

/** The low-level reason a request never got an answer: ECONNREFUSED, ENOTFOUND, a timeout. */
function networkReason(err: Error): string {
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'no answer in time';
  // node:http rejects with the socket's error itself; global fetch wrapped it as the cause.
  const own = (err as NodeJS.ErrnoException).code;
  if (typeof own === 'string') return own;
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code ?? cause.message;
  }
  return err.message;
}

/**
 * Turns what the Slack SDK threw for a start-up call into a sentence an operator can act on.
 * Errors that are not the SDK's pass through unchanged.
 */
export function explainStartFailure(
  err: unknown,
  call: { method: string; token: TokenVariable; apiUrl?: string },
): unknown {
  const base = call.apiUrl
    ? call.apiUrl.endsWith('/')
      ? call.apiUrl
      : `${call.apiUrl}/`
    : 'https://slack.com/api/';
  const url = `${base}${call.method}`;
  if (err instanceof webApi.WebAPIRequestError) {
    return new SlackStartError(
      `cannot reach Slack: ${call.method} to ${url} failed (${networkReason(err.original)}); check this host's network and proxy${call.apiUrl ? ', and SLACK_API_URL' : ''}`,
      { cause: err },
    );
  }
  if (err instanceof webApi.WebAPIPlatformError) {
    const answer = err.data.error;
    if (REJECTED_TOKEN.has(answer)) {
      return new SlackStartError(
        `Slack rejected ${call.token} (${call.method} answered ${answer}): ${WHAT_TO_DO[call.token]}`,
        { cause: err },
      );
    }
    return new SlackStartError(`Slack answered ${call.method} with ${answer} at start-up`, {
      cause: err,
    });
  }
  if (err instanceof webApi.WebAPIHTTPError) {
    return new SlackStartError(
      `Slack answered ${call.method} at ${url} with HTTP ${err.statusCode}${call.apiUrl ? '; is SLACK_API_URL a Slack Web API base (…/api/)?' : ''}`,
      { cause: err },
    );
  }
  if (err instanceof webApi.WebAPIRateLimitedError) {
    return new SlackStartError(
      `Slack rate-limited ${call.method} at start-up (retry after ${err.retryAfter} s); start again in a moment`,
      { cause: err },
    );
  }
  return err;
}
