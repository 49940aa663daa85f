import { chainEvent } from '../../src/core/audit';
import type { GrantRow, RequestRow, Store } from '../../src/store';

/** The moment port tests write at. */
export const AT = Date.UTC(2026, 10, 2, 9, 0, 0);

/** A pending access request, complete as the core would write it. */
export function requestRow(id: string, over: Partial<RequestRow> = {}): RequestRow {
  return {
    id,
    kind: 'access',
    grantId: null,
    requester: 'UREQ',
    resourceId: 'prod-db',
    durationMs: 3_600_000,
    justification: 'written by a store test',
    ticket: null,
    status: 'pending',
    approvalsRequired: 1,
    autoApproved: false,
    selfApproved: false,
    createdAt: AT,
    pendingUntil: AT + 86_400_000,
    decidedAt: null,
    decidedBy: null,
    decisionReason: null,
    clientKey: null,
    maxDurationMs: null,
    caller: null,
    startAt: null,
    policy: null,
    ...over,
  };
}

/** A grant in activating for `requestId`, complete as the core would write it. */
export function grantRow(id: string, requestId: string, over: Partial<GrantRow> = {}): GrantRow {
  return {
    id,
    requestId,
    userId: 'UREQ',
    resourceId: 'prod-db',
    provider: 'hook',
    status: 'activating',
    durationMs: 3_600_000,
    startsAt: null,
    expiresAt: null,
    providerExpiresAt: null,
    nextAttemptAt: AT,
    attempts: 0,
    lastError: null,
    alertedAt: null,
    warnedAt: null,
    providerState: null,
    endReason: null,
    endedBy: null,
    endNote: null,
    endedAt: null,
    createdAt: AT,
    snapshot: null,
    fenceUntil: null,
    recheckAt: null,
    rechecks: 0,
    verifiedAt: null,
    grantedEmail: null,
    endAskedAt: null,
    endRecordedAt: null,
    activityReported: false,
    activatedAt: null,
    ...over,
  };
}

/** An approved request and its grant, the row the counting tests count on. */
export async function counterGrant(store: Store, id = 'gr_counter'): Promise<string> {
  await store.change(async (tx) => {
    await tx.requests.insert(requestRow('req_counter', { status: 'approved' }));
    await tx.grants.insert(grantRow(id, 'req_counter'));
  });
  return id;
}

/**
 * One read-then-write change, as every rule of the core is: reads the grant's `attempts` and the
 * audit head, writes `attempts + 1` and the next audit row chained to that head. Resolves with
 * the count it wrote, or undefined once the count reached `upTo`. Two of these interleaving
 * would write the same count twice and fork the chain.
 */
export function countUp(store: Store, grantId: string, upTo = Infinity) {
  return store.change(async (tx) => {
    const grant = await tx.grants.byId(grantId);
    if (!grant) throw new Error(`no grant ${grantId}`);
    if (grant.attempts >= upTo) return undefined;
    const head = await tx.audit.head();
    const attempts = grant.attempts + 1;
    await tx.grants.update(grantId, { attempts });
    await tx.audit.append([
      chainEvent(head, AT + attempts, {
        actor: 'store-test',
        action: 'grant.activation_failed_attempt',
        requestId: grant.requestId,
        grantId,
        details: { attempts },
      }),
    ]);
    return attempts;
  });
}
