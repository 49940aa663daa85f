import type { FilingFacts, Queries } from '../store';
import type { Change, CoreContext, RequestRow } from './context';
import { DomainError } from './errors';

/** What a filing asks for, as its request row would record it. */
export type Asked = Pick<
  RequestRow,
  | 'requester'
  | 'kind'
  | 'resourceId'
  | 'grantId'
  | 'durationMs'
  | 'justification'
  | 'ticket'
  | 'startAt'
>;

/** The fields a retry must ask for as the filing it repeats did, with what to call each. */
const SAME: readonly [keyof Asked, string][] = [
  ['kind', 'kind of request'],
  ['grantId', 'grant'],
  ['durationMs', 'duration'],
  ['justification', 'reason'],
  ['ticket', 'ticket'],
  ['startAt', 'start'],
];

/**
 * The request filed before with `clientKey`, for a retry of the same filing (a Slack retry, an
 * API call sent again). A key another requester used is refused rather than answered: whoever
 * sends it must never be handed someone else's request, nor its grant and credentials. So is a
 * key used to ask for anything else (another resource, grant, duration, reason, ticket or
 * start): a retry asks for the same thing, and the rules that let this filing through were
 * checked for what it asks, not for what the request it names asked.
 */
export async function filedBefore(
  tx: Queries,
  clientKey: string | undefined,
  asked: Asked,
): Promise<RequestRow | undefined> {
  if (!clientKey) return undefined;
  const existing = await tx.requests.byClientKey(clientKey);
  return existing && repeated(existing, asked);
}

/** `existing`, the request a client key filed, if `asked` repeats it; else throws what differs. */
export function repeated(existing: RequestRow, asked: Asked): RequestRow {
  if (existing.requester !== asked.requester)
    throw new DomainError(
      'not_yours',
      'That idempotency key was already used by another requester; use a key of your own.',
    );
  if (existing.resourceId !== asked.resourceId)
    throw new DomainError(
      'bad_state',
      `That idempotency key was already used to ask for ${existing.resourceId}; a request for ${asked.resourceId} needs a key of its own.`,
      'resource',
    );
  const differs = SAME.filter(([field]) => existing[field] !== asked[field]).map(
    ([, name]) => name,
  );
  if (differs.length > 0)
    throw new DomainError(
      'bad_state',
      `That idempotency key was already used for ${existing.id}, which asked for another ${differs.join(', ')}; a different request needs a key of its own.`,
    );
  return existing;
}

/** What a filing reads in its change before it records anything. */
export interface BeforeFiling {
  /** The request the client key filed already, when `asked` repeats it: nothing is filed again. */
  existing: RequestRow | undefined;
  /** The person's counts since the filing limit's window began, and their directory state. */
  facts: FilingFacts;
}

/**
 * Reads what a filing must know in one statement, and the request its client key filed before
 * only when there is one.
 */
export async function readBeforeFiling(
  ctx: CoreContext,
  c: Change,
  clientKey: string | undefined,
  asked: Asked,
): Promise<BeforeFiling> {
  const facts = await c.tx.requests.beforeFiling({
    requester: asked.requester,
    kind: asked.kind,
    since: c.now - ctx.config.requests.filingLimit.per,
    clientKey: clientKey ?? null,
  });
  const existing = facts.clientKeyUsed ? await filedBefore(c.tx, clientKey, asked) : undefined;
  return { existing, facts };
}
