import { Core } from '../../src/core';
import { StaticDirectory } from '../../src/core/directory';
import { DigestScheduler } from '../../src/jobs/digest';
import { BASE_CONFIG, coreHarness, type CoreHarness } from '../support/core';
import type { SqlInspector } from '../support/sql-inspector';
import { STORE_KINDS } from '../support/stores';
import { WEEK_CONFIG } from './fixture-week';

const MONDAY_26 = Date.parse('2026-10-26T08:00:00Z'); // 09:00 CET
const KEY_19 = '2026-10-19T07:00:00.000Z';
const KEY_26 = '2026-10-26T08:00:00.000Z';

async function state(sql: SqlInspector) {
  return {
    digests: await sql.all<{ period_key: string }>(
      'SELECT period_key, period_start, period_end, channel FROM digests ORDER BY 1',
    ),
    outbox: await sql.all(
      "SELECT key, topic, payload FROM outbox WHERE topic = 'digest' ORDER BY id",
    ),
    audit: await sql.all(
      "SELECT actor, action, details FROM audit_events WHERE action = 'digest.queued' ORDER BY seq",
    ),
  };
}

describe.each(STORE_KINDS)('the digest scheduler (%s)', (kind) => {
  let h: CoreHarness;
  const schedulers: DigestScheduler[] = [];
  const scheduler = (core = h.core) => {
    const s = new DigestScheduler(core);
    schedulers.push(s);
    return s;
  };
  /** Another process (or replica) on the same database: its own connection and core, the same clock. */
  const anotherCore = () => h.another();

  beforeEach(async () => {
    h = await coreHarness(WEEK_CONFIG, undefined, kind);
    // Hallpass has run on this database since well before the weeks these tests look at.
    h.clock.set(Date.parse('2026-10-01T00:00:00Z'));
    await h.core.firstStartedAt();
  });
  afterEach(async () => {
    for (const s of schedulers.splice(0)) await s.stop();
    await h.close();
  });

  it('queues the period that ended while the bot was down, with its audit event', async () => {
    h.clock.set(Date.parse('2026-10-27T10:00:00Z')); // back on Tuesday
    await scheduler().start();
    const start = Date.parse(KEY_19);
    expect(await state(h.sql)).toEqual({
      digests: [
        { period_key: KEY_19, period_start: start, period_end: MONDAY_26, channel: 'CDIGEST' },
      ],
      outbox: [
        {
          key: `digest:${KEY_19}`,
          topic: 'digest',
          payload: JSON.stringify({
            topic: 'digest',
            channel: 'CDIGEST',
            periodStart: start,
            periodEnd: MONDAY_26,
          }),
        },
      ],
      audit: [
        {
          actor: 'hallpass',
          action: 'digest.queued',
          details: JSON.stringify({ channel: 'CDIGEST', periodEnd: MONDAY_26, periodStart: start }),
        },
      ],
    });
  });

  it('queues nothing more when restarted in the same week, by a new process', async () => {
    h.clock.set(MONDAY_26 + 60_000);
    await scheduler().start();
    h.clock.set(Date.parse('2026-10-30T12:00:00Z'));
    await scheduler(await anotherCore()).start();
    const after = await state(h.sql);
    expect(after.digests).toHaveLength(1);
    expect(after.outbox).toHaveLength(1);
    expect(after.audit).toHaveLength(1);
  });

  it('queues a period once when two schedulers on one database tick together', async () => {
    h.clock.set(MONDAY_26);
    const a = scheduler();
    const b = scheduler(await anotherCore());
    const tick = [a, b, a, b].map((s) => () => s.queue(MONDAY_26));
    // Replicas of PostgreSQL race for real. Two SQLite stores in one process cannot: the second's
    // BEGIN IMMEDIATE waits for the file lock on the very thread the first needs to commit, so
    // here they take turns, as two processes on the file do; ticks on one store still race.
    const results =
      kind === 'postgres'
        ? await Promise.all(tick.map((queue) => queue()))
        : [...(await Promise.all([tick[0]!(), tick[2]!()])), await tick[1]!(), await tick[3]!()];
    expect(results.filter(Boolean)).toHaveLength(1);
    const after = await state(h.sql);
    expect(after.digests).toHaveLength(1);
    expect(after.outbox).toHaveLength(1);
    expect(after.audit).toHaveLength(1);
  });

  it('queues each new week as its own period', async () => {
    h.clock.set(MONDAY_26);
    await scheduler().start();
    const next = Date.parse('2026-11-02T08:00:00Z');
    h.clock.set(next + 1000);
    await scheduler(await anotherCore()).start();
    expect((await state(h.sql)).digests.map((d) => d.period_key)).toEqual([KEY_19, KEY_26]);
  });

  it('runs on its cron schedule and stops cleanly', async () => {
    const everySecond = await coreHarness(
      WEEK_CONFIG.replace("schedule: '0 9 * * 1'", "schedule: '* * * * * *'"),
      undefined,
      kind,
    );
    try {
      const core = new Core({
        store: everySecond.store,
        clock: { now: () => Date.now() },
        config: everySecond.config,
        directory: new StaticDirectory(),
      });
      const s = scheduler(core);
      await s.start();
      const count = () => everySecond.sql.value<number>('SELECT count(*) FROM digests');
      const started = await count();
      const deadline = Date.now() + 5000;
      while ((await count()) === started && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(await count()).toBeGreaterThan(started);
      await s.stop();
    } finally {
      await everySecond.close();
    }
  });

  it('posts nothing for weeks before its first start, and the week it started in once it ends', async () => {
    const fresh = await coreHarness(WEEK_CONFIG, undefined, kind);
    try {
      fresh.clock.set(Date.parse('2026-10-27T10:00:00Z')); // a first start, on a Tuesday
      await scheduler(fresh.core).start();
      expect((await state(fresh.sql)).digests).toEqual([]);
      fresh.clock.set(Date.parse('2026-11-02T08:00:01Z')); // the Monday after
      await scheduler(await fresh.another()).start();
      expect((await state(fresh.sql)).digests.map((d) => d.period_key)).toEqual([KEY_26]);
    } finally {
      await fresh.close();
    }
  });

  it('does nothing without a digest section', async () => {
    const plain = await coreHarness(BASE_CONFIG, undefined, kind);
    try {
      const s = new DigestScheduler(plain.core);
      schedulers.push(s);
      await s.start();
      expect(await s.queue(MONDAY_26)).toBe(false);
      expect((await state(plain.sql)).digests).toEqual([]);
    } finally {
      await plain.close();
    }
  });
});
