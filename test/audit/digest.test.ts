import { buildDigest, type Digest } from '../../src/audit/digest';
import { digestText } from '../../src/audit/digest-render';
import { blockKitProblems } from '../../src/slack/ui/limits';
import { digestMessage } from '../../src/slack/ui/digest';
import { AS_OF, fixtureWeek, PERIOD, type FixtureWeek } from './fixture-week';

const MIN = 60_000;

describe('the weekly digest of a hand-built week across the end of summer time', () => {
  let w: FixtureWeek;
  let digest: Digest;
  beforeAll(async () => {
    w = await fixtureWeek();
    digest = buildDigest(w.db, w.config, PERIOD, AS_OF);
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
        lastError: 'connection refused',
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

  it('verifies the chain from the last row before the period when no digest recorded a head', () => {
    const last = w.db.$client
      .prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1')
      .get() as { seq: number; hash: string };
    const before = w.db.$client
      .prepare('SELECT max(seq) AS seq FROM audit_events WHERE at < ?')
      .get(PERIOD.start) as { seq: number };
    expect(digest.chain).toMatchObject({
      intact: true,
      checked: last.seq - before.seq,
      from: { seq: before.seq, source: 'last row before the period' },
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
      `${w.grants.r9} UREQ on prod-db: still not revoked, 2d14h35m past due (3 attempts so far; last error: "connection refused")`,
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
