import { TAKE_AHEAD_MS } from '../../src/core';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import { STORE_KINDS } from '../support/stores';
import { refuse, restoreTriggers } from '../store/triggers';

/** Every grant of a person here reaches the same account (one email). */
const ONE_ACCESS = () => Promise.resolve(true);

const MIN = 60_000;

/** An active 30-minute grant of `user` on the auto-approved resource. */
async function activeGrant(h: CoreHarness, user: string): Promise<string> {
  const req = await h.core.createRequest({
    requester: user,
    resourceId: 'auto',
    duration: '30m',
    justification: 'investigating INC-42 slow queries',
  });
  const grantId = await h.sql.value<string>('SELECT id FROM grants WHERE request_id = ?', req.id);
  const now = h.clock.now();
  await h.core.lifecycle.activated(grantId, {
    startsAt: now,
    expiresAt: now + 30 * MIN,
    state: undefined,
    elapsedMs: 1,
  });
  return grantId;
}

async function eventsOf(
  h: CoreHarness,
  grantId: string,
): Promise<{ action: string; details: unknown }[]> {
  const rows = await h.sql.all<{ action: string; details: string }>(
    'SELECT action, details FROM audit_events WHERE grant_id = ? ORDER BY seq',
    grantId,
  );
  return rows.map((e) => ({ action: e.action, details: JSON.parse(e.details) }));
}

describe.each(STORE_KINDS)('grant changes in batches (%s)', (kind) => {
  let h: CoreHarness;
  let commits: number;
  beforeEach(async () => {
    h = await coreHarness(BASE_CONFIG, undefined, kind);
    commits = 0;
    h.core.onCommit(() => commits++);
  });
  afterEach(async () => {
    await restoreTriggers();
    await h.close();
  });

  it('expires several grants in one transaction, each with its own audit event', async () => {
    const ids = [
      await activeGrant(h, 'UA'),
      await activeGrant(h, 'UB'),
      await activeGrant(h, 'UC'),
    ];
    h.clock.advance(30 * MIN + 2_000);
    commits = 0;
    const rows = await h.core.lifecycle.expire(ids);
    expect(commits).toBe(1);
    for (const [i, id] of ids.entries()) {
      expect(rows[i]).toEqual(await h.core.grant(id));
      expect(rows[i]).toMatchObject({ status: 'revoking', endReason: 'expired', attempts: 0 });
      expect((await eventsOf(h, id)).at(-1)).toEqual({
        action: 'grant.revoke_requested',
        details: { reason: 'expired', expiresAt: rows[i]!.expiresAt, lagMs: 2_000 },
      });
    }
    expect((await h.core.audit.verifySince()).intact).toBe(true);
  });

  it('leaves out a grant not due (or extended meanwhile), one that is gone and one already ending', async () => {
    const due = await activeGrant(h, 'UA');
    h.clock.advance(10 * MIN);
    const later = await activeGrant(h, 'UB');
    const revoked = await activeGrant(h, 'UC');
    await h.core.revokeGrant({ grantId: revoked, actor: 'UC' });
    h.clock.advance(20 * MIN);
    const rows = await h.core.lifecycle.expire([due, later, 'gr_missing', revoked]);
    expect(rows).toEqual([await h.core.grant(due)]);
    expect(rows[0]).toMatchObject({ status: 'revoking', endReason: 'expired' });
    expect(await h.core.grant(later)).toMatchObject({ status: 'active' });
    expect(await h.core.grant(revoked)).toMatchObject({
      status: 'revoking',
      endReason: 'revoked_by_user',
    });
    expect((await eventsOf(h, later)).map((e) => e.action)).toEqual([
      'grant.created',
      'grant.activated',
    ]);
    expect(
      (await eventsOf(h, revoked)).filter((e) => e.action === 'grant.revoke_requested'),
    ).toHaveLength(1);
  });

  it('books an expiry at most TAKE_AHEAD_MS before its moment, after which the holder cannot extend', async () => {
    const grantId = await activeGrant(h, 'UA');
    const expiresAt = (await h.core.grant(grantId))!.expiresAt!;
    h.clock.set(expiresAt - TAKE_AHEAD_MS - 1);
    expect(await h.core.lifecycle.due(10)).toEqual([]);
    expect(await h.core.lifecycle.expire([grantId])).toEqual([]);
    expect(await h.core.lifecycle.nextWakeAt(0)).toBe(expiresAt - TAKE_AHEAD_MS);

    h.clock.advance(1);
    expect(await h.core.lifecycle.due(10)).toEqual([
      { id: grantId, status: 'active', nextAttemptAt: expiresAt },
    ]);
    const [booked] = await h.core.lifecycle.expire([grantId]);
    expect(booked).toMatchObject({ status: 'revoking', nextAttemptAt: expiresAt, endedAt: null });
    expect((await eventsOf(h, grantId)).at(-1)).toEqual({
      action: 'grant.revoke_requested',
      details: { reason: 'expired', expiresAt, lagMs: -TAKE_AHEAD_MS },
    });
    await expect(
      h.core.requestExtension({
        grantId,
        actor: 'UA',
        duration: '30m',
        justification: 'the migration is still running',
      }),
    ).rejects.toThrow('is ending; only active access can be extended');
  });

  it('records several confirmed revokes in one transaction, each with its audit event and DMs', async () => {
    const ids = [await activeGrant(h, 'UA'), await activeGrant(h, 'UB')];
    h.clock.advance(30 * MIN);
    await h.core.lifecycle.expire(ids);
    h.clock.advance(700);
    commits = 0;
    const rows = await h.core.lifecycle.revoked([
      { grantId: ids[0]!, checked: true, elapsedMs: 12 },
      { grantId: ids[1]!, coveredBy: 'gr_other' },
    ]);
    expect(commits).toBe(1);
    expect(rows.map((g) => g?.status)).toEqual(['revoked', 'revoked']);
    for (const [i, row] of rows.entries()) expect(row).toEqual(await h.core.grant(ids[i]!));
    expect((await eventsOf(h, ids[0]!)).at(-1)).toEqual({
      action: 'grant.revoked',
      details: {
        reason: 'expired',
        endedBy: 'hallpass',
        attempts: 1,
        providerCall: 'revoke',
        checked: true,
        elapsedMs: 12,
        overrunMs: 700,
      },
    });
    expect((await eventsOf(h, ids[1]!)).at(-1)?.details).toMatchObject({
      providerCall: 'skipped',
      coveredBy: 'gr_other',
    });
    const dms = await h.sql.all<{ key: string }>(
      "SELECT key FROM outbox WHERE key LIKE 'grant.ended:%' ORDER BY id",
    );
    expect(dms.map((r) => r.key)).toEqual(ids.map((id) => `grant.ended:${id}:dm`));
  });

  it('ends each grant when its revoke was confirmed, not when the batch is written', async () => {
    const ids = [
      await activeGrant(h, 'UA'),
      await activeGrant(h, 'UB'),
      await activeGrant(h, 'UC'),
    ];
    const expiresAt = (await h.core.grant(ids[0]!))!.expiresAt!;
    h.clock.set(expiresAt);
    await h.core.lifecycle.expire(ids);
    // Two confirmed 40 ms after the expiry, written 4 s after it. The third names a moment after
    // the write (a clock that moved back): the write's own moment is taken instead.
    h.clock.set(expiresAt + 4_000);
    const counted = countGrantQueries();
    await h.core.lifecycle.revoked([
      { grantId: ids[0]!, checked: true, confirmedAt: expiresAt + 40 },
      { grantId: ids[1]!, checked: true, confirmedAt: expiresAt + 40 },
      { grantId: ids[2]!, checked: true, confirmedAt: expiresAt + 9_000 },
    ]);
    expect(Object.fromEntries(counted)).toEqual({ byIds: 1, updateMany: 2 });
    const [first] = h.config.reconcile.recheckAfter;
    const ends = [expiresAt + 40, expiresAt + 40, expiresAt + 4_000];
    for (const [i, id] of ids.entries()) {
      expect(await h.core.grant(id)).toMatchObject({
        status: 'revoked',
        endedAt: ends[i],
        recheckAt: ends[i]! + first!,
      });
      expect((await eventsOf(h, id)).at(-1)?.details).toMatchObject({
        overrunMs: ends[i]! - expiresAt,
      });
    }
  });

  it('rolls back the whole batch when one change in it cannot be written', async () => {
    const ids = [await activeGrant(h, 'UA'), await activeGrant(h, 'UB')];
    h.clock.advance(30 * MIN);
    const before = await h.sql.value('SELECT count(*) FROM audit_events');
    await refuse(h.sql, kind, {
      name: 'refuse_ub',
      table: 'grants',
      on: 'UPDATE OF status',
      when: "NEW.user_id = 'UB'",
      message: 'disk says no',
    });
    commits = 0;
    await expect(h.core.lifecycle.expire(ids)).rejects.toMatchObject({ message: 'disk says no' });
    expect(commits).toBe(0);
    const statuses = await Promise.all(ids.map(async (id) => (await h.core.grant(id))!.status));
    expect(statuses).toEqual(['active', 'active']);
    expect(await h.sql.value('SELECT count(*) FROM audit_events')).toBe(before);
  });

  /** Counts the grant statements the changes on `h.store` make, by query name. */
  function countGrantQueries(): Map<string, number> {
    const counted = new Map<string, number>();
    const store = h.store;
    const change = store.change.bind(store);
    store.change = (work) =>
      change((tx, chain) => {
        const grants = new Proxy(tx.grants, {
          get(target, name, receiver) {
            const value = Reflect.get(target, name, receiver) as unknown;
            if (typeof value !== 'function') return value;
            return (...args: unknown[]) => {
              counted.set(String(name), (counted.get(String(name)) ?? 0) + 1);
              return (value as (...a: unknown[]) => unknown).apply(target, args);
            };
          },
        });
        return work({ ...tx, grants } as typeof tx, chain);
      });
    return counted;
  }

  it('reads a batch in one statement and ends it in one per final status and moment, however many grants it holds', async () => {
    const users = Array.from({ length: 12 }, (_, i) => `UB${i}`);
    const ids: string[] = [];
    for (const user of users) ids.push(await activeGrant(h, user));
    h.clock.advance(30 * MIN);
    const counted = countGrantQueries();
    await h.core.lifecycle.expire(ids);
    expect(Object.fromEntries(counted)).toEqual({ expire: 1 });
    // One of them is the clean-up of a failed activation: it ends as failed, the others revoked.
    await h.sql.run("UPDATE grants SET end_reason = 'activation_failed' WHERE id = ?", ids[0]!);
    counted.clear();
    const rows = await h.core.lifecycle.revoked(ids.map((grantId) => ({ grantId, checked: true })));
    expect(Object.fromEntries(counted)).toEqual({ byIds: 1, updateMany: 2 });
    expect(rows.map((g) => g?.status)).toEqual(['failed', ...ids.slice(1).map(() => 'revoked')]);
    for (const [i, id] of ids.entries()) expect(rows[i]).toEqual(await h.core.grant(id));
    const ended = await h.sql.all<{ action: string; grant_id: string }>(
      "SELECT action, grant_id FROM audit_events WHERE action = 'grant.revoked' ORDER BY seq",
    );
    expect(ended.map((e) => e.grant_id)).toEqual(ids);
    expect((await h.core.audit.verifySince()).intact).toBe(true);
  });

  it('records a grant named twice in one batch once', async () => {
    const id = await activeGrant(h, 'UA');
    h.clock.advance(30 * MIN);
    const expired = await h.core.lifecycle.expire([id, id]);
    expect(expired.map((g) => [g.id, g.status])).toEqual([[id, 'revoking']]);
    const rows = await h.core.lifecycle.revoked([
      { grantId: id, checked: true },
      { grantId: id, checked: true },
    ]);
    expect(rows.map((g) => g?.status)).toEqual(['revoked', 'revoked']);
    const actions = (await eventsOf(h, id)).map((e) => e.action);
    expect(actions.filter((a) => a === 'grant.revoke_requested')).toHaveLength(1);
    expect(actions.filter((a) => a === 'grant.revoked')).toHaveLength(1);
  });

  it('finds the covering grant of each of several grants in one read, as covering does for one', async () => {
    // UA holds the resource twice (the first expired, the second live); UB once, expired; UC
    // holds another resource live, which covers nothing here.
    const first = await activeGrant(h, 'UA');
    const alone = await activeGrant(h, 'UB');
    h.clock.advance(30 * MIN);
    const second = await activeGrant(h, 'UA');
    await h.core.lifecycle.expire([first, alone]);
    const expired = await Promise.all([first, alone].map(async (id) => (await h.core.grant(id))!));
    const covers = await h.core.lifecycle.coveringEach(expired, ONE_ACCESS);
    expect([...covers.by].map(([id, cover]) => [id, cover.id])).toEqual([[first, second]]);
    expect(covers.askAgain.size).toBe(0);
    for (const grant of expired)
      expect((await h.core.lifecycle.covering(grant, ONE_ACCESS))?.id).toBe(
        covers.by.get(grant.id)?.id,
      );
    expect(await h.core.lifecycle.coveringEach([], ONE_ACCESS)).toEqual({
      by: new Map(),
      askAgain: new Set(),
    });
  });

  it('does nothing, not even a transaction, for no grants', async () => {
    expect(await h.core.lifecycle.expire([])).toEqual([]);
    expect(await h.core.lifecycle.revoked([])).toEqual([]);
    expect(commits).toBe(0);
  });
});
