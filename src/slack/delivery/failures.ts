import { webApi } from '@slack/bolt';
import { scrub } from '../../secrets/scrub';
import { SlackTimeoutError } from './slack-out';

/**
 * Another process holds the row by now (this one paused past its lease): the delivery stops, and
 * records nothing, as the row is that process's to finish.
 */
export class LeaseLost extends Error {
  constructor() {
    super('another process claimed this outbox row while its delivery was under way');
    this.name = 'LeaseLost';
  }
}

/** A notification that can never be delivered as queued (its request is gone, its seal is broken). */
export class Undeliverable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Undeliverable';
  }
}

/**
 * What to do after a failed delivery: wait as long as Slack asked, retry with backoff, or give up
 * at once because trying again cannot help.
 */
export type Failure =
  | { kind: 'rate_limited'; retryAfterMs: number; error: string }
  | { kind: 'transient'; error: string }
  | { kind: 'permanent'; error: string };

/**
 * Slack errors worth another try: Slack's own trouble, and auth errors, which hit every message
 * alike (an operator fixing the token should not find every pending message dropped). Any other
 * error Slack names is about this message (channel_not_found, not_in_channel, invalid_blocks,
 * msg_too_long, message_not_found…) and would fail the same way again.
 */
const TRANSIENT_SLACK_ERRORS = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'ratelimited',
  // chat.postMessage's own "too many messages" answer, HTTP 200 with no Retry-After.
  'rate_limited',
  'team_added_to_org',
  'not_authed',
  'invalid_auth',
  'token_revoked',
  'token_expired',
  'account_inactive',
]);

/** What to do after `err`, with its text scrubbed of secrets before anything stores it. */
export function classify(err: unknown): Failure {
  const failure = classifyRaw(err);
  return { ...failure, error: scrub(failure.error) };
}

function classifyRaw(err: unknown): Failure {
  if (err instanceof webApi.WebAPIRateLimitedError)
    return { kind: 'rate_limited', retryAfterMs: err.retryAfter * 1000, error: 'ratelimited' };
  if (err instanceof webApi.WebAPIPlatformError) {
    const error = `slack: ${err.data.error}`;
    return TRANSIENT_SLACK_ERRORS.has(err.data.error)
      ? { kind: 'transient', error }
      : { kind: 'permanent', error };
  }
  if (err instanceof webApi.WebAPIHTTPError)
    return { kind: 'transient', error: `slack: HTTP ${err.statusCode}` };
  if (err instanceof webApi.WebAPIRequestError)
    return { kind: 'transient', error: `slack: request failed (${err.original.message})` };
  if (err instanceof SlackTimeoutError) return { kind: 'transient', error: err.message };
  if (err instanceof Undeliverable) return { kind: 'permanent', error: err.message };
  return { kind: 'transient', error: err instanceof Error ? err.message : String(err) };
}
