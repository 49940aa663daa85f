import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import type { StoreKind } from '../support/stores';

/**
 * A hand-built week in Europe/Berlin that contains the end of summer time (Sun 25 Oct 2026,
 * 03:00 CEST → 02:00 CET). The digest runs Mondays 09:00 local, so the period is
 * Mon 19 Oct 09:00 CEST (07:00Z) → Mon 26 Oct 09:00 CET (08:00Z): 169 hours.
 */
export const WEEK_CONFIG = BASE_CONFIG.replace('timezone: UTC', 'timezone: Europe/Berlin').concat(
  `digest:
  channel: CDIGEST
  schedule: '0 9 * * 1'
`,
);

export const PERIOD = {
  start: Date.parse('2026-10-19T07:00:00Z'),
  end: Date.parse('2026-10-26T08:00:00Z'),
};

/** When the fixture's digest is computed: five minutes after the period ended. */
export const AS_OF = Date.parse('2026-10-26T08:05:00Z');

const JUST = 'investigating INC-42 slow queries';
const RETRY = { retryBase: 5_000, retryMax: 600_000, alertAfterAttempts: 5, random: () => 0.5 };

export interface FixtureWeek extends CoreHarness {
  grants: Record<string, string>;
  requests: Record<string, string>;
}

/**
 * Builds the week through the real core, moving a ManualClock, on a fresh store of `kind`. The
 * comments give the numbers the digest must find (the test spells them out again).
 */
export async function fixtureWeek(kind: StoreKind = 'sqlite'): Promise<FixtureWeek> {
  const h = await coreHarness(WEEK_CONFIG, undefined, kind);
  const { core, clock } = h;
  const grants: Record<string, string> = {};
  const requests: Record<string, string> = {};
  const at = (iso: string) => clock.set(Date.parse(iso));

  const file = async (name: string, requester: string, resourceId: string, iso: string) => {
    at(iso);
    const row = await core.createRequest({
      requester,
      resourceId,
      duration: '1h',
      justification: JUST,
    });
    requests[name] = row.id;
    return row;
  };
  const decide = async (name: string, actor: string, decision: 'approve' | 'deny', iso: string) => {
    at(iso);
    const outcome = await core.decide({ requestId: requests[name]!, actor, decision });
    return outcome.request;
  };
  const grantOf = async (name: string) => {
    const grant = await h.store.grants.byRequest(requests[name]!);
    if (!grant) throw new Error(`fixture: request ${name} made no grant`);
    return grant.id;
  };
  // Each step must take effect: a transition the core refused would silently change the week.
  const activate = async (name: string, iso: string, durationMs = 3_600_000) => {
    at(iso);
    const id = await grantOf(name);
    grants[name] = id;
    const done = await core.lifecycle.activated(id, {
      startsAt: clock.now(),
      expiresAt: clock.now() + durationMs,
      state: undefined,
      elapsedMs: 40,
    });
    if (!done) throw new Error(`fixture: grant of ${name} did not activate`);
  };
  const expire = async (name: string, iso: string) => {
    at(iso);
    await core.lifecycle.expire([grants[name]!]);
  };
  const revoked = async (name: string, iso: string) => {
    at(iso);
    await core.lifecycle.revoked([{ grantId: grants[name]!, elapsedMs: 30 }]);
  };
  const failed = async (name: string, call: 'grant' | 'revoke', iso: string, error: string) => {
    at(iso);
    await core.lifecycle.failed(grants[name]!, call, error, RETRY);
  };

  // Before the period: not counted anywhere.
  await file('old', 'UREQ', 'prod-db', '2026-10-18T10:00:00Z');
  await decide('old', 'ULEAD', 'approve', '2026-10-18T10:05:00Z');
  await activate('old', '2026-10-18T10:06:00Z');
  await expire('old', '2026-10-18T11:06:00Z');
  await revoked('old', '2026-10-18T11:06:01Z');

  // Filed before the period, approved at its first instant: 90 min to decide, counts.
  await file('r1', 'UREQ', 'prod-db', '2026-10-19T05:30:00Z');
  await decide('r1', 'ULEAD', 'approve', '2026-10-19T07:00:00Z');
  await activate('r1', '2026-10-19T07:00:30Z'); // 09:00 CEST: business hours
  await expire('r1', '2026-10-19T08:00:30Z');
  await revoked('r1', '2026-10-19T08:00:31Z'); // on time

  // 5 min; activated 08:30 CEST (inside; a fixed +1h offset would call it 07:30, outside).
  // Its revoke fails once and succeeds 10 min after expiry: a late revoke, 2 attempts.
  await file('r2', 'UENG', 'prod-db', '2026-10-20T06:00:00Z');
  await decide('r2', 'ULEAD', 'approve', '2026-10-20T06:05:00Z');
  await activate('r2', '2026-10-20T06:30:00Z', 2 * 3_600_000);
  await expire('r2', '2026-10-20T08:30:00Z');
  await failed('r2', 'revoke', '2026-10-20T08:30:05Z', 'timeout');
  await revoked('r2', '2026-10-20T08:40:00Z');

  // 10 min; the holder ends it early.
  await file('r3', 'UENG', 'prod-db', '2026-10-20T09:00:00Z');
  await decide('r3', 'ULEAD', 'approve', '2026-10-20T09:10:00Z');
  await activate('r3', '2026-10-20T09:11:00Z');
  at('2026-10-20T09:30:00Z');
  await core.revokeGrant({ grantId: grants.r3!, actor: 'UENG', reason: 'done' });
  await revoked('r3', '2026-10-20T09:30:01Z');

  // Denied by a user-group approver after 15 min.
  await file('r4', 'UREQ', 'prod-db', '2026-10-21T10:00:00Z');
  await decide('r4', 'UDBA', 'deny', '2026-10-21T10:15:00Z');

  // Self-approved after 20 min.
  await file('r5', 'UREQ', 'self-ok', '2026-10-21T11:00:00Z');
  await decide('r5', 'UREQ', 'approve', '2026-10-21T11:20:00Z');
  await activate('r5', '2026-10-21T12:00:00Z');
  await expire('r5', '2026-10-21T13:00:00Z');
  await revoked('r5', '2026-10-21T13:00:01Z');

  // Two-person rule, quorum after 30 min; extended by an hour (45 min to decide): 3 h in all.
  await file('r6', 'UENG', 'quorum', '2026-10-21T12:00:00Z');
  await decide('r6', 'UA1', 'approve', '2026-10-21T12:10:00Z');
  await decide('r6', 'UA2', 'approve', '2026-10-21T12:30:00Z');
  await activate('r6', '2026-10-21T12:31:00Z', 2 * 3_600_000);
  at('2026-10-21T13:00:00Z');
  const ext = await core.requestExtension({
    grantId: grants.r6!,
    actor: 'UENG',
    duration: '1h',
    justification: JUST,
  });
  requests.ext = ext.id;
  await decide('ext', 'UA1', 'approve', '2026-10-21T13:05:00Z');
  await decide('ext', 'UA3', 'approve', '2026-10-21T13:45:00Z');
  await expire('r6', '2026-10-21T15:31:00Z');
  await revoked('r6', '2026-10-21T15:31:01Z');

  // 60 min; the provider refuses five times, activation gives up and is cleaned up promptly.
  await file('r7', 'UREQ', 'prod-db', '2026-10-22T08:00:00Z');
  await decide('r7', 'UDBA', 'approve', '2026-10-22T09:00:00Z');
  grants.r7 = await grantOf('r7');
  for (const minute of ['01', '02', '03', '04', '05'])
    await failed('r7', 'grant', `2026-10-22T09:${minute}:00Z`, 'provider says no');
  await revoked('r7', '2026-10-22T09:05:30Z');

  // Denied after 120 min.
  await file('r8', 'UENG', 'prod-db', '2026-10-23T14:00:00Z');
  await decide('r8', 'ULEAD', 'deny', '2026-10-23T16:00:00Z');

  // 240 min; activated 18:30 CEST Friday (outside; +1h would say 17:30, inside). Its revoke
  // keeps failing: still revoking when the digest runs.
  await file('r9', 'UREQ', 'prod-db', '2026-10-23T12:25:00Z');
  await decide('r9', 'ULEAD', 'approve', '2026-10-23T16:25:00Z');
  await activate('r9', '2026-10-23T16:30:00Z');
  await expire('r9', '2026-10-23T17:30:00Z');
  await failed('r9', 'revoke', '2026-10-23T17:30:05Z', 'connection refused');
  await failed('r9', 'revoke', '2026-10-23T17:31:00Z', 'connection refused');
  await failed('r9', 'revoke', '2026-10-23T17:35:00Z', 'connection refused');

  // Auto-approved on Saturday: outside business hours.
  await file('r10', 'UENG', 'auto', '2026-10-24T10:00:00Z');
  await activate('r10', '2026-10-24T10:00:01Z');
  await expire('r10', '2026-10-24T11:00:01Z');
  await revoked('r10', '2026-10-24T11:00:02Z');

  // Cancelled.
  await file('r11', 'UREQ', 'prod-db', '2026-10-24T11:00:00Z');
  at('2026-10-24T11:30:00Z');
  await core.cancelRequest(requests.r11!, 'UREQ');

  // Filed on the night of the DST change, expires undecided 24 h later.
  await file('r12', 'UENG', 'prod-db', '2026-10-25T00:30:00Z');
  at('2026-10-26T00:30:00Z');
  await core.expireStaleRequests();

  // Auto-approved, activated 07:30 CET Monday (outside; +2h would say 08:30, inside).
  await file('r13', 'UREQ', 'auto', '2026-10-26T06:00:00Z');
  await activate('r13', '2026-10-26T06:30:00Z');
  await expire('r13', '2026-10-26T07:30:00Z');
  await revoked('r13', '2026-10-26T07:30:01Z');

  // Auto-approved, activated 08:30 CET (inside), still active at the end of the period.
  await file('r14', 'UENG', 'auto', '2026-10-26T07:00:00Z');
  await activate('r14', '2026-10-26T07:30:00Z');

  // At the period's end exactly: the next period's.
  await file('r15', 'URND', 'auto', '2026-10-26T08:00:00Z');

  at(new Date(AS_OF).toISOString());
  return { ...h, grants, requests };
}
