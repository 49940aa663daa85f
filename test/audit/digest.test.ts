import {
  BREAK_GLASS_SHOWN,
  buildDigest,
  PROBLEMS_SHOWN,
  TOP_N,
  type Digest,
  type GrantRef,
} from '../../src/audit/digest';
import { digestText } from '../../src/audit/digest-render';
import { blockKitProblems } from '../../src/slack/ui/limits';
import { digestMessage } from '../../src/slack/ui/digest';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';
import { AS_OF, fixtureWeek, PERIOD, type FixtureWeek } from './fixture-week';

const MIN = 60_000;

describe.each(STORE_KINDS)('the digest of a week across the end of summer time (%s)', (kind) => {
  let w: FixtureWeek;
  let digest: Digest;
  beforeAll(async () => {
    w = await fixtureWeek(kind);
    digest = await buildDigest(w.store, w.config, PERIOD, AS_OF);
  });
  afterAll(() => w.close());

  it('counts requests by outcome inside the period only', () => {
    expect(digest.requests).toEqual({
      filed: 14,
      approved: 11,
      denied: 2,
      cancelled: 1,
      expired: 1,
    });
  });

  it('counts grants activated, ended on time, ended early and failed', () => {
    expect(digest.grants).toEqual({
      activated: 9,
      endedOnTime: 6,
      endedEarly: 1,
      activationFailed: 1,
    });
  });

  it('takes nearest-rank percentiles of the 10 human decisions, auto-approvals left out', () => {
    // 5, 10, 15, 20, 30, 45, 60, 90, 120, 240 min: rank ceil(.5·10)=5 → 30, ceil(.9·10)=9 → 120.
    expect(digest.decisionTime).toEqual({ decisions: 10, medianMs: 30 * MIN, p90Ms: 120 * MIN });
  });

  it('ranks approvers, resources and requesters, saying how many are not shown', () => {
    expect(digest.topApprovers).toEqual({
      items: [
        { key: 'ULEAD', count: 5 },
        { key: 'UA1', count: 2 },
        { key: 'UDBA', count: 2 },
        { key: 'UA2', count: 1 },
        { key: 'UA3', count: 1 },
      ],
      total: 6,
    });
    expect(digest.topResources).toEqual({
      items: [
        { key: 'prod-db', count: 8 },
        { key: 'auto', count: 3 },
        { key: 'quorum', count: 2 },
        { key: 'self-ok', count: 1 },
      ],
      total: 4,
    });
    expect(digest.topRequesters).toEqual({
      items: [
        { key: 'UENG', count: 8 },
        { key: 'UREQ', count: 6 },
      ],
      total: 2,
    });
  });

  it('lists self-approved and auto-approved grants', () => {
    expect(digest.selfApproved.total).toBe(1);
    expect(digest.selfApproved.items[0]).toMatchObject({
      grantId: w.grants.r5,
      userId: 'UREQ',
      resourceId: 'self-ok',
    });
    expect(digest.autoApproved.total).toBe(3);
    expect(digest.autoApproved.items.map((r) => r.requestId)).toEqual([
      w.requests.r10,
      w.requests.r13,
      w.requests.r14,
    ]);
  });

  it('flags activations outside business hours by the local clock of each day, across DST', () => {
    expect(digest.outsideBusinessHours.total).toBe(3);
    expect(digest.outsideBusinessHours.items.map((r) => r.grantId)).toEqual([
      w.grants.r9, // Fri 18:30 CEST
      w.grants.r10, // Saturday
      w.grants.r13, // Mon 07:30 CET
    ]);
  });

  it('names the longest grants, extensions included', () => {
    expect(digest.longestGrants.slice(0, 2)).toEqual([
      expect.objectContaining({ grantId: w.grants.r6, heldMs: 3 * 60 * MIN + 1000 }),
      expect.objectContaining({ grantId: w.grants.r2, heldMs: 130 * MIN }),
    ]);
    expect(digest.longestGrants).toHaveLength(5);
  });

  it('reports the stuck revoke and the late one, longest overrun first', () => {
    expect(digest.revocationProblems.total).toBe(2);
    expect(digest.revocationProblems.items).toEqual([
      {
        grantId: w.grants.r9,
        userId: 'UREQ',
        resourceId: 'prod-db',
        kind: 'stuck',
        status: 'revoking',
        attempts: 3,
        lastError: 'revoke: connection refused',
        dueAt: Date.parse('2026-10-23T17:30:00Z'),
        overrunMs: AS_OF - Date.parse('2026-10-23T17:30:00Z'),
      },
      {
        grantId: w.grants.r2,
        userId: 'UENG',
        resourceId: 'prod-db',
        kind: 'late',
        status: 'revoked',
        attempts: 2,
        lastError: null,
        dueAt: Date.parse('2026-10-20T08:30:00Z'),
        overrunMs: 10 * MIN,
      },
    ]);
  });

  it('verifies the chain from the last row before the period when no digest recorded a head', async () => {
    const last = await w.sql.get<{ seq: number; hash: string }>(
      'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1',
    );
    const before = await w.sql.value<number>(
      'SELECT max(seq) FROM audit_events WHERE at < ?',
      PERIOD.start,
    );
    expect(before).toBeGreaterThan(0);
    expect(digest.chain).toMatchObject({
      intact: true,
      checked: last!.seq - before,
      from: { seq: before, source: 'last row before the period' },
      head: last,
    });
  });

  it('renders as text with the problems first and the period in local time', () => {
    const text = digestText(digest);
    expect(text.split('\n').slice(0, 4)).toEqual([
      'Hallpass weekly digest',
      'Mon 19 Oct 2026 09:00 – Mon 26 Oct 2026 09:00 (Europe/Berlin)',
      '',
      '!! REVOCATION PROBLEMS: 2',
    ]);
    expect(text).toContain(
      `${w.grants.r9} UREQ on prod-db: still not revoked, 2d14h35m past due (3 attempts so far; last error: "revoke: connection refused")`,
    );
    expect(text).toContain(
      `${w.grants.r2} UENG on prod-db: revoked 10m after it was due, 2 attempts`,
    );
    expect(text).toContain('Time to decision: median 30m, 90th percentile 2h (10 decisions)');
    expect(text).toContain(
      'Decided most: ULEAD (5), UA1 (2), UDBA (2), UA2 (1), UA3 (1) and 1 more',
    );
  });

  it('renders as one Slack message within Block Kit limits', () => {
    const message = digestMessage(digest);
    expect(blockKitProblems(message.blocks)).toEqual([]);
    expect(message.text).toMatch(/^Hallpass weekly digest, Mon 19 Oct 2026 09:00/);
    expect(message.text).toContain('Revocation problems: 2');
    expect(JSON.stringify(message.blocks)).toContain(`<@UREQ>`);
  });
});

/**
 * Ids are random and hashes cover them, so the two stores' digests of the same week differ in
 * those alone: each id is named by its fixture step, each hash by its shape. Four grants were
 * held 1h0m1s and the longest-grants list breaks ties by (random) grant id, so which three of
 * them it names is left out; their held times and statuses are compared.
 */
function comparable(digest: Digest, w: FixtureWeek): unknown {
  const names = new Map<string, string>();
  for (const [name, id] of Object.entries(w.grants)) names.set(id, `grant ${name}`);
  for (const [name, id] of Object.entries(w.requests)) names.set(id, `request ${name}`);
  const longestGrants = digest.longestGrants.map((g) =>
    digest.longestGrants.filter((other) => other.heldMs === g.heldMs).length > 1
      ? { heldMs: g.heldMs, status: g.status }
      : g,
  );
  return JSON.parse(JSON.stringify({ ...digest, longestGrants }), (_key, value: unknown) => {
    if (typeof value !== 'string') return value;
    if (/^[0-9a-f]{64}$/.test(value)) return '<hash>';
    return names.get(value) ?? value;
  });
}

describe('the digest of the fixture week on both stores', () => {
  const weeks: FixtureWeek[] = [];
  afterAll(async () => {
    for (const w of weeks) await w.close();
  });

  it('gives the same numbers, lists and chain walk on SQLite and PostgreSQL', async () => {
    const digests: unknown[] = [];
    for (const kind of STORE_KINDS) {
      const w = await fixtureWeek(kind);
      weeks.push(w);
      digests.push(comparable(await buildDigest(w.store, w.config, PERIOD, AS_OF), w));
    }
    const [sqlite, postgres] = digests;
    expect(JSON.stringify(sqlite)).toMatch(/grant r9/);
    expect(postgres).toEqual(sqlite);
  });
});

describe('the digest of an enormous week', () => {
  const long = (prefix: string, n: number) => `${prefix}${'x'.repeat(n)}`;
  const ref = (i: number): GrantRef => ({
    grantId: long(`gr_${i}`, 60),
    requestId: long(`req_${i}`, 60),
    userId: `U${'A'.repeat(40)}${i}`,
    resourceId: long(`res-${i}-`, 55),
    at: PERIOD.start + i * 60_000,
    kind: 'extension',
  });
  const many = <T>(n: number, make: (i: number) => T) =>
    Array.from({ length: n }, (_, i) => make(i));
  const digest: Digest = {
    period: PERIOD,
    timeZone: 'America/Argentina/ComodRivadavia',
    asOf: AS_OF,
    requests: {
      filed: 9_999_999,
      approved: 8_888_888,
      denied: 777_777,
      cancelled: 66_666,
      expired: 5_555,
    },
    grants: {
      activated: 8_000_000,
      endedOnTime: 7_000_000,
      endedEarly: 900_000,
      activationFailed: 12_345,
    },
    decisionTime: { decisions: 9_000_000, medianMs: 123_456_789, p90Ms: 987_654_321 },
    topApprovers: {
      items: many(TOP_N, (i) => ({ key: `U${'B'.repeat(60)}${i}`, count: 1e6 })),
      total: 50_000,
    },
    topResources: {
      items: many(TOP_N, (i) => ({ key: long(`res-${i}-`, 55), count: 1e6 })),
      total: 4_000,
    },
    topRequesters: {
      items: many(TOP_N, (i) => ({ key: `U${'C'.repeat(60)}${i}`, count: 1e6 })),
      total: 90_000,
    },
    selfApproved: { items: many(TOP_N, ref), total: 1_000_000 },
    autoApproved: { items: many(TOP_N, ref), total: 2_000_000 },
    outsideBusinessHours: { items: many(TOP_N, ref), total: 3_000_000 },
    longestGrants: many(TOP_N, (i) => ({
      grantId: long(`gr_${i}`, 60),
      userId: `U${'D'.repeat(60)}`,
      resourceId: long('res-', 59),
      startsAt: PERIOD.start,
      heldMs: 86_400_000 * 400,
      status: 'active',
    })),
    activity: {
      items: many(TOP_N, (i) => ({
        grantId: long(`gr_${i}`, 60),
        userId: `U${'F'.repeat(60)}`,
        resourceId: long('res-', 59),
        at: PERIOD.start,
        summary: `${'9'.repeat(9)} statements: ${'SELECT <!here> '.repeat(100)}`,
      })),
      total: 400_000,
    },
    revocationProblems: {
      items: many(PROBLEMS_SHOWN, (i) => ({
        grantId: long(`gr_${i}`, 60),
        userId: `U${'E'.repeat(60)}`,
        resourceId: long('res-', 59),
        kind: 'stuck' as const,
        status: 'revoking',
        attempts: 99_999,
        lastError: '<!channel> & '.repeat(400),
        dueAt: PERIOD.start,
        overrunMs: 86_400_000 * 300,
      })),
      total: 123_456,
    },
    breakGlass: {
      items: many(BREAK_GLASS_SHOWN, (i) => ({
        requestId: long(`req_${i}`, 60),
        grantId: long(`gr_${i}`, 60),
        userId: `U${'F'.repeat(60)}`,
        resourceId: long('res-', 59),
        usedAt: PERIOD.start + i * 60_000,
        reviewDueAt: PERIOD.start + i * 60_000 + 86_400_000,
        reviewedAt: i % 2 === 0 ? PERIOD.start : null,
        reviewedBy: i % 2 === 0 ? `U${'G'.repeat(60)}` : null,
        verdict: i % 4 === 0 ? ('flagged' as const) : i % 2 === 0 ? ('reviewed' as const) : null,
        note: i % 2 === 0 ? '<!channel> *bold* & '.repeat(200) : null,
      })),
      total: 77_777,
    },
    chain: {
      checked: 12,
      intact: false,
      firstBroken: { seq: 13, problem: 'content does not match its hash (the row was edited)' },
      from: { seq: 1, hash: 'f'.repeat(64), source: 'digest of 2026-10-12T07:00:00.000Z' },
    },
  };

  it('still fits one Slack message, with every section and "and N more"', () => {
    const message = digestMessage(digest);
    expect(blockKitProblems(message.blocks)).toEqual([]);
    expect(message.blocks.length).toBeLessThanOrEqual(50);
    const text = JSON.stringify(message.blocks);
    expect(text).toContain('Revocation problems: 123,456');
    expect(text).toContain('more lines (`hallpass digest --print` shows them)');
    expect(text).toContain('…and 999,995 more');
    expect(text).toContain('Audit chain broken');
    expect(text).toContain(':rotating_light: *Break-glass: 77,777*');
    expect(text).not.toContain('<!channel>');
    expect(message.text.length).toBeLessThanOrEqual(3000);
  });
});

describe.each(STORE_KINDS)('ends the core records for the digest (%s)', (kind) => {
  const T = Date.parse('2026-11-02T10:00:00Z');
  const RETRY = { retryBase: 5_000, retryMax: 600_000, alertAfterAttempts: 2, random: () => 0.5 };
  let h: CoreHarness;
  beforeAll(async () => {
    h = await coreHarness(BASE_CONFIG, undefined, kind);
  });
  afterAll(() => h.close());

  /** An auto-approved grant of `auto`, filed at `at`: its id. */
  const filed = async (at: number) => {
    h.clock.set(at);
    const request = await h.core.createRequest({
      requester: 'UENG',
      resourceId: 'auto',
      duration: '1h',
      justification: 'checking the replica lag',
    });
    const grant = await h.store.grants.byRequest(request.id);
    return grant!.id;
  };

  it('counts an early end late from when it was asked for, with the activity its revoke reported', async () => {
    const id = await filed(T);
    h.clock.set(T + 1_000);
    await h.core.lifecycle.activated(id, {
      startsAt: T + 1_000,
      expiresAt: T + 3_601_000,
      state: undefined,
      elapsedMs: 40,
    });
    h.clock.set(T + 10 * MIN);
    await h.core.revokeGrant({ grantId: id, actor: 'UENG', reason: 'done early' });
    h.clock.set(T + 10 * MIN + 30_000);
    await h.core.lifecycle.failed(id, 'revoke', 'timeout', RETRY);
    h.clock.set(T + 14 * MIN);
    await h.core.lifecycle.revoked([
      { grantId: id, elapsedMs: 30, activity: { summary: '2× SELECT', details: { n: 2 } } },
    ]);

    const week = { start: T, end: T + 7 * 24 * 60 * MIN };
    const { endsByReason, activity } = await h.store.reports.revoked(week, 5);
    expect(Object.fromEntries(endsByReason)).toEqual({ revoked_by_user: 1 });
    expect(activity.items.map((i) => [i.grantId, i.at])).toEqual([[id, T + 14 * MIN]]);
    const problems = await h.store.reports.revocationProblems(week, T + 20 * MIN, MIN, 10);
    expect(problems.items).toEqual([
      expect.objectContaining({
        grantId: id,
        kind: 'late',
        attempts: 2,
        dueAt: T + 10 * MIN,
        overrunMs: 4 * MIN,
      }),
    ]);
  });

  it('counts an activation in the week the provider confirmed it, not when its call began', async () => {
    const weekEnd = T + 3 * 24 * 60 * MIN;
    const id = await filed(weekEnd - MIN);
    h.clock.set(weekEnd + 2_000);
    await h.core.lifecycle.activated(id, {
      startsAt: weekEnd - 30_000,
      expiresAt: weekEnd + 3_570_000,
      state: undefined,
      elapsedMs: 32_000,
    });

    const before = { start: weekEnd - 24 * 60 * MIN, end: weekEnd };
    const after = { start: weekEnd, end: weekEnd + 24 * 60 * MIN };
    expect(await h.store.reports.longestGrants(before, 5)).toEqual([]);
    expect(await h.store.reports.activations(before, [], 5)).toEqual({
      count: 0,
      outside: { items: [], total: 0 },
    });
    expect(await h.store.reports.longestGrants(after, 5)).toEqual([
      expect.objectContaining({ grantId: id, startsAt: weekEnd - 30_000, heldMs: 3_600_000 }),
    ]);
    const { count, outside } = await h.store.reports.activations(after, [], 5);
    expect(count).toBe(1);
    expect(outside.items.map((i) => [i.grantId, i.at])).toEqual([[id, weekEnd + 2_000]]);
    const inside = await h.store.reports.activations(after, [after], 5);
    expect(inside).toEqual({ count: 1, outside: { items: [], total: 0 } });
  });

  it('counts an activation given up late from when it was given up', async () => {
    const at = T + 24 * 60 * MIN;
    const id = await filed(at);
    h.clock.set(at + MIN);
    await h.core.lifecycle.failed(id, 'grant', 'provider says no', RETRY);
    h.clock.set(at + 2 * MIN);
    await h.core.lifecycle.failed(id, 'grant', 'provider says no', RETRY);
    h.clock.set(at + 9 * MIN);
    await h.core.lifecycle.revoked([{ grantId: id, elapsedMs: 30 }]);

    const day = { start: at, end: at + 24 * 60 * MIN };
    const problems = await h.store.reports.revocationProblems(day, at + 10 * MIN, MIN, 10);
    expect(problems.items).toEqual([
      expect.objectContaining({
        grantId: id,
        kind: 'late',
        status: 'failed',
        dueAt: at + 2 * MIN,
        overrunMs: 7 * MIN,
      }),
    ]);
  });
});
