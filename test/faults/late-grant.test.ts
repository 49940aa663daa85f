import { scalar, startSystem, waitFor, type FaultSystem } from './support/system';

/** The provider timeout of these cases: a call is given up on after a second. */
const TIMEOUT_MS = 1000;
/**
 * When the receiver applies a late grant, counted from when it received the call: after the
 * timeout, and well inside the fence (given up + 2 × timeout) even when a loaded machine delays
 * the receiver's timer by a second.
 */
const LANDS_AFTER_MS = 1200;

/**
 * Samples, every few milliseconds, each grant's record against what the receiver holds, and
 * notes every moment a grant was recorded as over (`failed` or `revoked`) while the receiver
 * still held its access: what the record must never say.
 */
function watchRecords(system: FaultSystem): { seen: string[]; stop(): Promise<void> } {
  const seen: string[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const rows = await system.sql.all<{ id: string; status: string }>(
        'SELECT id, status FROM grants',
      );
      for (const { id, status } of rows) {
        if ((status === 'failed' || status === 'revoked') && system.receiver.held.has(id))
          seen.push(`${id} recorded ${status} while the receiver held it`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    seen,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}

/**
 * The receiver answers the grant call only after the provider timeout, and applies it then: a
 * grant Hallpass gave up on still lands. Within the grace (twice the timeout) the revoke waits
 * for it, so the record never says the access is over while the receiver holds it; later than
 * the grace, the read-back after the end finds it and revokes it again as drift.
 */
describe('a grant call that answers after the timeout but is applied', () => {
  let system: FaultSystem;
  let watch: ReturnType<typeof watchRecords> | undefined;
  afterEach(async () => {
    await watch?.stop();
    watch = undefined;
    await system?.stop();
  });

  const grantId = () => waitFor(() => scalar<string>(system.sql, 'SELECT id FROM grants'), 'grant');
  const callsFor = (action: string, id: string) =>
    system.receiver.callsOf(action).filter((c) => c.body.grantId === id);
  const audited = (action: string, id: string) =>
    scalar<number>(
      system.sql,
      'SELECT count(*) FROM audit_events WHERE action = ? AND grant_id = ?',
      action,
      id,
    );
  const timedOut = (id: string) =>
    waitFor(
      async () => (await audited('grant.activation_failed_attempt', id)) > 0,
      'the grant call to time out',
    );
  const statusOf = (id: string) =>
    system.sql.get('SELECT status, end_reason FROM grants WHERE id = ?', id);
  const held = (id: string) =>
    waitFor(() => system.receiver.held.has(id), 'the late grant to land');

  async function lateSandboxGrant(delayMs: number): Promise<string> {
    system.receiver.fail({ kind: 'late', delayMs });
    watch = watchRecords(system);
    const sent = await system.people.command('UREQ', 'request sandbox 1h fault drill in sandbox');
    expect(sent.status).toBe(200);
    return grantId();
  }

  it('given up at once: the clean-up revoke waits for it to land, then removes it', async () => {
    system = await startSystem({ providerTimeout: `${TIMEOUT_MS / 1000}s`, alertAfterAttempts: 1 });
    const id = await lateSandboxGrant(LANDS_AFTER_MS);
    await timedOut(id);
    // The late grant lands; the watch proves the record never said the access was over while
    // it was held (reading the status here instead would race the revoke that follows it).
    await held(id);

    await system.converged();
    await watch!.stop();
    expect(watch!.seen).toEqual([]);
    expect(await statusOf(id)).toEqual({ status: 'failed', end_reason: 'activation_failed' });
    expect(callsFor('grant', id)).toHaveLength(1);
    expect(callsFor('revoke', id)).toHaveLength(1);
    expect(system.receiver.held.size).toBe(0);
    const alert = /gave up activating access .* after 1 attempt /;
    expect(system.slack.postsTo('UADMIN').filter((p) => alert.test(p.text))).toHaveLength(1);
    // How: the clean-up revoke was fenced past where the call could still land.
    const { fence } = (await system.sql.get<{ fence: number | null }>(
      `SELECT g.fence_until - a.at AS fence FROM grants g JOIN audit_events a
          ON a.grant_id = g.id AND a.action = 'grant.activation_failed_attempt' WHERE g.id = ?`,
      id,
    ))!;
    expect(fence).toBeGreaterThanOrEqual(2 * TIMEOUT_MS - 50);
  });

  it('retried, then revoked by its holder: the revoke waits for the late call, nothing stays', async () => {
    system = await startSystem({ providerTimeout: `${TIMEOUT_MS / 1000}s`, alertAfterAttempts: 3 });
    const id = await lateSandboxGrant(LANDS_AFTER_MS);
    await timedOut(id);
    const click = await system.people.revoke('UREQ', id);
    expect(click.status).toBe(200);
    await waitFor(
      () => scalar(system.sql, "SELECT 1 FROM grants WHERE id = ? AND status = 'revoking'", id),
      'the holder’s revoke to be recorded',
    );
    await held(id);

    await system.converged();
    await watch!.stop();
    expect(watch!.seen).toEqual([]);
    expect(await statusOf(id)).toEqual({ status: 'revoked', end_reason: 'revoked_by_user' });
    expect(system.receiver.held.size).toBe(0);
    const { fence_until } = (await system.sql.get<{ fence_until: number | null }>(
      'SELECT fence_until FROM grants WHERE id = ?',
      id,
    ))!;
    expect(fence_until).not.toBeNull();
  });

  it('landing later than the grace: the read-back after the end finds it and revokes it again', async () => {
    system = await startSystem({
      providerTimeout: `${TIMEOUT_MS / 1000}s`,
      alertAfterAttempts: 1,
      reconcileSchedule: '* * * * * *',
    });
    // Given up at ~1s, fenced to ~3s, the revoke waits up to 2s more (~5s): this lands at 7s.
    const id = await lateSandboxGrant(7000);
    await waitFor(
      () => scalar(system.sql, "SELECT 1 FROM grants WHERE id = ? AND status = 'failed'", id),
      'the clean-up to end',
    );
    expect(system.receiver.held.has(id)).toBe(false);
    expect(callsFor('revoke', id)).toHaveLength(1);
    const recheckAt = await scalar<number>(
      system.sql,
      'SELECT recheck_at - ended_at FROM grants WHERE id = ?',
      id,
    );
    expect(recheckAt).toBe(2 * 60_000);

    await held(id);
    // The access is back although the record says it is over; only the read-back can tell.
    expect(await scalar(system.sql, 'SELECT status FROM grants WHERE id = ?', id)).toBe('failed');
    expect(await audited('grant.drift', id)).toBe(0);
    system.clock.advance(2 * 60_000);

    await waitFor(
      async () => (await audited('grant.drift', id)) > 0,
      'the read-back to find the grant',
    );
    await system.converged();
    expect(system.receiver.held.size).toBe(0);
    expect(callsFor('revoke', id)).toHaveLength(2);
    const drift = await system.sql.all<{ details: string }>(
      "SELECT details FROM audit_events WHERE action = 'grant.drift' AND grant_id = ?",
      id,
    );
    expect(drift.map((d) => JSON.parse(d.details) as unknown)).toEqual([
      { expected: 'absent', found: 'present', repaired: true },
    ]);
    const words = `The access of grant ${id} came back after it ended; Hallpass repaired it.`;
    for (const channel of ['CAPPROVALS', 'UADMIN']) {
      expect(system.slack.postsTo(channel).filter((p) => p.text.includes(words))).toHaveLength(1);
    }
    expect(await scalar(system.sql, 'SELECT status FROM grants WHERE id = ?', id)).toBe('failed');
  });
});
