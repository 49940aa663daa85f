import type { V1RoleRef } from '@kubernetes/client-node';
import { excerptHead } from '../../secrets/scrub';
import { describePlace, resourceOf, type BindingPlace } from './place';

/** What one API call is, for the errors that name it. */
export interface Operation {
  verb: 'create' | 'get' | 'update' | 'delete';
  place: BindingPlace;
  /** The role a create or update binds, for the `bind` permission it needs. */
  roleRef?: V1RoleRef;
}

/** A Kubernetes `Status` answer, as far as Hallpass reads it. */
interface Status {
  reason?: string;
  message?: string;
  details?: { retryAfterSeconds?: number; name?: string; kind?: string };
}

const STATUS_MESSAGE_MAX = 300;
const ESCALATION =
  /attempting to grant RBAC permissions not currently held|attempt to grant extra privileges/;

/** A non-2xx answer of the API server, with the `Status` reason it gave. */
export class KubernetesApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly reason: string | undefined,
    /** From the Retry-After header or the Status details, on 429 (and some 5xx). */
    readonly retryAfterSeconds: number | undefined,
    /** The object a `Status` answer was about (`details.kind` and `details.name`), if it named one. */
    readonly about?: { kind?: string; name?: string },
  ) {
    super(message);
    this.name = 'KubernetesApiError';
  }
}

export function isStatus(err: unknown, status: number, reason?: string): boolean {
  return (
    err instanceof KubernetesApiError &&
    err.status === status &&
    (reason === undefined || err.reason === reason)
  );
}

/**
 * Whether the API server said this binding does not exist: a `Status` NotFound naming it. Any
 * other 404 (a path the server does not serve, a proxy's page when its backend is down, a
 * missing namespace) says nothing about the binding, and taking it for "gone" would record a
 * revoke that never happened.
 */
export function isBindingNotFound(err: unknown, place: BindingPlace): boolean {
  return (
    isStatus(err, 404, 'NotFound') &&
    (err as KubernetesApiError).about?.kind === resourceOf(place) &&
    (err as KubernetesApiError).about?.name === place.name
  );
}

/** How long a 429 answer asked to wait, in seconds; undefined for anything else. */
export function throttledFor(err: unknown): number | undefined {
  return isStatus(err, 429) ? (err as KubernetesApiError).retryAfterSeconds : undefined;
}

export function describeOperation(op: Operation): string {
  return `kubernetes ${op.verb} ${describePlace(op.place)}`;
}

/**
 * The SDK's error for a call, as an Error that says what failed and what to do. Only the
 * `message` of a Status is quoted (the API server's words, no secrets); a body that is not a
 * Status (a proxy's page) is not.
 */
export function callError(op: Operation, err: unknown): Error {
  const { code, body, headers } = err as { code?: unknown; body?: unknown; headers?: unknown };
  if (typeof code !== 'number') {
    return new Error(`${describeOperation(op)} failed: ${networkError(err)}`);
  }
  const status = parseStatus(body);
  const retryAfter = retryAfterOf(headers, status);
  return new KubernetesApiError(
    apiErrorMessage(op, code, status, retryAfter),
    code,
    status?.reason,
    retryAfter,
    status?.details && { kind: status.details.kind, name: status.details.name },
  );
}

function apiErrorMessage(
  op: Operation,
  code: number,
  status: Status | undefined,
  retryAfter: number | undefined,
): string {
  const what = describeOperation(op);
  const said = status?.message ? `: ${excerptHead(status.message, STATUS_MESSAGE_MAX)}` : '';
  if (code === 401) {
    return `${what} was refused: 401 Unauthorized (the API server does not accept the kubeconfig user's credentials or the service account token)`;
  }
  if (code === 403) {
    if (op.roleRef && ESCALATION.test(status?.message ?? '')) {
      const { kind, name } = op.roleRef;
      return `${what} is forbidden: Hallpass may not bind ${kind} "${name}" (give its account the bind verb on ${kind.toLowerCase()}s named ${name})${said}`;
    }
    return `${what} is forbidden: Hallpass's account needs the ${op.verb} verb on ${resourceOf(op.place)} ${scopeOf(op.place)}${said}`;
  }
  if (code === 429) {
    const wait = retryAfter === undefined ? '' : `, asked to retry after ${retryAfter}s`;
    return `${what} was throttled: 429 ${status?.reason ?? 'TooManyRequests'}${wait}`;
  }
  return `${what} failed: ${code}${status?.reason ? ` ${status.reason}` : ''}${said}`;
}

function scopeOf(place: BindingPlace): string {
  return place.kind === 'RoleBinding' ? `in namespace ${place.namespace}` : '(cluster-wide)';
}

function parseStatus(body: unknown): Status | undefined {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      return undefined;
    }
  }
  const status = parsed as { kind?: unknown } | null;
  return status && typeof status === 'object' && status.kind === 'Status'
    ? (status as Status)
    : undefined;
}

function retryAfterOf(headers: unknown, status: Status | undefined): number | undefined {
  const header = (headers as Record<string, unknown> | undefined)?.['retry-after'];
  const seconds = typeof header === 'string' ? Number(header) : status?.details?.retryAfterSeconds;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds >= 0
    ? seconds
    : undefined;
}

/** The system error's code says why (ECONNREFUSED, a TLS error…), then its message. */
function networkError(err: unknown): string {
  const { code, message } = err as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(err);
  return typeof code === 'string' && !text.includes(code) ? `${code} (${text})` : text;
}
