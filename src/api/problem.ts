import type { ServerResponse } from 'node:http';
import { DomainError, type ErrorCode } from '../core/errors';

/**
 * An answer that is not a success, as RFC 9457 `application/problem+json`: `detail` is the same
 * sentence a person in Slack would read, `code` the stable name a script can branch on.
 */
export class ApiProblem extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly extra: { field?: string; errors?: string[]; retryAfterSeconds?: number } = {},
  ) {
    super(detail);
    this.name = 'ApiProblem';
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** What each rule's refusal means over HTTP. */
const STATUS_OF: Record<ErrorCode, number> = {
  unknown_resource: 422,
  not_allowed: 403,
  bad_duration: 422,
  bad_justification: 422,
  bad_ticket: 422,
  not_found: 404,
  not_approver: 403,
  self_approval: 403,
  not_yours: 403,
  bad_state: 409,
  rate_limited: 429,
  deactivated: 403,
  unavailable: 503,
  bad_token: 422,
  invalid_token: 401,
  bad_start: 422,
  outside_window: 403,
  self_review: 403,
  bad_note: 422,
};

/** The API's name for a form field the core names (`justification` is `reason` here). */
const FIELD_OF = {
  resource: 'resource',
  duration: 'duration',
  justification: 'reason',
  ticket: 'ticket',
  start: 'start',
};

export function problemOf(err: DomainError): ApiProblem {
  return new ApiProblem(STATUS_OF[err.code], err.code, err.message, {
    ...(err.field ? { field: FIELD_OF[err.field] } : {}),
    // The core counts filings over minutes; a minute is an honest first wait.
    ...(err.code === 'rate_limited' ? { retryAfterSeconds: 60 } : {}),
  });
}

export function writeProblem(res: ServerResponse, problem: ApiProblem): void {
  const { status, code, extra } = problem;
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (extra.retryAfterSeconds !== undefined)
    headers['retry-after'] = String(extra.retryAfterSeconds);
  if (status === 401)
    headers['www-authenticate'] = 'Bearer realm="hallpass", error="invalid_token"';
  res.writeHead(status, headers);
  res.end(
    JSON.stringify({
      type: `urn:hallpass:problem:${code}`,
      title: TITLES[status] ?? 'Error',
      status,
      detail: problem.message,
      code,
      ...(extra.field ? { field: extra.field } : {}),
      ...(extra.errors ? { errors: extra.errors } : {}),
    }),
  );
}
