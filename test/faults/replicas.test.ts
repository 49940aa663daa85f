import { startReplicaWorld, type ReplicaWorld } from './support/replica-world';
import { waitFor } from './support/system';

/** How long another replica may take to lead once the leader is gone (README: within 10 s). */
const FAILOVER_MS = 10_000;
const GRANTS = 200;

/**
 * Several Hallpass processes on one PostgreSQL, as teams run it behind a load balancer: Slack's
 * requests land on any replica, one replica sweeps, any replica delivers. Killed, restarted and
 * raced, they still end every grant on time, lose no notification, post each message once and
 * keep one audit chain.
 */
describe('replicas on one PostgreSQL', () => {
  let world: ReplicaWorld;
  afterEach(async () => {
    const crashes = world?.crashes() ?? [];
    await world?.stop();
    expect(crashes).toEqual([]);
  });

  const count = (sql: string, ...params: unknown[]) => world.sql.value<number>(sql, ...params);

  it('end every grant within the failover bound when the leader dies mid-revoke and another replica dies mid-delivery', async () => {
    world = await startReplicaWorld(3);
    const leader = await world.leader();
    // People ask through every replica, as a load balancer spreads them.
    const filed = await Promise.all(
      Array.from({ length: GRANTS }, (_, i) => {
        const user = `U${String(i).padStart(4, '0')}R`;
        const replica = world.replicas[i % world.replicas.length]!;
        return replica.people.command(user, 'request sandbox 25s replica failover drill');
      }),
    );
    expect(filed.map((f) => f.status)).toEqual(filed.map(() => 200));
    await waitFor(() => world.receiver.held.size === GRANTS, 'every grant to be held', 60_000);
    const lastExpiry = await count("SELECT max(expires_at) FROM grants WHERE status = 'active'");

    // The leader dies in the middle of revoking: some revokes hang until their timeout.
    for (let i = 0; i < 10; i++) world.receiver.fail({ kind: 'hang' });
    await waitFor(
      () => world.receiver.callsOf('revoke').length >= 20,
      'the leader to be revoking',
      60_000,
    );
    const killedAt = Date.now();
    await leader.bot.kill();

    // Another replica dies while delivering: its Slack calls hang, then it is killed.
    world.fake.fail('chat.update', { kind: 'hang' }, 6);
    world.fake.fail('chat.postMessage', { kind: 'hang' }, 6);
    const survivors = world.replicas.filter((r) => r !== leader);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await survivors[0]!.bot.kill();
    world.fake.clearFaults();
    world.receiver.clearFaults();

    const next = await world.leader();
    expect(next).toBe(survivors[1]);
    await world.converged({ timeoutMs: 120_000 });

    // Every grant ended within the failover bound (plus a second) of its expiry.
    const lags = await world.sql.all<{ id: string; lag: number }>(
      `SELECT g.id, a.at - g.expires_at AS lag FROM grants g
         JOIN audit_events a ON a.grant_id = g.id AND a.action = 'grant.revoked'`,
    );
    expect(lags).toHaveLength(GRANTS);
    expect(lags.filter((l) => l.lag > FAILOVER_MS + 1_000)).toEqual([]);
    expect(killedAt).toBeLessThan(lastExpiry + FAILOVER_MS);
    // One approver message per request, each edited in place (assertConverged checks the edits).
    const posts = world.slack.postsTo('CAPPROVALS');
    expect(posts).toHaveLength(GRANTS);
    expect(await count("SELECT count(*) FROM outbox WHERE status <> 'sent'")).toBe(0);
  });

  it('count two approvers clicking on two replicas at the same moment once each, and one approver clicking on both once', async () => {
    world = await startReplicaWorld(2);
    const [a, b] = world.replicas as [ReplicaWorld['replicas'][0], ReplicaWorld['replicas'][0]];
    const ask = async (user: string) => {
      await a.people.command(user, 'request prod-db 1h replicas racing approvals');
      return waitFor(
        () =>
          world.sql.value<string | undefined>(
            "SELECT id FROM requests WHERE requester = ? AND status = 'pending'",
            user,
          ),
        'the request',
      );
    };
    const approvals = (id: string) =>
      count("SELECT count(*) FROM approvals WHERE request_id = ? AND decision = 'approve'", id);
    for (let round = 0; round < 10; round++) {
      const quorum = await ask(`UQUORUM${round}`);
      await Promise.all([a.people.approve('ULEAD', quorum), b.people.approve('UOPS', quorum)]);
      const twice = await ask(`UTWICE${round}`);
      const clicks = await Promise.all([
        a.people.approve('ULEAD', twice),
        b.people.approve('ULEAD', twice),
      ]);
      // Clicks are acked first and decided after: the one that lost the race is told so.
      const told = await Promise.any(clicks.map((click) => click.reply(5_000)));
      expect(told).toMatch(/You already approved/);
      await waitFor(
        async () => (await count('SELECT count(*) FROM grants WHERE request_id = ?', quorum)) === 1,
        'the quorum grant',
      );
      expect(await approvals(quorum)).toBe(2);
      expect(await approvals(twice)).toBe(1);
      expect(await count('SELECT count(*) FROM grants WHERE request_id = ?', twice)).toBe(0);
      expect(
        await count(
          "SELECT count(*) FROM audit_events WHERE request_id = ? AND action = 'request.approved'",
          quorum,
        ),
      ).toBe(1);
    }
    await world.converged({ grantsMayRemain: true, timeoutMs: 60_000 });
  });

  it('reconnect and converge when PostgreSQL restarts under them', async () => {
    world = await startReplicaWorld(2);
    await world.leader();
    const ask = (i: number) =>
      world.replicas[i % 2]!.people.command(`URESTART${i}`, 'request sandbox 4s survive a restart');
    await Promise.all(Array.from({ length: 20 }, (_, i) => ask(i)));
    await world.pg.restart();
    // Requests during the outage may be refused; none is half-recorded, and these go through.
    await Promise.all(Array.from({ length: 20 }, (_, i) => ask(20 + i)));
    await waitFor(
      async () => (await count('SELECT count(*) FROM grants')) >= 20,
      'grants after the restart',
      60_000,
    );
    const leader = await world.leader();
    expect(world.replicas).toContain(leader);
    for (const replica of world.replicas) {
      await waitFor(
        async () => (await fetch(`${replica.bot.url}/healthz`)).status === 200,
        'every replica healthy again',
        30_000,
      );
    }
    await world.converged({ timeoutMs: 90_000 });
  });
});
