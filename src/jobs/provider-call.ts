import { movedSettings, termsOf, type GrantRow, type ProviderPlace } from '../core';
import type { Directory } from '../core/directory';
import type { Core, Policy } from '../core';
import type { Logger } from '../log';
import type { Provider, ProviderCallContext } from '../providers/types';
import { scrub } from '../secrets/scrub';

/** A configured provider as the sweeper needs it. */
export interface ResolvedProvider {
  provider: Provider;
  timeoutMs: number;
  /** Where it acts; a lookup without places (a test's) acts wherever grants were made. */
  place?: ProviderPlace;
}

export interface ProviderLookup {
  get(name: string): ResolvedProvider | undefined;
  /** The resource's target as its provider parsed it (defaults filled in). */
  forResource?(resourceId: string): { target: unknown } | undefined;
}

export class ProviderCallError extends Error {}

/**
 * What `movedSettings` answered for a grant's terms against a place: the grants of a resource
 * share one frozen terms object (`termsOf`), and a mass expiry asks for each of them.
 */
const movedFor = new WeakMap<object, { place: ProviderPlace; moved: string[] }>();

function movedSince(grant: GrantRow, place: ProviderPlace): string[] {
  const terms = termsOf(grant);
  if (!terms) return [];
  const known = movedFor.get(terms);
  if (known?.place === place) return known.moved;
  const moved = movedSettings(terms, place);
  movedFor.set(terms, { place, moved });
  return moved;
}

/**
 * The provider instance a grant's calls go to: the one named on the grant, while it still points
 * where the grant was made. Otherwise why not, as its error says it: a revoke or read-back made
 * elsewhere would find nothing and be recorded as done while the access stays.
 */
export function providerFor(
  lookup: ProviderLookup,
  grant: GrantRow,
): ResolvedProvider | { problem: string } {
  const found = lookup.get(grant.provider);
  if (!found) {
    return {
      problem: `provider "${grant.provider}" is not in the configuration any more; add it back so the grant can be ended and read back`,
    };
  }
  const moved = found.place ? movedSince(grant, found.place) : [];
  if (moved.length === 0) return found;
  const settings = moved.map((key) => `providers.${grant.provider}.${key}`).join(', ');
  return {
    problem: `provider "${grant.provider}" points elsewhere than where the grant was made (${settings} changed); restore ${moved.length === 1 ? 'it' : 'them'} so the grant can be ended and read back`,
  };
}

/**
 * What a provider's `check` answered: true or false, nothing else. A module's check is outside
 * our type checks, and one that answers anything else (a forgotten `return`, a field the API
 * does not send) must fail the read-back, never count as "gone".
 */
export async function presenceOf(answer: Promise<unknown>): Promise<boolean> {
  const present = await answer;
  if (typeof present !== 'boolean') {
    throw new ProviderCallError(
      `check answered ${present === null ? 'null' : typeof present}, not true or false`,
    );
  }
  return present;
}

/** How long a provider call waits on the directory (a person's email, status) before going on. */
const DIRECTORY_LOOKUP_MS = 2000;

/** What a bounded lookup got: the directory's answer, or none (it failed or took too long). */
export type Answer<T> = { answered: true; value: T } | { answered: false };

const NO_ANSWER = { answered: false } as const;

/**
 * `lookup`'s answer, or none when it fails or takes longer than DIRECTORY_LOOKUP_MS: what a
 * provider call asks the directory is a courtesy or a second look, and a directory that is out,
 * or rate-limits a mass of calls, must not hold the calls up. One promise and one timer per
 * lookup, as each revoke of a mass expiry makes one.
 */
export function boundedAnswer<T>(lookup: () => Promise<T>): Promise<Answer<T>> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(NO_ANSWER), DIRECTORY_LOOKUP_MS);
    const settle = (answer: Answer<T>) => {
      clearTimeout(timer);
      resolve(answer);
    };
    try {
      lookup().then(
        (value) => settle({ answered: true, value }),
        () => settle(NO_ANSWER),
      );
    } catch {
      settle(NO_ANSWER);
    }
  });
}

/** `boundedAnswer`'s value, undefined also when there was none. */
export async function boundedLookup<T>(lookup: () => Promise<T>): Promise<T | undefined> {
  const answer = await boundedAnswer(lookup);
  return answer.answered ? answer.value : undefined;
}

/**
 * The email a call on a grant names: the one recorded for it (before its first grant call), so a
 * retried activation and a revoke reach the account that was granted even when the person's
 * email changed since or the directory does not answer, and a mass expiry does not ask the
 * directory once per grant. Grants activated before it was recorded, or without one, look the
 * person up.
 */
export async function grantedEmailOf(
  directory: Directory,
  grant: GrantRow,
): Promise<string | undefined> {
  const answer = await grantedEmailAnswer(directory, grant);
  return answer.answered ? answer.value : undefined;
}

/** `grantedEmailOf`, telling a person with no email from a directory that did not answer. */
export function grantedEmailAnswer(
  directory: Directory,
  grant: GrantRow,
): Promise<Answer<string | undefined>> {
  return grant.grantedEmail !== null
    ? Promise.resolve({ answered: true, value: grant.grantedEmail })
    : boundedAnswer(() => directory.emailOf(grant.userId));
}

/**
 * Takes the lease a grant call (an activation, or a re-grant of an active grant) holds the grant
 * with before it is made (recordGrantCall): undefined, and the call is not made, when the grant
 * left the state the call is for or another call may still be out. Nor when taking it left no
 * more than the call's timeout of the lease: the call and the record of its timing out must both
 * come before the lease ends, so a write that waited long (a busy database) leaves the call to
 * the next pass, once the lease ran out.
 */
export async function takeGrantCall(
  core: Core,
  logger: Logger,
  grantId: string,
  email: string | undefined,
  timeoutMs: number,
): Promise<number | undefined> {
  const lease = await core.lifecycle.grantCall(grantId, email, timeoutMs);
  if (lease === undefined) {
    logger.info('grant ended, or another grant call may be out; not calling', { grantId });
    return undefined;
  }
  if (lease - core.now() <= timeoutMs) {
    logger.warn('taking the grant call took too long; calling after its lease', { grantId });
    return undefined;
  }
  return lease;
}

/**
 * The context of the provider calls on one grant, built once, each call given its own `signal`
 * (a revoke and its check read the grant's terms once).
 */
export function callContext(
  grant: GrantRow,
  policy: Policy,
  providers: ProviderLookup,
  email: string | undefined,
  window: { startsAt: number; expiresAt: number },
): (signal: AbortSignal) => ProviderCallContext<unknown> {
  // The grant's recorded terms win: the access is acted on as it was granted, whatever the
  // configuration says today. Grants made before terms were recorded fall back to it.
  const terms = termsOf(grant);
  const resource = policy.findResource(grant.resourceId);
  const base = {
    grantId: grant.id,
    requestId: grant.requestId,
    user: { slackId: grant.userId, email },
    resource: {
      id: grant.resourceId,
      name: terms?.resourceName ?? resource?.name ?? grant.resourceId,
      target:
        terms !== undefined
          ? terms.target
          : (providers.forResource?.(grant.resourceId)?.target ?? resource?.target ?? {}),
    },
    startsAt: new Date(window.startsAt),
    expiresAt: new Date(window.expiresAt),
    state: grant.providerState === null ? undefined : (JSON.parse(grant.providerState) as unknown),
  };
  return (signal) => ({ ...base, signal });
}

/**
 * A provider's error as Hallpass records it: scrubbed of secrets first, since provider text
 * (a curl error with a token in its URL, a webhook's body) goes on to the audit, the database,
 * Slack and the logs.
 */
export function describeError(err: unknown): string {
  return scrub(err instanceof Error ? err.message || err.name : String(err));
}
