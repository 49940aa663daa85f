import { watchChangeTrips, type ChangeTrips } from '../support/change-trips';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';

/** What PostgreSQL's connections carry, round trip by round trip, for the work that matters most. */
describe('round trips on PostgreSQL', () => {
  let h: CoreHarness;
  let trips: ChangeTrips;

  beforeAll(() => {
    trips = watchChangeTrips();
  });
  afterAll(() => trips.restore());
  beforeEach(async () => {
    h = await coreHarness(BASE_CONFIG, undefined, 'postgres');
    trips.clear();
  });
  afterEach(() => h.close());

  /**
   * A PostgreSQL replica's changes take turns on one connection, so a change's round trips there
   * bound how many changes a second the replica records. An Approve click makes three: the
   * decision, the grant call's lease and the activation. Each reads what it needs in its first
   * round trip (with BEGIN and the change lock) and sends its writes with COMMIT.
   */
  describe('an approval on the change connection', () => {
    const approved = async () => {
      const request = await h.core.createRequest({
        requester: 'UREQ',
        resourceId: 'prod-db',
        duration: '1h',
        justification: 'investigating INC-42 slow queries',
      });
      trips.clear();
      const outcome = await h.core.decide({
        requestId: request.id,
        actor: 'ULEAD',
        decision: 'approve',
      });
      return { outcome, decided: [...trips.sent], pooled: [...trips.pooled] };
    };

    it('asks the policy after one read on the pool: the request, its decisions, the people, its escalation', async () => {
      const { decided, pooled } = await approved();
      expect(decided).toHaveLength(2);
      expect(pooled).toHaveLength(1);
      expect(pooled[0]).toContain('FROM approvals');
      expect(pooled[0]).toContain('FROM follow_ups');
    });

    it('decides in two: the request, its decisions and the people it concerns, then the writes with COMMIT', async () => {
      const { outcome, decided } = await approved();
      expect(outcome.request.status).toBe('approved');
      expect(decided).toHaveLength(2);
      expect(decided[0]).toMatch(/^BEGIN;\n.*pg_try_advisory_xact_lock/s);
      expect(decided[0]).toContain('FROM approvals');
      expect(decided[0]).toContain('FROM people');
      expect(decided[1]).toMatch(/INSERT INTO approvals[\s\S]*UPDATE requests[\s\S]*COMMIT$/);
    });

    it('takes a grant call’s lease and records its activation in two each', async () => {
      const { outcome } = await approved();
      const grantId = (await h.store.grants.byRequest(outcome.request.id))!.id;
      trips.clear();
      const lease = await h.core.lifecycle.grantCall(grantId, 'ureq@example.com', 30_000);
      expect(lease).toBeDefined();
      expect(trips.sent).toHaveLength(2);
      expect(trips.sent[1]).toMatch(/UPDATE grants[\s\S]*COMMIT$/);

      trips.clear();
      const now = h.clock.now();
      const activated = await h.core.lifecycle.activated(grantId, {
        startsAt: now,
        expiresAt: now + 3_600_000,
        state: undefined,
        elapsedMs: 12,
        lease,
      });
      expect(activated).toBe(true);
      expect(trips.sent).toHaveLength(2);
      expect(trips.sent[1]).toMatch(/UPDATE grants[\s\S]*INSERT INTO audit_events[\s\S]*COMMIT$/);
      expect(await h.store.grants.byId(grantId)).toMatchObject({ status: 'active' });
    });
  });

  /**
   * The dispatcher marks each delivery Slack accepted as sent, on the read pool, about once an
   * Approve click: a transaction there costs a round trip more than the statement alone.
   */
  describe('an outbox mark on the pool', () => {
    const claimedHead = async () => {
      const now = h.clock.now();
      const row = (key: string) => ({
        key,
        subject: 'user:U1',
        topic: 'requester_dm',
        payload: '{}',
      });
      await h.store.outbox.enqueue([row('a'), row('b')], now);
      const [head] = await h.store.outbox.claimHeads(now, 60_000, 10);
      trips.clear();
      return {
        head: head!,
        mark: { row: head!, leasedUntil: head!.nextAttemptAt, restingPayload: '{}' },
      };
    };

    it('is one statement, with no transaction, when the render covers no later row', async () => {
      const { head, mark } = await claimedHead();
      expect(
        await h.store.outbox.markSent([{ ...mark, coveredUpTo: head.id }], h.clock.now()),
      ).toEqual([true]);
      expect(trips.pooled).toHaveLength(1);
      expect(trips.pooled[0]).toMatch(/^UPDATE outbox/);
      expect(await h.store.outbox.counts()).toEqual({ pending: 1, dead: 0 });
    });

    it('marks the row and those its render covered in one transaction', async () => {
      const { head, mark } = await claimedHead();
      expect(
        await h.store.outbox.markSent(
          [{ ...mark, coveredUpTo: head.lastPendingId }],
          h.clock.now(),
        ),
      ).toEqual([true]);
      expect(trips.pooled).toHaveLength(2);
      expect(trips.pooled[0]).toMatch(/^BEGIN;\nUPDATE outbox/);
      expect(trips.pooled[1]).toMatch(/UPDATE outbox[\s\S]*COMMIT$/);
      expect(await h.store.outbox.counts()).toEqual({ pending: 0, dead: 0 });
    });
  });
});
